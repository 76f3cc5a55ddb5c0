/* file_read.c: bounded, checked reading of payload and config files. */
#include "alloc.h"
#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* strerror is not thread-safe; the library runs on many threads. */
static void set_errno_error(dynhcp_parse_error *err, const char *what, int code)
{
    char why[128];
    dynhcp_pos none = {0, 0};
    if (strerror_r(code, why, sizeof(why)) != 0) {
        snprintf(why, sizeof(why), "error %d", code);
    }
    dynhcp_parse_error_set(err, none, "%s: %s", what, why);
}

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISFIFO(mode)) {
        return "a FIFO";
    }
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
        return "a device";
    }
    return "a socket or other special file";
}

/* Reads fd to its end into a new buffer with room for a final NUL. The file
 * may grow after fstat: at most DYNHCP_FILE_MAX_BYTES + 1 bytes are read, and
 * reading that many means too large. */
static char *read_all(int fd, size_t size_hint, size_t *len, dynhcp_parse_error *err)
{
    dynhcp_pos none = {0, 0};
    size_t capacity = size_hint + 1; /* one byte more, to meet the end (or growth) */
    size_t total = 0;
    char *buf = dynhcp_malloc(capacity + 1);
    while (buf != NULL) {
        if (total == capacity) {
            if (capacity > DYNHCP_FILE_MAX_BYTES) {
                dynhcp_parse_error_set(err, none,
                                       "larger than the 1 MiB limit (it grew while being read)");
                dynhcp_free(buf);
                return NULL;
            }
            capacity =
                capacity * 2 > DYNHCP_FILE_MAX_BYTES ? DYNHCP_FILE_MAX_BYTES + 1 : capacity * 2;
            char *bigger = dynhcp_realloc(buf, capacity + 1);
            if (bigger == NULL) {
                break;
            }
            buf = bigger;
        }
        ssize_t n = read(fd, buf + total, capacity - total);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            set_errno_error(err, "cannot read", errno);
            dynhcp_free(buf);
            return NULL;
        }
        /* A regular file gives less than asked only at its end: stopping
         * there saves the read() that would return 0. */
        if (n == 0 || (size_t)n < capacity - total) {
            *len = total + (size_t)n;
            return buf;
        }
        total += (size_t)n;
    }
    dynhcp_free(buf);
    dynhcp_parse_error_set_nomem(err);
    return NULL;
}

/* Text checks: UTF-8 up to the first NUL byte, then no NUL byte. Positions
 * are counted from text, which starts after any byte order mark. */
static int check_text(const char *text, size_t len, dynhcp_parse_error *err)
{
    const char *nul = memchr(text, '\0', len);
    size_t checked = nul != NULL ? (size_t)(nul - text) : len;
    if (dynhcp_utf8_check(text, checked, err) != 0) {
        return -1;
    }
    if (nul != NULL) {
        dynhcp_parse_error_set(err, dynhcp_pos_at(text, checked), "NUL byte in a text file");
        return -1;
    }
    return 0;
}

char *dynhcp_read_file_raw(const char *path, size_t *len, dynhcp_parse_error *err)
{
    dynhcp_pos none = {0, 0};
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOCTTY: a
     * terminal must not become the process's controlling terminal. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        set_errno_error(err, "cannot open", errno);
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        set_errno_error(err, "cannot read", errno);
    } else if (!S_ISREG(st.st_mode)) {
        dynhcp_parse_error_set(err, none, "not a regular file (%s)", file_kind(st.st_mode));
    } else if (st.st_size > (off_t)DYNHCP_FILE_MAX_BYTES) {
        dynhcp_parse_error_set(err, none, "larger than the 1 MiB limit (%lld bytes)",
                               (long long)st.st_size);
    } else {
        buf = read_all(fd, (size_t)st.st_size, len, err);
    }
    close(fd);
    if (buf == NULL) {
        return NULL;
    }
    size_t bom = dynhcp_bom_length(buf, *len);
    if (bom > 0) {
        *len -= bom;
        memmove(buf, buf + bom, *len);
    }
    buf[*len] = '\0';
    return buf;
}

char *dynhcp_read_file(const char *path, size_t *len, dynhcp_parse_error *err)
{
    char *buf = dynhcp_read_file_raw(path, len, err);
    if (buf != NULL && check_text(buf, *len, err) != 0) {
        dynhcp_free(buf);
        return NULL;
    }
    return buf;
}
