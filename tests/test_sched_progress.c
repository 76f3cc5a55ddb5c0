/* test_sched_progress.c: forward progress (SPEC 3) on a fake clock: an
 * endpoint with requests in flight is judged by its progress, stalls at the
 * threshold without it, recovers with it, and is never failed by a canary
 * while it shows progress. Nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "support.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (1000 * SEC)

typedef struct fixture {
    sched_record rec; /* first: the record callbacks take the fixture */
    uint64_t now;
    dynhc_sched *s;
    dynhc_result *payload;
    dynhc_endpoint *ep;
    uint64_t sent[64]; /* ids of the checks sent, left in flight unless completed */
    size_t sent_count;
    int complete_with; /* -1: leave in flight; else complete synchronously */
} fixture;

static uint64_t fake_clock(void *user_data)
{
    return ((fixture *)user_data)->now;
}

static int record_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                       void *user_data)
{
    (void)ep;
    fixture *f = user_data;
    assert_true(f->sent_count < 64);
    f->sent[f->sent_count++] = check->id;
    if (f->complete_with >= 0) {
        assert_int_equal(
            dynhc_sched_complete(s, check->id, (dynhc_check_result)f->complete_with, NULL),
            DYNHC_OK);
    }
    return 0;
}

/* A scheduler on the fake clock with one endpoint, "generate", ready after
 * its first check at T0: idle mode, interval 10 s, timeout 3 s, stall
 * detection as stall_ns says (0: off). */
static fixture *start(uint64_t stall_ns)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = T0;
    f->s = dynhc_sched_new();
    assert_non_null(f->s);
    assert_int_equal(dynhc_sched_set_clock(f->s, fake_clock, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(f->s, sched_record_transition, f),
                     DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(f->s, sched_record_log, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, 10 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 0), DYNHC_OK);
    if (stall_ns > 0) {
        assert_int_equal(dynhc_sched_set_stall_ns(f->s, stall_ns), DYNHC_OK);
    }
    f->payload = builtin_payload();
    assert_int_equal(
        sched_add(f->s, "generate", f->payload, record_send, f, sched_record_destroy, &f->ep),
        DYNHC_OK);
    f->complete_with = DYNHC_CHECK_SUCCESS;
    assert_int_equal(dynhc_sched_tick(f->s, T0), 1);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    f->rec.transitions[0] = '\0';
    f->rec.log[0] = '\0';
    return f;
}

static void finish(fixture *f)
{
    dynhc_sched_free(f->s);
    dynhc_result_free(f->payload);
    free(f);
}

/* Advances the fake clock to t and ticks; returns how many checks were sent. */
static int tick_at(fixture *f, uint64_t t)
{
    f->now = t;
    return dynhc_sched_tick(f->s, t);
}

/* The value of a per-endpoint metric family for "generate" (-1 when absent). */
static long long metric(fixture *f, const char *family)
{
    char *text = dynhc_sched_metrics(f->s);
    assert_non_null(text);
    char key[160];
    snprintf(key, sizeof(key), "\n%s{dynhc_endpoint=\"generate\"} ", family);
    const char *at = strstr(text, key);
    long long value = at != NULL ? strtoll(at + strlen(key), NULL, 10) : -1;
    dynhc_free(text);
    return value;
}

/* A member of "generate"'s verbose status, as JSON text ("" when absent). */
static void verbose_member(fixture *f, const char *name, char *out, size_t size)
{
    char *text = dynhc_sched_status_json(f->s, 1);
    assert_non_null(text);
    cJSON *json = cJSON_Parse(text);
    dynhc_free(text);
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "checks"), "generate");
    char *member = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(gen, name));
    snprintf(out, size, "%s", member != NULL ? member : "");
    cJSON_free(member);
    cJSON_Delete(json);
}

/* ---- settings --------------------------------------------------------------- */

static void stall_threshold_rejects_more_than_a_day(void **state)
{
    (void)state;
    fixture *f = start(0);
    assert_int_equal(dynhc_sched_set_stall_ns(NULL, SEC), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_stall_ns(f->s, 24 * 3600 * SEC + 1), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_stall_ns(f->s, 24 * 3600 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_stall_ns(f->s, 0), DYNHC_OK);
    finish(f);
}

static void stall_timeout_from_the_environment_warns_about_bad_values(void **state)
{
    (void)state;
    static const char *const bad[] = {"30x", "0", "-1", "25h", "nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fixture *f = start(0);
        fake_env env = {0};
        fake_env_set(&env, "DYN_HEALTH_CHECK_STALL_TIMEOUT", bad[i]);
        assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
        char expected[128];
        snprintf(expected, sizeof(expected),
                 "2|DYN_HEALTH_CHECK_STALL_TIMEOUT: warning: invalid value \"%s\": ", bad[i]);
        assert_non_null(strstr(f->rec.log, expected));
        assert_non_null(strstr(f->rec.log, "; ignored\n"));
        /* Ignored: stall detection stays off. */
        dynhc_endpoint_request_begin(f->ep);
        tick_at(f, T0 + 3600 * SEC);
        assert_true(dynhc_endpoint_is_ready(f->ep));
        finish(f);
    }
}

static void stall_timeout_from_the_environment_turns_detection_on(void **state)
{
    (void)state;
    fixture *f = start(0);
    fake_env env = {0};
    fake_env_set(&env, "DYN_HEALTH_CHECK_STALL_TIMEOUT", " 2s\n");
    assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
    assert_string_equal(f->rec.log, "");
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(tick_at(f, T0 + 2 * SEC - MS), 0);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    tick_at(f, T0 + 2 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    finish(f);
}

/* ---- stall detection off ------------------------------------------------------ */

static void stall_detection_is_off_by_default_and_requests_are_traffic(void **state)
{
    (void)state;
    fixture *f = start(0);
    /* A request begun resets the idle timer, as traffic does ... */
    f->now = T0 + 5 * SEC;
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(tick_at(f, T0 + 10 * SEC), 0);
    /* ... but with it hanging and no stall threshold, the canary goes out
     * as it always did, and nothing turns the endpoint not ready. */
    assert_int_equal(tick_at(f, T0 + 15 * SEC), 1);
    assert_int_equal(tick_at(f, T0 + 3600 * SEC), 1);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    assert_int_equal(metric(f, "dynhc_endpoint_stalls_total"), 0);
    assert_int_equal(metric(f, "dynhc_endpoint_requests_in_flight"), 1);
    finish(f);
}

/* ---- busy, progressing --------------------------------------------------------- */

static void a_busy_endpoint_that_progresses_stays_ready_and_gets_no_canary(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    dynhc_endpoint_request_begin(f->ep);
    /* A minute of tokens, one every 4 s: never a threshold without one. */
    for (uint64_t t = T0 + 2 * SEC; t <= T0 + 62 * SEC; t += 4 * SEC) {
        f->now = t;
        dynhc_endpoint_record_progress(f->ep);
        uint64_t deadline = dynhc_sched_next_deadline(f->s);
        assert_true(deadline > t);
        assert_int_equal(tick_at(f, deadline), 0);
        assert_true(dynhc_endpoint_is_ready(f->ep));
    }
    assert_int_equal(f->sent_count, 1); /* the check at T0 only */
    assert_string_equal(f->rec.transitions, "");
    char member[64];
    verbose_member(f, "requests_in_flight", member, sizeof(member));
    assert_string_equal(member, "2");
    f->now = T0 + 63 * SEC;
    verbose_member(f, "last_progress_secs_ago", member, sizeof(member));
    assert_string_equal(member, "1");
    /* Both end well; once idle for the interval, the canary is back. */
    dynhc_endpoint_request_end(f->ep, 1);
    dynhc_endpoint_request_end(f->ep, 1);
    assert_int_equal(metric(f, "dynhc_endpoint_requests_in_flight"), 0);
    assert_int_equal(tick_at(f, T0 + 73 * SEC - MS), 0);
    assert_int_equal(tick_at(f, T0 + 73 * SEC), 1);
    finish(f);
}

static void a_canary_in_flight_when_progress_arrives_does_not_fail_on_timeout(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->complete_with = -1;
    assert_int_equal(tick_at(f, T0 + 10 * SEC), 1); /* idle: the canary goes out */
    f->now = T0 + 11 * SEC;
    dynhc_endpoint_request_begin(f->ep);
    f->now = T0 + 12 * SEC;
    dynhc_endpoint_record_progress(f->ep);
    /* The canary waits behind the request and times out: counted as a
     * timeout, not held against the endpoint. */
    tick_at(f, T0 + 13 * SEC);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    assert_string_equal(f->rec.transitions, "");
    char *text = dynhc_sched_metrics(f->s);
    assert_non_null(
        strstr(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\","
                     "result=\"timeout\"} 1"));
    dynhc_free(text);
    char member[64];
    verbose_member(f, "consecutive_failures", member, sizeof(member));
    assert_string_equal(member, "0");

    /* The same timeout without progress since the canary was sent fails it
     * (the next canary: the interval after the request's end). */
    dynhc_endpoint_request_end(f->ep, 1);
    assert_int_equal(tick_at(f, T0 + 23 * SEC), 1);
    tick_at(f, T0 + 26 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    assert_string_equal(f->rec.transitions, "generate=down;*=down;");
    finish(f);
}

/* ---- busy, stalled ---------------------------------------------------------------- */

static void a_busy_endpoint_without_progress_stalls_at_the_threshold(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    /* The scheduler wakes for the stall at its threshold: no polling in
     * between (the look at T0 + 5 s sees the request and plans T0 + 6 s). */
    assert_int_equal(dynhc_sched_next_deadline(f->s), T0 + 5 * SEC);
    assert_int_equal(tick_at(f, T0 + 5 * SEC), 0);
    assert_int_equal(dynhc_sched_next_deadline(f->s), T0 + 6 * SEC);
    assert_int_equal(tick_at(f, T0 + 6 * SEC - 1), 0);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    /* More requests begin: a wedged engine's server still accepts them,
     * and that is no progress. */
    f->now = T0 + 5 * SEC;
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(tick_at(f, T0 + 6 * SEC), 0);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    assert_string_equal(f->rec.transitions, "generate=down;*=down;");
    assert_non_null(strstr(f->rec.log, "2|endpoint 'generate' is now not ready: stalled"));
    assert_int_equal(metric(f, "dynhc_endpoint_stalls_total"), 1);
    assert_int_equal(metric(f, "dynhc_endpoint_requests_in_flight"), 2);
    char member[64];
    verbose_member(f, "stalled", member, sizeof(member));
    assert_string_equal(member, "true");
    verbose_member(f, "last_progress_secs_ago", member, sizeof(member));
    assert_string_equal(member, "null");
    /* Still stalled: no canary (it would hang too), no second count. */
    assert_int_equal(tick_at(f, T0 + 60 * SEC), 0);
    assert_int_equal(metric(f, "dynhc_endpoint_stalls_total"), 1);
    assert_string_equal(f->rec.transitions, "generate=down;*=down;");
    finish(f);
}

static void progress_exactly_at_the_threshold_comes_in_time(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    f->now = T0 + 2 * SEC;
    dynhc_endpoint_record_progress(f->ep);
    /* Progress at the very nanosecond the threshold is reached, before the
     * tick of that time: in time. */
    f->now = T0 + 7 * SEC;
    dynhc_endpoint_record_progress(f->ep);
    assert_int_equal(tick_at(f, T0 + 7 * SEC), 0);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    /* A tick at the threshold before the progress: stalled, then ready. */
    assert_int_equal(tick_at(f, T0 + 12 * SEC), 0);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    dynhc_endpoint_record_progress(f->ep);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    assert_string_equal(f->rec.transitions, "generate=down;*=down;generate=up;*=up;");
    finish(f);
}

static void late_progress_recovers_and_a_new_stall_is_counted_again(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    tick_at(f, T0 + 6 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    /* Progress long after the threshold: ready again, logged. */
    f->now = T0 + 30 * SEC;
    dynhc_endpoint_record_progress(f->ep);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    assert_non_null(strstr(f->rec.log, "1|endpoint 'generate' is now ready"));
    char member[64];
    verbose_member(f, "stalled", member, sizeof(member));
    assert_string_equal(member, "false");
    /* ... and stalls again a threshold after that progress. */
    assert_int_equal(tick_at(f, T0 + 35 * SEC - 1), 0);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    tick_at(f, T0 + 35 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    assert_int_equal(metric(f, "dynhc_endpoint_stalls_total"), 2);
    /* A request that ends well is progress too. */
    f->now = T0 + 36 * SEC;
    dynhc_endpoint_request_end(f->ep, 1);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    assert_string_equal(f->rec.transitions,
                        "generate=down;*=down;generate=up;*=up;"
                        "generate=down;*=down;generate=up;*=up;");
    finish(f);
}

static void progress_recovers_a_stall_even_when_traffic_does_not_mark_ready(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    assert_int_equal(dynhc_sched_set_activity_marks_ready(f->s, 0), DYNHC_OK);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    tick_at(f, T0 + 6 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    f->now = T0 + 7 * SEC;
    dynhc_endpoint_record_progress(f->ep);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    finish(f);
}

static void a_failed_request_end_is_traffic_not_progress(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    dynhc_endpoint_request_begin(f->ep);
    /* A server timing out the requests of a hung engine ends them badly:
     * the one still in flight stalls all the same. */
    f->now = T0 + 4 * SEC;
    dynhc_endpoint_request_end(f->ep, 0);
    tick_at(f, T0 + 6 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    char member[64];
    verbose_member(f, "last_progress_secs_ago", member, sizeof(member));
    assert_string_equal(member, "null");
    /* With none in flight, the idle canary takes over, an interval after
     * the last traffic (this end). */
    f->now = T0 + 7 * SEC;
    dynhc_endpoint_request_end(f->ep, 0);
    assert_int_equal(tick_at(f, T0 + 17 * SEC - MS), 0);
    assert_int_equal(tick_at(f, T0 + 17 * SEC), 1);
    assert_true(dynhc_endpoint_is_ready(f->ep)); /* the canary succeeded */
    verbose_member(f, "stalled", member, sizeof(member));
    assert_string_equal(member, "false");
    finish(f);
}

static void more_ends_than_begins_leave_the_count_at_zero(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    dynhc_endpoint_request_begin(f->ep);
    for (int i = 0; i < 3; i++) {
        dynhc_endpoint_request_end(f->ep, 1);
    }
    assert_int_equal(metric(f, "dynhc_endpoint_requests_in_flight"), 0);
    /* Nothing in flight: no stall, however long. */
    tick_at(f, T0 + 9 * SEC);
    assert_true(dynhc_endpoint_is_ready(f->ep));
    /* The count starts from zero again, not from a wrapped value. */
    f->now = T0 + 9 * SEC;
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(metric(f, "dynhc_endpoint_requests_in_flight"), 1);
    tick_at(f, T0 + 14 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    finish(f);
}

static void a_stall_is_found_with_checks_disabled(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    assert_int_equal(dynhc_sched_set_enabled(f->s, 0), DYNHC_OK);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(tick_at(f, T0 + 6 * SEC), 0);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    finish(f);
}

static void a_stall_threshold_set_later_applies_to_endpoints_already_registered(void **state)
{
    (void)state;
    fixture *f = start(0);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    assert_int_equal(dynhc_sched_set_stall_ns(f->s, 2 * SEC), DYNHC_OK);
    /* Looked at within one threshold of the change, not at the next check. */
    assert_true(dynhc_sched_next_deadline(f->s) <= T0 + 3 * SEC);
    tick_at(f, T0 + 3 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    finish(f);
}

/* ---- removal ------------------------------------------------------------------------ */

static void an_endpoint_removed_with_requests_in_flight_ignores_their_calls(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    dynhc_endpoint *held = dynhc_endpoint_ref(f->ep);
    dynhc_endpoint_request_begin(held);
    dynhc_endpoint_request_begin(held);
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, f->ep), DYNHC_OK);
    assert_int_equal(f->rec.destroyed, 0); /* the request thread's reference keeps it */
    /* The request threads go on: every call is safe and does nothing. */
    dynhc_endpoint_record_progress(held);
    dynhc_endpoint_request_end(held, 1);
    dynhc_endpoint_request_begin(held);
    dynhc_endpoint_request_end(held, 0);
    assert_false(dynhc_endpoint_is_ready(held));
    assert_int_equal(tick_at(f, T0 + 60 * SEC), 0);
    assert_string_equal(f->rec.transitions, "*=down;");
    char *text = dynhc_sched_metrics(f->s);
    assert_null(strstr(text, "dynhc_endpoint=\"generate\""));
    dynhc_free(text);
    /* The last reference frees it, after the scheduler too. */
    dynhc_sched_free(f->s);
    f->s = NULL;
    dynhc_endpoint_request_end(held, 1);
    dynhc_endpoint_release(held);
    assert_int_equal(f->rec.destroyed, 1);
    finish(f);
}

static void remove_on_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                                 void *user_data)
{
    (void)name;
    (void)user_data;
    if (ep != NULL && ready) {
        assert_int_equal(dynhc_sched_remove_endpoint(s, ep), DYNHC_OK);
    }
}

/* A borrowed handle is valid until removal, a callback's included: the
 * request end that makes a stalled endpoint ready, whose transition
 * callback removes it, touches nothing of it afterwards (ASan and the
 * valgrind run see a use after free; found by fuzz_sched). */
static void a_request_end_whose_transition_removes_the_endpoint_leaves_it_alone(void **state)
{
    (void)state;
    fixture *f = start(5 * SEC);
    f->now = T0 + SEC;
    dynhc_endpoint_request_begin(f->ep);
    dynhc_endpoint_request_begin(f->ep);
    tick_at(f, T0 + 6 * SEC);
    assert_false(dynhc_endpoint_is_ready(f->ep));
    assert_int_equal(dynhc_sched_set_transition_callback(f->s, remove_on_transition, NULL),
                     DYNHC_OK);
    dynhc_endpoint_request_end(f->ep, 1); /* ready, announced, removed, freed */
    assert_int_equal(f->rec.destroyed, 1);
    finish(f);
}

static void null_endpoints_are_ignored(void **state)
{
    (void)state;
    dynhc_endpoint_request_begin(NULL);
    dynhc_endpoint_request_end(NULL, 1);
    dynhc_endpoint_record_progress(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_endpoints_are_ignored),
        cmocka_unit_test(stall_threshold_rejects_more_than_a_day),
        cmocka_unit_test(stall_timeout_from_the_environment_warns_about_bad_values),
        cmocka_unit_test(stall_timeout_from_the_environment_turns_detection_on),
        cmocka_unit_test(stall_detection_is_off_by_default_and_requests_are_traffic),
        cmocka_unit_test(a_busy_endpoint_that_progresses_stays_ready_and_gets_no_canary),
        cmocka_unit_test(a_canary_in_flight_when_progress_arrives_does_not_fail_on_timeout),
        cmocka_unit_test(a_busy_endpoint_without_progress_stalls_at_the_threshold),
        cmocka_unit_test(progress_exactly_at_the_threshold_comes_in_time),
        cmocka_unit_test(late_progress_recovers_and_a_new_stall_is_counted_again),
        cmocka_unit_test(progress_recovers_a_stall_even_when_traffic_does_not_mark_ready),
        cmocka_unit_test(a_failed_request_end_is_traffic_not_progress),
        cmocka_unit_test(more_ends_than_begins_leave_the_count_at_zero),
        cmocka_unit_test(a_stall_is_found_with_checks_disabled),
        cmocka_unit_test(a_stall_threshold_set_later_applies_to_endpoints_already_registered),
        cmocka_unit_test(an_endpoint_removed_with_requests_in_flight_ignores_their_calls),
        cmocka_unit_test(a_request_end_whose_transition_removes_the_endpoint_leaves_it_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
