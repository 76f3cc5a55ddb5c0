/* sched_log_limit.c: the rate limit of the per-endpoint log lines (see
 * sched_log_limit.h). */
#include "sched_log_limit.h"

#include <string.h>

int dynhcp_log_limit_init(dynhcp_log_limit *l)
{
    memset(l, 0, sizeof(*l));
    atomic_init(&l->burst, 0);
    atomic_init(&l->due_ns, UINT64_MAX);
    return pthread_mutex_init(&l->lock, NULL);
}

void dynhcp_log_limit_destroy(dynhcp_log_limit *l)
{
    pthread_mutex_destroy(&l->lock);
}

/* Ends the running period, its summary in *held when it held lines back;
 * with the limiter's lock held. */
static void end_period_locked(dynhcp_log_limit *l, uint64_t now, dynhcp_log_held *held)
{
    memset(held, 0, sizeof(*held));
    if (l->running && l->held > 0) {
        held->held = l->held;
        /* Clocks read on other threads may come a little out of order. */
        held->elapsed_ns = now > l->start_ns ? now - l->start_ns : 0;
        held->burst = atomic_load_explicit(&l->burst, memory_order_relaxed);
        held->period_ns = l->period_ns;
    }
    l->running = 0;
    l->written = 0;
    l->held = 0;
    atomic_store_explicit(&l->due_ns, UINT64_MAX, memory_order_relaxed);
}

/* Whether the running period is over by now. */
static int over_locked(const dynhcp_log_limit *l, uint64_t now)
{
    return now >= l->start_ns && now - l->start_ns >= l->period_ns;
}

int dynhcp_log_limit_admit(dynhcp_log_limit *l, uint64_t now, dynhcp_log_held *held)
{
    memset(held, 0, sizeof(*held));
    pthread_mutex_lock(&l->lock);
    unsigned burst = atomic_load_explicit(&l->burst, memory_order_relaxed);
    int admitted = 1;
    if (burst > 0) {
        if (!l->running || over_locked(l, now)) {
            end_period_locked(l, now, held);
            l->running = 1;
            l->start_ns = now;
        }
        if (l->written < burst) {
            l->written++;
        } else {
            admitted = 0;
            if (l->held++ == 0) {
                /* Saturated at the end of time, which never comes. */
                uint64_t end = l->period_ns > UINT64_MAX - l->start_ns ? UINT64_MAX
                                                                      : l->start_ns + l->period_ns;
                atomic_store_explicit(&l->due_ns, end, memory_order_relaxed);
            }
        }
    }
    pthread_mutex_unlock(&l->lock);
    return admitted;
}

void dynhcp_log_limit_expire(dynhcp_log_limit *l, uint64_t now, dynhcp_log_held *held)
{
    memset(held, 0, sizeof(*held));
    if (now < atomic_load_explicit(&l->due_ns, memory_order_relaxed)) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    /* Another thread may have ended it meanwhile. */
    if (l->held > 0 && over_locked(l, now)) {
        end_period_locked(l, now, held);
    }
    pthread_mutex_unlock(&l->lock);
}

void dynhcp_log_limit_set(dynhcp_log_limit *l, unsigned burst, uint64_t period_ns, uint64_t now,
                          dynhcp_log_held *held)
{
    pthread_mutex_lock(&l->lock);
    end_period_locked(l, now, held);
    atomic_store_explicit(&l->burst, burst, memory_order_relaxed);
    l->period_ns = period_ns;
    pthread_mutex_unlock(&l->lock);
}
