/* sched_thread.c: the optional thread runner. It is an ordinary user of the
 * public next_deadline/tick pair, the way a poll or libuv loop would be (see
 * examples/), plus a condition variable to sleep on. */
#include "sched_internal.h"
#include "status.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

#define NS_PER_SEC 1000000000ull

/* The longest single sleep. A deadline further away is waited for in
 * several steps, so that adding it to the current time cannot overflow. */
#define MAX_WAIT_NS (3600ull * NS_PER_SEC)

/* The runner's wakeup function: the core calls it, without the lock, when
 * the next deadline may have moved earlier. The flag makes the wakeup stick
 * even when it arrives before the runner waits, and lets the runner tell it
 * from a spurious return of the wait. */
static void runner_wakeup(dynhc_sched *s, void *user_data)
{
    (void)user_data;
    pthread_mutex_lock(&s->lock);
    /* A wakeup racing with stop_thread may come after the runner is gone
     * and its condition variable destroyed. */
    if (s->thread_running) {
        s->thread_woken = 1;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
}

/* The absolute CLOCK_MONOTONIC time wait_ns from now. The wait is measured
 * on the real clock even when the scheduler runs on a clock of its own:
 * only the distance to the deadline is taken from the scheduler's clock. */
static struct timespec wait_until(uint64_t wait_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t nsec = (uint64_t)ts.tv_nsec + wait_ns % NS_PER_SEC;
    ts.tv_sec += (time_t)(wait_ns / NS_PER_SEC + nsec / NS_PER_SEC);
    ts.tv_nsec = (long)(nsec % NS_PER_SEC);
    return ts;
}

static void *runner_main(void *arg)
{
    dynhc_sched *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->thread_stop) {
        /* Cleared before the deadline is read: any change made after this
         * point comes with a wakeup that sets it again. */
        s->thread_woken = 0;
        uint64_t deadline = dynhcp_sched_next_deadline_locked(s);
        if (deadline == DYNHC_NO_DEADLINE) {
            while (!s->thread_woken && !s->thread_stop) {
                pthread_cond_wait(&s->wake, &s->lock);
            }
            continue;
        }
        /* The clock is the caller's function: read without the lock. A
         * wakeup meanwhile sets thread_woken, seen below before waiting. */
        pthread_mutex_unlock(&s->lock);
        uint64_t now = dynhcp_sched_now(s);
        if (deadline <= now) {
            dynhc_sched_tick(s, now);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        uint64_t wait_ns = deadline - now;
        struct timespec until = wait_until(wait_ns < MAX_WAIT_NS ? wait_ns : MAX_WAIT_NS);
        while (!s->thread_woken && !s->thread_stop) {
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT) {
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int dynhc_sched_start_thread(dynhc_sched *s, int *sys_errno)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->lock);
    if (s->thread_running) {
        pthread_mutex_unlock(&s->lock);
        return DYNHC_ERR_BUSY;
    }

    /* Timed waits on CLOCK_MONOTONIC: a check is not moved by the wall clock. */
    int rc = dynhcp_cond_init_monotonic(&s->wake);
    if (rc != 0) {
        pthread_mutex_unlock(&s->lock);
        return dynhcp_system_error(rc, sys_errno);
    }

    s->wakeup = runner_wakeup;
    s->wakeup_data = NULL;
    s->thread_stop = 0;
    s->thread_woken = 0;
    s->thread_running = 1;
    s->stop_runner = dynhc_sched_stop_thread;

    /* The runner blocks every signal (it inherits the mask it is created
     * with): process signals belong to the host's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->thread, NULL, runner_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        s->thread_running = 0;
        s->stop_runner = NULL;
        s->wakeup = NULL;
        pthread_cond_destroy(&s->wake);
        pthread_mutex_unlock(&s->lock);
        return dynhcp_system_error(rc, sys_errno);
    }
    pthread_mutex_unlock(&s->lock);
    return DYNHC_OK;
}

int dynhc_sched_stop_thread(dynhc_sched *s)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->lock);
    if (!s->thread_running) {
        pthread_mutex_unlock(&s->lock);
        return DYNHC_OK;
    }
    /* From one of the runner's callbacks the join would wait for itself. */
    if (pthread_equal(pthread_self(), s->thread)) {
        pthread_mutex_unlock(&s->lock);
        return DYNHC_ERR_BUSY;
    }
    pthread_t thread = s->thread;
    s->thread_stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);

    pthread_join(thread, NULL);

    pthread_mutex_lock(&s->lock);
    s->wakeup = NULL;
    s->wakeup_data = NULL;
    s->thread_running = 0;
    s->stop_runner = NULL;
    s->thread_stop = 0;
    pthread_cond_destroy(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return DYNHC_OK;
}
