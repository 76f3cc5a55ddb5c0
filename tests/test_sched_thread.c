/* test_sched_thread.c: the thread runner (dynhc_sched_start_thread) on a
 * real clock. Unlike the core's tests these cannot use a fake clock alone:
 * they check that a real thread sleeps, wakes and stops when it should. Every
 * wait is bounded, so a broken runner fails a test instead of hanging it, and
 * the whole file runs in well under a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sys/resource.h>

#include "dynhc/sched.h"
#include "sched_internal.h"
#include "support.h"

#define MS 1000000ull
/* How long a test waits for something that should take milliseconds. */
#define PATIENCE_NS (2000 * MS)

/* What the callbacks saw. They run on the runner's thread, where cmocka's
 * asserts cannot be used, so they record and the test asserts. */
typedef struct probe {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned sent;
    uint64_t first_sent_ns;
    uint64_t last_sent_ns;
    unsigned bad_completions; /* dynhc_sched_complete() refused one */
    int stop_rc;              /* dynhc_sched_stop_thread() from a callback */
    /* For the completer thread: checks handed over, and completed. */
    uint64_t queue[8];
    unsigned queued;
    unsigned completed;
    int quit;
    unsigned wakeups;
} probe;

static void probe_init(probe *p)
{
    *p = (probe){.stop_rc = 1};
    pthread_condattr_t attr;
    assert_int_equal(pthread_condattr_init(&attr), 0);
    assert_int_equal(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
    assert_int_equal(pthread_cond_init(&p->changed, &attr), 0);
    pthread_condattr_destroy(&attr);
    assert_int_equal(pthread_mutex_init(&p->lock, NULL), 0);
}

static void probe_destroy(probe *p)
{
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
}

/* Waits, with the lock held, until *counter reaches n or patience runs out;
 * returns the counter. */
static unsigned probe_wait_locked(probe *p, const unsigned *counter, unsigned n)
{
    uint64_t until_ns = dynhc_now_ns() + PATIENCE_NS;
    struct timespec until = {.tv_sec = (time_t)(until_ns / 1000000000u),
                             .tv_nsec = (long)(until_ns % 1000000000u)};
    while (*counter < n) {
        if (pthread_cond_timedwait(&p->changed, &p->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    return *counter;
}

static unsigned wait_sent(probe *p, unsigned n)
{
    pthread_mutex_lock(&p->lock);
    unsigned sent = probe_wait_locked(p, &p->sent, n);
    pthread_mutex_unlock(&p->lock);
    return sent;
}

static void note_sent(probe *p, const dynhc_check *check)
{
    pthread_mutex_lock(&p->lock);
    if (p->sent == 0) {
        p->first_sent_ns = check->sent_ns;
    }
    p->last_sent_ns = check->sent_ns;
    p->sent++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* A server that answers at once, from inside the send callback. */
static int send_and_complete(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                             void *user_data)
{
    (void)ep;
    probe *p = user_data;
    int rc = dynhc_sched_complete(s, check->id, DYNHC_CHECK_SUCCESS, NULL);
    pthread_mutex_lock(&p->lock);
    p->bad_completions += rc != DYNHC_OK;
    pthread_mutex_unlock(&p->lock);
    note_sent(p, check);
    return 0;
}

/* A server that answers on another thread (completer_main). */
static int send_to_completer(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                             void *user_data)
{
    (void)s;
    (void)ep;
    probe *p = user_data;
    pthread_mutex_lock(&p->lock);
    if (p->queued < sizeof(p->queue) / sizeof(p->queue[0])) {
        p->queue[p->queued++] = check->id;
    }
    pthread_mutex_unlock(&p->lock);
    note_sent(p, check);
    return 0;
}

/* A callback that tries to stop its own runner. */
static int send_and_stop(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                         void *user_data)
{
    probe *p = user_data;
    int rc = dynhc_sched_stop_thread(s);
    pthread_mutex_lock(&p->lock);
    p->stop_rc = rc;
    pthread_mutex_unlock(&p->lock);
    return send_and_complete(s, ep, check, user_data);
}

static void count_wakeup(dynhc_sched *s, void *user_data)
{
    (void)s;
    probe *p = user_data;
    pthread_mutex_lock(&p->lock);
    p->wakeups++;
    pthread_mutex_unlock(&p->lock);
}

typedef struct completer {
    dynhc_sched *sched;
    probe *probe;
} completer;

static void *completer_main(void *arg)
{
    const completer *c = arg;
    probe *p = c->probe;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->queued == 0 && !p->quit) {
            pthread_cond_wait(&p->changed, &p->lock);
        }
        if (p->queued == 0) {
            break;
        }
        uint64_t id = p->queue[--p->queued];
        pthread_mutex_unlock(&p->lock);
        int rc = dynhc_sched_complete(c->sched, id, DYNHC_CHECK_SUCCESS, NULL);
        pthread_mutex_lock(&p->lock);
        p->bad_completions += rc != DYNHC_OK;
        p->completed++;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* A scheduler whose first checks go out at once. */
static dynhc_sched *periodic_sched(uint64_t interval_ns)
{
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    assert_int_equal(dynhc_sched_set_mode(s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(s, interval_ns), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(s, 0), DYNHC_OK);
    /* Far beyond every wait here: a check that waits for its timeout shows
     * up as a test that runs out of patience. */
    assert_int_equal(dynhc_sched_set_timeout_ns(s, 5000 * MS), DYNHC_OK);
    return s;
}

static dynhc_endpoint *add(dynhc_sched *s, const char *name, dynhc_send_fn send, probe *p)
{
    dynhc_result *res = builtin_payload();
    dynhc_endpoint *ep = NULL;
    assert_int_equal(sched_add(s, name, res, send, p, NULL, &ep), DYNHC_OK);
    dynhc_result_free(res);
    return ep;
}

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u +
           (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The real clock, counting how often the runner reads it: every turn of
 * the runner's loop reads the clock once, so the count shows polling that
 * CPU time alone would miss (a wait that returns at once still sleeps for
 * the kernel's timer slack, some 50 us). */
static atomic_uint clock_reads;

static uint64_t counting_clock(void *user_data)
{
    (void)user_data;
    atomic_fetch_add(&clock_reads, 1);
    return dynhc_now_ns();
}

typedef struct idle_cost {
    uint64_t cpu_ns;
    unsigned clock_reads;
} idle_cost;

/* What the process spends in 100 ms while the test's own thread sleeps:
 * the runner's share, since nothing else runs. */
static idle_cost idle_for_100_ms(void)
{
    unsigned reads = atomic_load(&clock_reads);
    uint64_t cpu = cpu_ns();
    sleep_ms(100);
    return (idle_cost){cpu_ns() - cpu, atomic_load(&clock_reads) - reads};
}

static void start_and_stop_refuse_null(void **state)
{
    (void)state;
    assert_int_equal(dynhc_sched_start_thread(NULL, NULL), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_stop_thread(NULL), DYNHC_ERR_INVALID_ARG);
}

static void stop_without_a_runner_is_ok(void **state)
{
    (void)state;
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    dynhc_sched_free(s);
}

static void start_twice_is_busy_and_a_stopped_runner_starts_again(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(20 * MS);
    add(s, "generate", send_and_complete, &p);

    int sys_errno = -1; /* left alone but for DYNHC_ERR_SYSTEM */
    assert_int_equal(dynhc_sched_start_thread(s, &sys_errno), DYNHC_OK);
    assert_int_equal(dynhc_sched_start_thread(s, &sys_errno), DYNHC_ERR_BUSY);
    assert_int_equal(sys_errno, -1);
    assert_true(wait_sent(&p, 1) >= 1);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);

    pthread_mutex_lock(&p.lock);
    unsigned before = p.sent;
    pthread_mutex_unlock(&p.lock);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, before + 1) > before);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);

    dynhc_sched_free(s);
    assert_int_equal(p.bad_completions, 0);
    probe_destroy(&p);
}

static void runner_sends_periodic_checks_on_time_and_stops_promptly(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(20 * MS);
    dynhc_endpoint *ep = add(s, "generate", send_and_complete, &p);

    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 5) >= 5);
    uint64_t t0 = dynhc_now_ns();
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_true(dynhc_now_ns() - t0 < 250 * MS);

    pthread_mutex_lock(&p.lock);
    unsigned sent = p.sent;
    /* Four intervals lie between the first check and the fifth; allow for
     * a late first one, but not for checks fired without waiting. */
    assert_true(p.last_sent_ns - p.first_sent_ns >= 40 * MS);
    pthread_mutex_unlock(&p.lock);
    assert_int_equal(p.bad_completions, 0);
    assert_true(dynhc_endpoint_is_ready(ep));
    assert_true(dynhc_sched_is_ready(s));

    /* Stopped means stopped: nothing more is sent. */
    sleep_ms(50);
    pthread_mutex_lock(&p.lock);
    assert_int_equal(p.sent, sent);
    pthread_mutex_unlock(&p.lock);

    dynhc_sched_free(s);
    probe_destroy(&p);
}

static void stop_wakes_a_runner_sleeping_until_a_distant_deadline(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(10000 * MS);
    add(s, "generate", send_and_complete, &p);

    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 1) >= 1);
    sleep_ms(10); /* into its ten-second sleep */
    uint64_t t0 = dynhc_now_ns();
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_true(dynhc_now_ns() - t0 < 250 * MS);

    dynhc_sched_free(s);
    probe_destroy(&p);
}

static void adding_an_endpoint_wakes_a_runner_sleeping_without_deadline(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(10000 * MS);
    assert_int_equal(dynhc_sched_next_deadline(s), DYNHC_NO_DEADLINE);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    sleep_ms(10); /* into its sleep without a deadline */

    uint64_t t0 = dynhc_now_ns();
    add(s, "generate", send_and_complete, &p);
    assert_true(wait_sent(&p, 1) >= 1);
    pthread_mutex_lock(&p.lock);
    assert_true(p.first_sent_ns - t0 < 250 * MS);
    pthread_mutex_unlock(&p.lock);

    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    dynhc_sched_free(s);
    probe_destroy(&p);
}

static void completion_from_another_thread_wakes_the_runner(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    /* Without the wakeup the runner would sleep until the in-flight check's
     * five-second timeout instead of sending the next check 20 ms later. */
    dynhc_sched *s = periodic_sched(20 * MS);
    completer c = {.sched = s, .probe = &p};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, completer_main, &c), 0);
    dynhc_endpoint *ep = add(s, "generate", send_to_completer, &p);

    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    pthread_mutex_lock(&p.lock);
    unsigned completed = probe_wait_locked(&p, &p.completed, 3);
    pthread_mutex_unlock(&p.lock);
    assert_true(completed >= 3);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);

    pthread_mutex_lock(&p.lock);
    p.quit = 1;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    assert_int_equal(pthread_join(thread, NULL), 0);

    assert_int_equal(p.bad_completions, 0);
    assert_true(dynhc_endpoint_is_ready(ep));
    dynhc_sched_free(s);
    probe_destroy(&p);
}

/* A server that refuses every check: the endpoint stays not ready. */
static int send_and_fail(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                         void *user_data)
{
    (void)s;
    (void)ep;
    note_sent(user_data, check);
    return -1;
}

typedef struct adder {
    probe *probe; /* for the endpoint it adds */
    int added;
} adder;

/* A transition callback that registers an endpoint when "a" turns ready. */
static void add_on_ready(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                         void *user_data)
{
    adder *a = user_data;
    if (ep != NULL && ready && strcmp(name, "a") == 0 && !a->added) {
        a->added = 1;
        add(s, "b", send_and_complete, a->probe);
    }
}

static void an_endpoint_added_from_a_callback_on_a_traffic_thread_wakes_the_runner(
    void **state)
{
    (void)state;
    probe pa, pb;
    probe_init(&pa);
    probe_init(&pb);
    dynhc_sched *s = periodic_sched(10000 * MS);
    adder a = {.probe = &pb};
    assert_int_equal(dynhc_sched_set_transition_callback(s, add_on_ready, &a), DYNHC_OK);
    dynhc_endpoint *ep = add(s, "a", send_and_fail, &pa);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&pa, 1) >= 1);
    sleep_ms(10); /* the runner sleeps until a's next check, ten seconds away */

    /* Traffic on this thread, which is not ticking: "a" turns ready, and the
     * transition callback, on this thread, adds "b", due at once. */
    uint64_t t0 = dynhc_now_ns();
    dynhc_endpoint_record_activity(ep, 1);
    assert_int_equal(a.added, 1);
    assert_true(wait_sent(&pb, 1) >= 1);
    pthread_mutex_lock(&pb.lock);
    assert_true(pb.first_sent_ns - t0 < 250 * MS);
    pthread_mutex_unlock(&pb.lock);

    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    dynhc_sched_free(s);
    probe_destroy(&pa);
    probe_destroy(&pb);
}

static void stop_from_a_runner_callback_is_busy(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(10000 * MS);
    add(s, "generate", send_and_stop, &p);

    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 1) >= 1);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_int_equal(p.stop_rc, DYNHC_ERR_BUSY);

    dynhc_sched_free(s);
    probe_destroy(&p);
}

static uint64_t clock_far_ahead(void *user_data)
{
    (void)user_data;
    return dynhc_now_ns() + 1000000 * 1000000000ull; /* eleven days ahead */
}

static void runner_follows_the_schedulers_own_clock(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    /* A runner that took the deadline for a CLOCK_MONOTONIC time, or ticked
     * with CLOCK_MONOTONIC, would wait eleven days for the second check. */
    dynhc_sched *s = periodic_sched(20 * MS);
    assert_int_equal(dynhc_sched_set_clock(s, clock_far_ahead, NULL), DYNHC_OK);
    add(s, "generate", send_and_complete, &p);

    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 3) >= 3);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    assert_true(p.first_sent_ns >= 1000000 * 1000000000ull);

    dynhc_sched_free(s);
    probe_destroy(&p);
}

/* The real clock, noting calls made while the scheduler's lock is held.
 * Only the runner uses the scheduler meanwhile, so a lock that trylock
 * finds taken is the runner's own. */
static dynhc_sched *watched;
static atomic_uint clock_calls_under_lock;

static uint64_t lock_checking_clock(void *user_data)
{
    (void)user_data;
    atomic_fetch_add(&clock_reads, 1);
    if (watched != NULL) {
        if (pthread_mutex_trylock(&watched->lock) != 0) {
            atomic_fetch_add(&clock_calls_under_lock, 1);
        } else {
            pthread_mutex_unlock(&watched->lock);
        }
    }
    return dynhc_now_ns();
}

static void the_runner_never_calls_the_clock_with_the_lock_held(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(5 * MS);
    assert_int_equal(dynhc_sched_set_clock(s, lock_checking_clock, NULL), DYNHC_OK);
    add(s, "generate", send_and_complete, &p);
    atomic_store(&clock_calls_under_lock, 0);
    unsigned reads = atomic_load(&clock_reads);
    watched = s;
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 4) >= 4);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    watched = NULL;
    assert_true(atomic_load(&clock_reads) - reads >= 4);
    assert_int_equal(atomic_load(&clock_calls_under_lock), 0);
    dynhc_sched_free(s);
    probe_destroy(&p);
}

static void runner_without_endpoints_sleeps(void **state)
{
    (void)state;
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    assert_int_equal(dynhc_sched_set_clock(s, counting_clock, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    sleep_ms(10);
    idle_cost cost = idle_for_100_ms();
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    dynhc_sched_free(s);
    assert_true(cost.cpu_ns < 20 * MS);
    assert_int_equal(cost.clock_reads, 0);
}

static void runner_waiting_for_a_distant_deadline_sleeps(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(10000 * MS);
    assert_int_equal(dynhc_sched_set_clock(s, counting_clock, NULL), DYNHC_OK);
    add(s, "generate", send_and_complete, &p);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 1) >= 1);
    sleep_ms(10);
    idle_cost cost = idle_for_100_ms();
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    dynhc_sched_free(s);
    assert_true(cost.cpu_ns < 20 * MS);
    assert_int_equal(cost.clock_reads, 0);
    assert_int_equal(p.sent, 1);
    probe_destroy(&p);
}

static void runner_replaces_a_wakeup_function_set_before(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(10000 * MS);
    assert_int_equal(dynhc_sched_set_wakeup(s, count_wakeup, &p), DYNHC_OK);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    add(s, "generate", send_and_complete, &p);
    assert_true(wait_sent(&p, 1) >= 1);
    assert_int_equal(dynhc_sched_stop_thread(s), DYNHC_OK);
    /* Stopped, the runner leaves no wakeup function behind either. */
    add(s, "embedding", send_and_complete, &p);

    pthread_mutex_lock(&p.lock);
    assert_int_equal(p.wakeups, 0);
    pthread_mutex_unlock(&p.lock);
    dynhc_sched_free(s);
    probe_destroy(&p);
}

static void freeing_the_scheduler_stops_its_runner(void **state)
{
    (void)state;
    probe p;
    probe_init(&p);
    dynhc_sched *s = periodic_sched(20 * MS);
    add(s, "generate", send_and_complete, &p);
    assert_int_equal(dynhc_sched_start_thread(s, NULL), DYNHC_OK);
    assert_true(wait_sent(&p, 2) >= 2);
    dynhc_sched_free(s);
    probe_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_and_stop_refuse_null),
        cmocka_unit_test(stop_without_a_runner_is_ok),
        cmocka_unit_test(start_twice_is_busy_and_a_stopped_runner_starts_again),
        cmocka_unit_test(an_endpoint_added_from_a_callback_on_a_traffic_thread_wakes_the_runner),
        cmocka_unit_test(stop_from_a_runner_callback_is_busy),
        cmocka_unit_test(runner_sends_periodic_checks_on_time_and_stops_promptly),
        cmocka_unit_test(stop_wakes_a_runner_sleeping_until_a_distant_deadline),
        cmocka_unit_test(adding_an_endpoint_wakes_a_runner_sleeping_without_deadline),
        cmocka_unit_test(completion_from_another_thread_wakes_the_runner),
        cmocka_unit_test(runner_follows_the_schedulers_own_clock),
        cmocka_unit_test(the_runner_never_calls_the_clock_with_the_lock_held),
        cmocka_unit_test(runner_without_endpoints_sleeps),
        cmocka_unit_test(runner_waiting_for_a_distant_deadline_sleeps),
        cmocka_unit_test(runner_replaces_a_wakeup_function_set_before),
        cmocka_unit_test(freeing_the_scheduler_stops_its_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
