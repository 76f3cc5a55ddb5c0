/* test_sched_log_limit.c: the rate limit of the per-endpoint log lines
 * (dynhc_sched_set_log_limit()) on a fake clock: a fleet that fails at once
 * writes burst lines a period and one line counting the rest, when the
 * period is over, whether or not another line comes; the overall status is
 * never held back; completions from several threads count every line once.
 * Nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "support.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (1000 * SEC)
#define FLEET 10

typedef struct fixture {
    sched_record rec; /* first: the record callbacks take the fixture */
    uint64_t now;
    dynhc_sched *s;
    dynhc_result *payload;
    uint64_t ids[FLEET]; /* each endpoint's check in flight */
} fixture;

static uint64_t fake_clock(void *user_data)
{
    return ((fixture *)user_data)->now;
}

/* Leaves the check in flight and keeps its id in the endpoint's place. */
static int keep_id(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check, void *user_data)
{
    (void)s;
    (void)ep;
    *(uint64_t *)user_data = check->id;
    return 0;
}

/* FLEET endpoints ep0... on the fake clock, recorded, each sent its first
 * check by a tick at T0; nothing else is due for a minute. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = T0;
    f->s = dynhc_sched_new();
    assert_non_null(f->s);
    assert_int_equal(dynhc_sched_set_clock(f->s, fake_clock, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(f->s, sched_record_log, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, 60 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 50 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 0), DYNHC_OK);
    f->payload = builtin_payload();
    for (int i = 0; i < FLEET; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(sched_add(f->s, name, f->payload, keep_id, &f->ids[i], NULL, NULL),
                         DYNHC_OK);
    }
    assert_int_equal(dynhc_sched_tick(f->s, f->now), FLEET);
    f->rec.log[0] = '\0'; /* the registration lines */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dynhc_sched_free(f->s);
    dynhc_result_free(f->payload);
    free(f);
    return 0;
}

/* Completes the checks in flight of endpoints from..to-1 with result. */
static void complete(fixture *f, int from, int to, dynhc_check_result result)
{
    for (int i = from; i < to; i++) {
        assert_int_equal(dynhc_sched_complete(f->s, f->ids[i], result, "HTTP 500"), DYNHC_OK);
    }
}

/* How many recorded lines tell of one endpoint. */
static int endpoint_lines(const fixture *f)
{
    int n = 0;
    for (const char *p = f->rec.log; (p = strstr(p, "|endpoint '")) != NULL; p++) {
        n++;
    }
    return n;
}

static void expect_log(fixture *f, const char *expected)
{
    if (strcmp(f->rec.log, expected) != 0) {
        fail_msg("the log is:\n%s\nnot:\n%s", f->rec.log, expected);
    }
    f->rec.log[0] = '\0';
}

#define HELD(n, in, burst, per)                                                                    \
    "2|" n " held back in the last " in " s (at most " burst " per " per " s); the verbose "      \
    "status and the metrics have every endpoint's state\n"

/* ---- the limit ---------------------------------------------------------------------- */

/* The whole fleet fails: every line is written, and nothing is counted. */
static void expect_every_line(fixture *f)
{
    complete(f, 0, FLEET, DYNHC_CHECK_FAILURE);
    assert_int_equal(endpoint_lines(f), FLEET);
    f->now += 60 * SEC;
    dynhc_sched_tick(f->s, f->now);
    assert_null(strstr(f->rec.log, "held back"));
}

static void without_a_limit_every_endpoint_line_is_written(void **state)
{
    expect_every_line(*state);
}

static void a_fleet_failing_at_once_writes_the_burst_and_one_count(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 3, 10 * SEC), DYNHC_OK);
    complete(f, 0, FLEET, DYNHC_CHECK_FAILURE);
    expect_log(f, "2|endpoint 'ep0' is not ready: HTTP 500\n"
                  "2|endpoint 'ep1' is not ready: HTTP 500\n"
                  "2|endpoint 'ep2' is not ready: HTTP 500\n");
    /* Ticks within the period say nothing yet. */
    f->now = T0 + 10 * SEC - 1;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, "");
    /* No other line comes: the first tick after the period says it. */
    f->now = T0 + 10 * SEC;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, HELD("7 endpoint messages", "10", "3", "10"));
    f->now += 10 * SEC;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, ""); /* said once */
}

static void a_new_period_writes_lines_again(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 3, 10 * SEC), DYNHC_OK);
    complete(f, 0, FLEET, DYNHC_CHECK_FAILURE);
    assert_int_equal(endpoint_lines(f), 3);
    f->rec.log[0] = '\0';
    f->now = T0 + 12500 * MS;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, HELD("7 endpoint messages", "12.5", "3", "10"));
    /* The next checks, a minute later, all succeed: a new period. */
    f->now = T0 + 60 * SEC;
    assert_int_equal(dynhc_sched_tick(f->s, f->now), FLEET);
    complete(f, 0, FLEET, DYNHC_CHECK_SUCCESS);
    expect_log(f, "1|endpoint 'ep0' is now ready\n"
                  "1|endpoint 'ep1' is now ready\n"
                  "1|endpoint 'ep2' is now ready\n"
                  "1|overall status is now ready\n");
    f->now += 10 * SEC;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, HELD("7 endpoint messages", "10", "3", "10"));
}

/* Without a tick, the next endpoint line brings the count, before itself. */
static void the_next_line_after_the_period_brings_the_count_first(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 2, 5 * SEC), DYNHC_OK);
    complete(f, 0, 3, DYNHC_CHECK_FAILURE);
    expect_log(f, "2|endpoint 'ep0' is not ready: HTTP 500\n"
                  "2|endpoint 'ep1' is not ready: HTTP 500\n");
    f->now = T0 + 7 * SEC;
    complete(f, 3, 4, DYNHC_CHECK_FAILURE);
    expect_log(f, HELD("1 endpoint message", "7", "2", "5")
               "2|endpoint 'ep3' is not ready: HTTP 500\n");
}

static void the_overall_status_is_never_held_back(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 1, 10 * SEC), DYNHC_OK);
    complete(f, 0, FLEET, DYNHC_CHECK_SUCCESS);
    expect_log(f, "1|endpoint 'ep0' is now ready\n"
                  "1|overall status is now ready\n");
    /* A host's own lines are not the scheduler's to limit either. */
    dynhc_sched_log(f->s, DYNHC_LOG_WARNING, "targets reloaded");
    expect_log(f, "2|targets reloaded\n");
}

/* A sink of the host's gets every level: every endpoint line counts, the
 * debug ones included (the default sink's case is in test_sched_log.c). */
/* A host's lines about single endpoints share the limit with the scheduler's. */
static void a_hosts_endpoint_lines_count_against_the_limit(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 2, 10 * SEC), DYNHC_OK);
    dynhc_sched_log_endpoint(f->s, DYNHC_LOG_WARNING, "ep0: no usable metrics");
    complete(f, 0, 2, DYNHC_CHECK_FAILURE);
    dynhc_sched_log_endpoint(f->s, DYNHC_LOG_WARNING, "ep9: no usable metrics");
    expect_log(f, "2|ep0: no usable metrics\n"
                  "2|endpoint 'ep0' is not ready: HTTP 500\n");
    f->now = T0 + 10 * SEC;
    dynhc_sched_tick(f->s, f->now);
    expect_log(f, HELD("2 endpoint messages", "10", "2", "10"));
    /* Bad calls are ignored. */
    dynhc_sched_log_endpoint(NULL, DYNHC_LOG_WARNING, "x");
    dynhc_sched_log_endpoint(f->s, DYNHC_LOG_WARNING, NULL);
    dynhc_sched_log_endpoint(f->s, (dynhc_log_level)7, "x");
    expect_log(f, "");
}

static void a_hosts_sink_counts_every_level(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_not_ready_interval_ns(f->s, SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 2, 10 * SEC), DYNHC_OK);
    /* ep0 fails three times for one reason, a second apart: a warning,
     * then the repeats at debug level. */
    for (int i = 0; i < 3; i++) {
        f->now = T0 + (unsigned)i * SEC;
        assert_int_equal(dynhc_sched_tick(f->s, f->now), i > 0);
        complete(f, 0, 1, DYNHC_CHECK_FAILURE);
    }
    expect_log(f, "2|endpoint 'ep0' is not ready: HTTP 500\n"
                  "0|endpoint 'ep0' is still not ready: HTTP 500 (consecutive failures: 2)\n");
    f->now = T0 + 10 * SEC;
    dynhc_sched_tick(f->s, f->now);
    assert_non_null(strstr(f->rec.log, HELD("1 endpoint message", "10", "2", "10")));
}

static void a_limit_of_zero_turns_it_off(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 3, 10 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 0, 0), DYNHC_OK);
    expect_every_line(f);
}

/* A change of the limit sums up what the period held back so far. */
static void setting_the_limit_writes_the_count_so_far(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 3, 10 * SEC), DYNHC_OK);
    complete(f, 0, 5, DYNHC_CHECK_FAILURE);
    f->rec.log[0] = '\0';
    f->now = T0 + 2 * SEC;
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 0, 0), DYNHC_OK);
    expect_log(f, HELD("2 endpoint messages", "2", "3", "10"));
    complete(f, 5, FLEET, DYNHC_CHECK_FAILURE);
    assert_int_equal(endpoint_lines(f), FLEET - 5);
}

static void bad_limits_are_refused(void **state)
{
    fixture *f = *state;
    /* Off, the period is not looked at. */
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 0, UINT64_MAX), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 3, 24 * 3600 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(NULL, 3, 10 * SEC), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 4, 0), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 4, 24 * 3600 * SEC + 1),
                     DYNHC_ERR_INVALID_ARG);
    /* A refused limit leaves the one before. */
    complete(f, 0, FLEET, DYNHC_CHECK_FAILURE);
    assert_int_equal(endpoint_lines(f), 3);
}

/* ---- from several threads ------------------------------------------------------------ */

#define THREADS 4
#define MANY 400
#define BURST 20

/* The clock the ticking thread moves and the completing threads read. */
static _Atomic uint64_t shared_now = T0;

static uint64_t shared_clock(void *user_data)
{
    (void)user_data;
    return atomic_load(&shared_now);
}

/* What the sink saw, from any thread. */
typedef struct tally {
    atomic_int endpoint_lines;
    atomic_int held; /* summed from the counts of held-back lines */
    atomic_int unexpected;
} tally;

static void count_line(dynhc_log_level level, const char *message, void *user_data)
{
    tally *t = user_data;
    int held = 0;
    if (strncmp(message, "endpoint '", 10) == 0) {
        atomic_fetch_add(&t->endpoint_lines, 1);
    } else if (sscanf(message, "%d endpoint message", &held) == 1 && level == DYNHC_LOG_WARNING) {
        atomic_fetch_add(&t->held, held);
    } else if (strncmp(message, "overall status", 14) != 0 &&
               strncmp(message, "Health check payload", 20) != 0) {
        atomic_fetch_add(&t->unexpected, 1);
    }
}

typedef struct completer {
    dynhc_sched *s;
    const uint64_t *ids;
    int from, to;
    int refused; /* completions not taken; checked once joined */
} completer;

static void *complete_some(void *arg)
{
    completer *c = arg;
    for (int i = c->from; i < c->to; i++) {
        c->refused += dynhc_sched_complete(c->s, c->ids[i], DYNHC_CHECK_FAILURE, "refused") !=
                      DYNHC_OK;
    }
    return NULL;
}

/* Completions on THREADS threads while another ticks and moves the clock
 * across several periods: every line is written or counted, exactly once,
 * and no period writes more than the burst. TSan watches the limiter. */
static void completions_from_several_threads_count_every_line_once(void **state)
{
    (void)state;
    tally t;
    atomic_init(&t.endpoint_lines, 0);
    atomic_init(&t.held, 0);
    atomic_init(&t.unexpected, 0);
    dynhc_sched *s = dynhc_sched_new();
    assert_non_null(s);
    assert_int_equal(dynhc_sched_set_clock(s, shared_clock, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(s, count_line, &t), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(s, 3600 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_timeout_ns(s, 3600 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(s, 0), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(s, BURST, SEC), DYNHC_OK);
    dynhc_result *payload = builtin_payload();
    static uint64_t ids[MANY];
    for (int i = 0; i < MANY; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(sched_add(s, name, payload, keep_id, &ids[i], NULL, NULL), DYNHC_OK);
    }
    assert_int_equal(dynhc_sched_tick(s, atomic_load(&shared_now)), MANY);
    pthread_t threads[THREADS];
    completer work[THREADS];
    for (int i = 0; i < THREADS; i++) {
        work[i] = (completer){s, ids, i * MANY / THREADS, (i + 1) * MANY / THREADS, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, complete_some, &work[i]), 0);
    }
    /* Ticks every 100 ms of the fake clock meanwhile, 5 s in all. */
    for (int i = 0; i < 50; i++) {
        uint64_t now = atomic_fetch_add(&shared_now, 100 * MS) + 100 * MS;
        dynhc_sched_tick(s, now);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(work[i].refused, 0);
    }
    uint64_t now = atomic_fetch_add(&shared_now, 2 * SEC) + 2 * SEC;
    dynhc_sched_tick(s, now);
    int written = atomic_load(&t.endpoint_lines);
    assert_int_equal(written + atomic_load(&t.held), MANY);
    /* Periods of 1 s over at most 7 s of the clock: 8 periods at most. */
    assert_true(written >= BURST && written <= 8 * BURST);
    assert_int_equal(atomic_load(&t.unexpected), 0);
    dynhc_sched_free(s);
    dynhc_result_free(payload);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(without_a_limit_every_endpoint_line_is_written),
        T(a_fleet_failing_at_once_writes_the_burst_and_one_count),
        T(a_new_period_writes_lines_again),
        T(the_next_line_after_the_period_brings_the_count_first),
        T(the_overall_status_is_never_held_back),
        T(a_hosts_endpoint_lines_count_against_the_limit),
        T(a_hosts_sink_counts_every_level),
        T(a_limit_of_zero_turns_it_off),
        T(setting_the_limit_writes_the_count_so_far),
        T(bad_limits_are_refused),
        cmocka_unit_test(completions_from_several_threads_count_every_line_once),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
