/* clock.c: Unix times, for the timestamps that reports give, and the
 * monotonic clock for threads that wait. */
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t dynhcp_wall_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The number skip_fields space-separated fields after key in path's first
 * 4 KiB (key ")": after the last parenthesis); 0, or -1 when none. */
static int read_proc_number(const char *path, const char *key, size_t skip_fields,
                            unsigned long long *out)
{
    char text[4096];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = key[0] == ')' ? strrchr(text, ')') : strstr(text, key);
    if (p == NULL) {
        return -1;
    }
    p += strlen(key);
    /* Whole fields separated by single spaces, as the kernel writes them. */
    for (size_t i = 0; i < skip_fields; i++) {
        p = strchr(p + 1, ' ');
        if (p == NULL) {
            return -1;
        }
    }
    char *end;
    *out = strtoull(p, &end, 10);
    return end != p ? 0 : -1;
}

uint64_t dynhcp_process_start_wall_ns(uint64_t fallback)
{
    /* Field 22 of /proc/self/stat, the start in clock ticks after boot, is
     * the 20th after the command's closing parenthesis (the command may
     * hold spaces and parentheses); /proc/stat's btime is the boot's Unix
     * time in seconds. */
    unsigned long long ticks, boot;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0 || read_proc_number("/proc/self/stat", ")", 19, &ticks) != 0 ||
        read_proc_number("/proc/stat", "\nbtime ", 0, &boot) != 0 || boot == 0) {
        return fallback;
    }
    return boot * 1000000000ull + ticks / (unsigned long long)hz * 1000000000ull +
           ticks % (unsigned long long)hz * 1000000000ull / (unsigned long long)hz;
}

int dynhcp_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0) {
            rc = pthread_cond_init(cond, &attr);
        }
        pthread_condattr_destroy(&attr);
    }
    return rc;
}
