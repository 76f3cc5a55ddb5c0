/* sched_log_limit.h: the rate limit of the per-endpoint log lines
 * (dynhc_sched_set_log_limit()): at most burst lines a period, the others
 * counted and not written, and their count written as one line once the
 * period is over. A period begins with the first line after the last one
 * ended. Internal; it decides, the scheduler writes (sched.c).
 *
 * Announcements run outside the scheduler's lock, on any thread: the
 * limiter has a lock of its own, taken only while the limit is on, and
 * never held while a line is written. */
#ifndef DYNHCP_SCHED_LOG_LIMIT_H
#define DYNHCP_SCHED_LOG_LIMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct dynhcp_log_limit {
    pthread_mutex_t lock; /* guards what follows; burst and due_ns are also read without it */
    atomic_uint burst;    /* lines a period; 0: no limit */
    uint64_t period_ns;
    int running;          /* a period is running, since start_ns */
    uint64_t start_ns;
    unsigned written;     /* lines written in it */
    uint64_t held;        /* lines held back in it */
    /* When the running period ends, once it holds a line back; UINT64_MAX
     * while it holds none: the tick's look is this one load. */
    _Atomic uint64_t due_ns;
} dynhcp_log_limit;

/* A period that held lines back, to sum up: held 0 when there is none. */
typedef struct dynhcp_log_held {
    uint64_t held;       /* lines held back */
    uint64_t elapsed_ns; /* from the period's start to its summary */
    unsigned burst;      /* the limit they were held back under */
    uint64_t period_ns;
} dynhcp_log_held;

/* No limit. 0, or an error number (pthread_mutex_init). */
int dynhcp_log_limit_init(dynhcp_log_limit *l);
void dynhcp_log_limit_destroy(dynhcp_log_limit *l);

/* Whether the limit is on: when it is not, a line needs no clock and no lock. */
static inline int dynhcp_log_limit_on(const dynhcp_log_limit *l)
{
    return atomic_load_explicit(&l->burst, memory_order_relaxed) != 0;
}

/* Whether a line at now may be written. A period that ended by now ends
 * here (a new one begins with this line), its summary in *held, to be
 * written before the line. Any thread. */
int dynhcp_log_limit_admit(dynhcp_log_limit *l, uint64_t now, dynhcp_log_held *held);

/* Ends the running period when it is over by now and held lines back, its
 * summary in *held (else held->held is 0). One atomic load unless it does:
 * for every tick. Any thread. */
void dynhcp_log_limit_expire(dynhcp_log_limit *l, uint64_t now, dynhcp_log_held *held);

/* Sets the limit (burst 0: none) and ends the running period, its summary
 * in *held. Any thread. */
void dynhcp_log_limit_set(dynhcp_log_limit *l, unsigned burst, uint64_t period_ns, uint64_t now,
                          dynhcp_log_held *held);

#endif
