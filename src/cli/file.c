/* file.c: the files the tool reads itself (standard input for --payload @-,
 * the header and token files of probe and watch), with the care the
 * library's readers take: a size limit, regular files only, never blocking
 * on a FIFO. The library keeps its reader internal, so the tool has this one. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_read_fd(int fd, size_t max, char **text, size_t *len)
{
    size_t capacity = 4096, used = 0;
    char *buf = malloc(capacity);
    while (buf != NULL) {
        if (used == capacity - 1) {
            if (capacity > max) {
                free(buf);
                return EFBIG;
            }
            char *grown = realloc(buf, capacity * 2);
            if (grown == NULL) {
                break;
            }
            buf = grown;
            capacity *= 2;
        }
        ssize_t n = read(fd, buf + used, capacity - 1 - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int code = errno;
            free(buf);
            return code;
        }
        if (n == 0) {
            if (used > max) {
                free(buf);
                return EFBIG;
            }
            buf[used] = '\0';
            *text = buf;
            *len = used;
            return 0;
        }
        used += (size_t)n;
    }
    free(buf);
    return ENOMEM;
}

int cli_open_file(const char *option, const char *path)
{
    char quoted[160];
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cli_error("%s %s: cannot open: %s", option, cli_quote(quoted, sizeof(quoted), path),
                  strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        cli_error("%s %s: not a regular file (%s)", option,
                  cli_quote(quoted, sizeof(quoted), path),
                  S_ISDIR(st.st_mode) ? "a directory" : "a FIFO, device or socket");
    } else {
        return fd;
    }
    if (fd >= 0) {
        close(fd);
    }
    return -1;
}

int cli_read_file(const char *option, const char *path, size_t max, char **text, size_t *len)
{
    char quoted[160];
    int fd = cli_open_file(option, path);
    if (fd < 0) {
        return CLI_EXIT_ERROR;
    }
    int code = cli_read_fd(fd, max, text, len);
    close(fd);
    if (code == EFBIG) {
        cli_error("%s %s: larger than the %zu KiB limit", option,
                  cli_quote(quoted, sizeof(quoted), path), max / 1024);
    } else if (code == ENOMEM) {
        cli_error("out of memory");
    } else if (code != 0) {
        cli_error("%s %s: cannot read: %s", option, cli_quote(quoted, sizeof(quoted), path),
                  strerror(code));
    }
    return code == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}
