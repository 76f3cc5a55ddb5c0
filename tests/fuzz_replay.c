/* fuzz_replay.c: runs a libFuzzer harness over every file of a corpus folder
 * without libFuzzer, so that ctest (plain or under the sanitizers) replays
 * the seeds. Each input runs in a child process, so that one that crashes
 * (a regression input whose defect is not fixed yet) is named and the
 * others still run. Usage: fuzz_replay_NAME DIR. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_check.h"

/* Reads the whole file into a buffer of exactly its size (no NUL after it,
 * as libFuzzer gives it), or returns -1. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            len = (size_t)end;
            buf = malloc(len > 0 ? len : 1);
            if (buf != NULL && fread(buf, 1, len, f) == len) {
                rc = 0;
            }
        }
    }
    fclose(f);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *data = buf;
    *size = len;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        perror(argv[1]);
        return 1;
    }
    size_t replayed = 0;
    int failed = 0;
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        uint8_t *data = NULL;
        size_t size = 0;
        if (read_file(path, &data, &size) != 0) {
            fprintf(stderr, "%s: cannot read\n", path);
            failed = 1;
            continue;
        }
        /* Named before the run so that a crash report says which seed. */
        fprintf(stderr, "replaying %s (%zu bytes)\n", path, size);
        fflush(NULL);
        pid_t child = fork();
        if (child == 0) {
            LLVMFuzzerTestOneInput(data, size);
            exit(0); /* not _exit: LeakSanitizer checks at exit */
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "FAILED: %s (%s %d)\n", path,
                    child < 0 ? "fork failed" : WIFSIGNALED(status) ? "signal" : "exit status",
                    child < 0 ? 0 : WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            failed = 1;
        }
        free(data);
        replayed++;
    }
    closedir(dir);
    printf("%zu inputs replayed\n", replayed);
    /* An empty folder means a wrong path, not a passing corpus. */
    return failed || replayed == 0;
}
