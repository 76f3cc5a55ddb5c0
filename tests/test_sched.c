/* test_sched.c: the scheduler's rules (SPEC 3) on a fake clock: nothing
 * sleeps, every time is chosen by the test. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>

#include "support.h"

#define MS 1000000ull
#define SEC 1000000000ull

typedef struct sent_check {
    uint64_t id;
    uint64_t at;
    uint64_t deadline;
    const char *endpoint;
} sent_check;

typedef struct fixture {
    sched_record rec; /* first: the record callbacks take the fixture */
    uint64_t now;
    dynhc_sched *s;
    dynhc_result *payload;
    char payload_text[512];
    sent_check sent[256];
    size_t sent_count;
    int complete_with; /* -1: leave in flight; else complete synchronously */
    int send_returns;
    int remove_in_send; /* remove the endpoint from inside its own send */
    uint64_t timeout_in_send; /* non-zero: the first send sets this timeout */
    dynhc_endpoint *last_ep;
} fixture;

static uint64_t fake_clock(void *user_data)
{
    return ((fixture *)user_data)->now;
}

static int record_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                       void *user_data)
{
    fixture *f = user_data;
    assert_true(f->sent_count < 256);
    f->sent[f->sent_count].id = check->id;
    f->sent[f->sent_count].at = check->sent_ns;
    f->sent[f->sent_count].deadline = check->deadline_ns;
    f->sent[f->sent_count].endpoint = check->endpoint;
    f->sent_count++;
    assert_string_equal(check->payload_text, f->payload_text);
    /* The result the text comes from: the registration's, shared (the
     * fixture's reference may be gone: the scheduler keeps its own). */
    assert_true(f->payload == NULL || check->result == f->payload);
    assert_ptr_equal(dynhc_result_text(check->result), check->payload_text);
    assert_true(check->deadline_ns > check->sent_ns);
    assert_int_equal(dynhc_sched_tick(s, f->now), DYNHC_ERR_BUSY);
    if (f->timeout_in_send != 0) {
        assert_int_equal(dynhc_sched_set_timeout_ns(s, f->timeout_in_send), DYNHC_OK);
        f->timeout_in_send = 0;
    }
    if (f->remove_in_send) {
        assert_int_equal(dynhc_sched_remove_endpoint(s, ep), DYNHC_OK);
    }
    if (f->complete_with >= 0) {
        int status = dynhc_sched_complete(s, check->id, (dynhc_check_result)f->complete_with,
                                          f->complete_with ? "boom" : NULL);
        assert_int_equal(status, f->remove_in_send ? DYNHC_ERR_NOT_FOUND : DYNHC_OK);
    }
    return f->send_returns;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = 1000 * SEC;
    f->s = dynhc_sched_new();
    assert_non_null(f->s);
    assert_int_equal(dynhc_sched_set_clock(f->s, fake_clock, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(f->s, sched_record_transition, f),
                     DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(f->s, sched_record_log, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_seed(f->s, 42), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, 10 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 0), DYNHC_OK);
    f->payload = builtin_payload();
    snprintf(f->payload_text, sizeof(f->payload_text), "%s", dynhc_result_text(f->payload));
    f->complete_with = DYNHC_CHECK_SUCCESS;
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

/* The fixture's options for an endpoint called name. */
static dynhc_endpoint_options options_for(fixture *f, const char *name)
{
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = name;
    o.payload = f->payload;
    o.send = record_send;
    o.user_data = f;
    o.destroy = sched_record_destroy;
    return o;
}

static dynhc_endpoint *add(fixture *f, const char *name)
{
    dynhc_endpoint_options o = options_for(f, name);
    dynhc_endpoint *ep = NULL;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_OK);
    assert_non_null(ep);
    f->last_ep = ep;
    return ep;
}

/* Advances the fake clock to t and ticks; returns how many checks were sent. */
static int tick_at(fixture *f, uint64_t t)
{
    f->now = t;
    return dynhc_sched_tick(f->s, t);
}

/* ---- error paths first ---------------------------------------------------- */

static void registration_rejects_bad_arguments_without_calling_back(void **state)
{
    fixture *f = *state;
    dynhc_endpoint *ep = (dynhc_endpoint *)f;
    dynhc_endpoint_options o = options_for(f, "");
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    assert_null(ep);
    o = options_for(f, NULL);
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    o = options_for(f, "a");
    assert_int_equal(dynhc_sched_add(NULL, &o, &ep), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_add(f->s, NULL, &ep), DYNHC_ERR_INVALID_ARG);
    o.payload = NULL;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    o = options_for(f, "a");
    o.send = NULL;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    /* The options' size: 0 (the initialiser forgotten), too small. */
    o = options_for(f, "a");
    o.size = 0;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    o.size = sizeof(o) - 1;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    /* Labels: missing, half given, or names Prometheus or dynhc refuse. */
    const dynhc_label no_value[] = {{"model", NULL}};
    const dynhc_label no_name[] = {{NULL, "x"}};
    const dynhc_label bad_name[] = {{"model", "x"}, {"9model", "x"}};
    const dynhc_label reserved[] = {{"dynhc_endpoint", "x"}};
    const dynhc_label target[] = {{"instance", "x"}};
    const dynhc_label dunder[] = {{"__x", "y"}};
    const dynhc_label empty[] = {{"", "y"}};
    const dynhc_label *const labels[] = {no_value, no_name, bad_name, reserved,
                                         target,   dunder,  empty};
    const size_t counts[] = {1, 1, 2, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        o = options_for(f, "a");
        o.labels = labels[i];
        o.label_count = counts[i];
        assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    }
    o = options_for(f, "a");
    o.label_count = 1; /* labels NULL */
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    add(f, "generate");
    o = options_for(f, "generate");
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    assert_null(ep);
    /* A disabled resolution has no payload to send. */
    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_resolver_set_disabled(r, 1);
    dynhc_result *disabled = NULL;
    assert_int_equal(dynhc_resolver_resolve(r, &disabled), DYNHC_DISABLED);
    o = options_for(f, "b");
    o.payload = disabled;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_ERR_INVALID_ARG);
    dynhc_result_free(disabled);
    dynhc_resolver_free(r);
    assert_int_equal(f->rec.destroyed, 0);
}

static void settings_reject_out_of_range_values(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, 0), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 25 * 3600 * SEC), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_jitter(f->s, 1.0), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_jitter(f->s, -0.1), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_thresholds(f->s, 0, 1), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_mode(f->s, (dynhc_mode)7), DYNHC_ERR_INVALID_ARG);
    const char *names[] = {"generate", ""};
    assert_int_equal(dynhc_sched_set_use_endpoints(f->s, names, 2), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_interval_ns(NULL, SEC), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_tick(NULL, 0), DYNHC_ERR_INVALID_ARG);
    assert_true(dynhc_sched_next_deadline(NULL) == DYNHC_NO_DEADLINE);
    dynhc_sched_free(NULL);
    dynhc_endpoint_record_activity(NULL, 1);
}

static void unknown_and_repeated_completions_are_counted_as_late(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    uint64_t id = f->sent[0].id;
    assert_int_equal(dynhc_sched_complete(f->s, id + 1, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_int_equal(dynhc_sched_complete(f->s, 12345ull << 32, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_int_equal(dynhc_sched_complete(f->s, 0, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_int_equal(dynhc_sched_complete(f->s, id, (dynhc_check_result)9, NULL),
                     DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_complete(f->s, id, DYNHC_CHECK_SUCCESS, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_complete(f->s, id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_true(dynhc_endpoint_is_ready(f->last_ep));
}

/* dynhc_sched_timeout_ms(): what a poll() loop sleeps, as curl_multi_timeout
 * gives it. */
static void the_poll_timeout_is_rounded_up_and_minus_one_without_a_deadline(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_timeout_ms(NULL, 0), -1);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, f->now), -1); /* nothing scheduled */
    /* Forty days into the clock: the deadline is far from time 0. */
    f->now = 40ull * 24 * 3600 * SEC;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 3 * SEC), DYNHC_OK);
    add(f, "generate");
    uint64_t t0 = f->now; /* its first check is due at once (no spread) */
    assert_true(dynhc_sched_next_deadline(f->s) == t0);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 + 5 * SEC), 0); /* past the deadline */
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0), 0);           /* exactly at it */
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 - 1), 1);       /* 1 ns before */
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 - MS), 1);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 - MS - 1), 2);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 - 1500 * MS), 1500);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, 0), INT_MAX); /* 3.5e9 ms: capped */
    /* Sent and in flight: the next deadline is the check's timeout. */
    assert_int_equal(tick_at(f, t0), 1);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0), 3000);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 + 1), 3000); /* 2999.999999 ms */
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0 + 3 * SEC - 1), 1);
    /* Removed: nothing is scheduled any more. */
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, f->last_ep), DYNHC_OK);
    assert_int_equal(dynhc_sched_timeout_ms(f->s, t0), -1);
}

static void a_check_not_completed_in_time_fails_as_timeout_and_late_completion_is_ignored(
    void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 3 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_starting_status(f->s, 1), DYNHC_OK);
    dynhc_endpoint *ep = add(f, "generate");
    uint64_t t0 = f->now;
    assert_int_equal(tick_at(f, t0), 1);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 3 * SEC);
    assert_int_equal(tick_at(f, t0 + 3 * SEC - 1), 0);
    assert_true(dynhc_endpoint_is_ready(ep));
    assert_int_equal(tick_at(f, t0 + 3 * SEC), 0);
    assert_false(dynhc_endpoint_is_ready(ep));
    assert_non_null(strstr(f->rec.transitions, "generate=down;"));
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[0].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_false(dynhc_endpoint_is_ready(ep));
    char *metrics = dynhc_sched_metrics(f->s);
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "result=\"timeout\"} 1"));
    assert_non_null(strstr(metrics, "dynhc_health_check_late_completions_total{dynhc_endpoint=\"generate\"} 1"));
    dynhc_free(metrics);
}

static void every_transition_of_one_tick_is_announced(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_starting_status(f->s, 1), DYNHC_OK);
    add(f, "a");
    add(f, "b");
    add(f, "c");
    uint64_t t0 = f->now;
    assert_int_equal(tick_at(f, t0), 3);
    f->rec.log[0] = '\0';
    f->rec.transitions[0] = '\0';
    /* All three time out in one tick: three endpoint transitions, then the
     * overall one, each announced once. */
    assert_int_equal(tick_at(f, t0 + 3 * SEC), 0);
    assert_non_null(strstr(f->rec.transitions, "a=down;"));
    assert_non_null(strstr(f->rec.transitions, "b=down;"));
    assert_non_null(strstr(f->rec.transitions, "c=down;"));
    assert_non_null(strstr(f->rec.transitions, "*=down;"));
    assert_int_equal(strlen(f->rec.transitions), strlen("a=down;b=down;c=down;*=down;"));
    assert_non_null(strstr(f->rec.log, "endpoint 'a' is now not ready"));
    assert_non_null(strstr(f->rec.log, "endpoint 'b' is now not ready"));
    assert_non_null(strstr(f->rec.log, "endpoint 'c' is now not ready"));
}

/* A setting changed while a tick sends (here by the first send callback)
 * does not split a check in two: the deadline a check is told is the one it
 * is held to. */
static void a_check_is_told_the_deadline_it_is_held_to(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 3 * SEC), DYNHC_OK);
    f->timeout_in_send = 7 * SEC;
    add(f, "a");
    add(f, "b");
    uint64_t t0 = f->now;
    assert_int_equal(tick_at(f, t0), 2);
    assert_true(f->sent[0].deadline == t0 + 3 * SEC);
    assert_true(f->sent[1].deadline == t0 + 3 * SEC);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 3 * SEC);
    assert_int_equal(tick_at(f, t0 + 3 * SEC), 0);
    char *metrics = dynhc_sched_metrics(f->s);
    assert_non_null(strstr(metrics, "dynhc_health_checks_total{dynhc_endpoint=\"b\",result=\"timeout\"} 1"));
    dynhc_free(metrics);
}

static void a_failed_send_counts_as_a_failed_check(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    f->send_returns = -1;
    assert_int_equal(dynhc_sched_set_starting_status(f->s, 1), DYNHC_OK);
    dynhc_endpoint *ep = add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    assert_false(dynhc_endpoint_is_ready(ep));
    char *status = dynhc_sched_status_json(f->s, 1);
    assert_non_null(strstr(status, "the send callback failed"));
    dynhc_free(status);
}

static void removing_an_endpoint_from_its_own_send_callback_is_safe(void **state)
{
    fixture *f = *state;
    f->remove_in_send = 1;
    add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    assert_int_equal(f->rec.destroyed, 1);
    assert_true(dynhc_sched_next_deadline(f->s) == DYNHC_NO_DEADLINE);
}

static void removing_an_endpoint_with_a_check_in_flight_ignores_its_completion(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    dynhc_endpoint *ep = add(f, "generate");
    add(f, "other");
    assert_int_equal(tick_at(f, f->now), 2);
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, ep), DYNHC_OK);
    assert_int_equal(f->rec.destroyed, 1);
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[0].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    /* The freed slot is reused without confusing old ids with new ones. */
    add(f, "third");
    assert_int_equal(tick_at(f, f->now), 1);
    assert_true(f->sent[2].id != f->sent[0].id);
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[0].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[2].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_OK);
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[1].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_OK);
}

/* The reason a label name is refused, for a caller's own message; every
 * name refused has one, every name accepted none. */
static void label_name_refusal_says_which_rule(void **state)
{
    (void)state;
    assert_null(dynhc_label_name_refusal("pool"));
    assert_null(dynhc_label_name_refusal("_zone2"));
    assert_string_equal(dynhc_label_name_refusal("le"), "dynhc's own label");
    assert_string_equal(dynhc_label_name_refusal("dynhc_endpoint"), "dynhc's own label");
    assert_string_equal(dynhc_label_name_refusal("pod"),
                        "a label that Prometheus or its operator attaches to every scraped "
                        "target");
    assert_string_equal(dynhc_label_name_refusal("__x"),
                        "names starting with '__' are Prometheus's own");
    assert_string_equal(dynhc_label_name_refusal("9a"), "a label name starts with a letter or '_'");
    assert_string_equal(dynhc_label_name_refusal(""), "a label name starts with a letter or '_'");
    assert_string_equal(dynhc_label_name_refusal(NULL), "a label name starts with a letter or '_'");
    assert_string_equal(dynhc_label_name_refusal("a-b"),
                        "a label name holds only letters, digits and '_'");
}

static void tick_and_free_from_a_callback_are_refused(void **state)
{
    fixture *f = *state;
    add(f, "generate");
    /* record_send asserts that a tick from inside it is DYNHC_ERR_BUSY. */
    assert_int_equal(tick_at(f, f->now), 1);
    assert_int_equal(f->sent_count, 1);
}

/* ---- timing ------------------------------------------------------------------ */

static void idle_mode_sends_a_canary_only_after_an_interval_without_traffic(void **state)
{
    fixture *f = *state;
    uint64_t t0 = f->now;
    dynhc_endpoint *ep = add(f, "generate");
    assert_int_equal(tick_at(f, t0), 1); /* spread 0: the first check at once */
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 10 * SEC);

    f->now = t0 + 6 * SEC;
    dynhc_endpoint_record_activity(ep, 1);
    assert_int_equal(tick_at(f, t0 + 10 * SEC), 0); /* traffic 4 s ago: not idle yet */
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 16 * SEC);
    assert_int_equal(tick_at(f, t0 + 16 * SEC - 1), 0);
    assert_int_equal(tick_at(f, t0 + 16 * SEC), 1);
    assert_int_equal(f->sent_count, 2);
}

/* One time source: traffic recorded after a tick whose now ran ahead of the
 * clock (a loop that ticks at the deadline it was given) happened after that
 * tick, so the idle timer runs from the tick's now, not from the clock's
 * older reading. Otherwise the canary goes out although traffic came in. */
static void idle_traffic_after_a_tick_ahead_of_the_clock_holds_the_canary_back(void **state)
{
    fixture *f = *state;
    uint64_t t0 = f->now;
    dynhc_endpoint *ep = add(f, "generate");
    /* The tick's now is 5 ms ahead of the clock; the check completes at once. */
    assert_int_equal(dynhc_sched_tick(f->s, t0 + 5 * MS), 1);
    f->now = t0 + MS;
    dynhc_endpoint_record_activity(ep, 1);
    assert_int_equal(tick_at(f, t0 + 10 * SEC + 3 * MS), 0);
    assert_true(dynhc_sched_next_deadline(f->s) >= t0 + 10 * SEC + 5 * MS);
    assert_int_equal(f->sent_count, 1);
}

static void periodic_mode_sends_every_interval_regardless_of_traffic(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    uint64_t t0 = f->now;
    dynhc_endpoint *ep = add(f, "generate");
    for (int i = 0; i < 5; i++) {
        f->now = t0 + (uint64_t)i * 10 * SEC + 5 * SEC;
        dynhc_endpoint_record_activity(ep, 1);
        assert_int_equal(tick_at(f, t0 + (uint64_t)i * 10 * SEC), i == 0 ? 1 : 1);
    }
    assert_int_equal(f->sent_count, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_true(f->sent[i].at == t0 + i * 10 * SEC);
    }
}

static void at_most_one_check_is_in_flight_per_endpoint(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 60 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, SEC), DYNHC_OK);
    add(f, "generate");
    uint64_t t0 = f->now;
    assert_int_equal(tick_at(f, t0), 1);
    for (uint64_t t = 1; t < 60; t++) {
        assert_int_equal(tick_at(f, t0 + t * SEC), 0);
    }
    assert_int_equal(f->sent_count, 1);
}

static void thresholds_need_consecutive_outcomes(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_thresholds(f->s, 3, 2), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_activity_marks_ready(f->s, 0), DYNHC_OK);
    dynhc_endpoint *ep = add(f, "generate");
    uint64_t t = f->now;
    const struct {
        int result;
        int ready_after;
    } steps[] = {
        {DYNHC_CHECK_SUCCESS, 0}, {DYNHC_CHECK_FAILURE, 0}, {DYNHC_CHECK_SUCCESS, 0},
        {DYNHC_CHECK_SUCCESS, 1}, {DYNHC_CHECK_FAILURE, 1}, {DYNHC_CHECK_TIMEOUT, 1},
        {DYNHC_CHECK_SUCCESS, 1}, {DYNHC_CHECK_FAILURE, 1}, {DYNHC_CHECK_FAILURE, 1},
        {DYNHC_CHECK_FAILURE, 0},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        f->complete_with = steps[i].result;
        assert_int_equal(tick_at(f, t), 1);
        assert_int_equal(dynhc_endpoint_is_ready(ep), steps[i].ready_after);
        t = dynhc_sched_next_deadline(f->s);
    }
    assert_string_equal(f->rec.transitions, "generate=up;*=up;generate=down;*=down;");
}

static void a_not_ready_endpoint_is_checked_at_its_own_interval(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_not_ready_interval_ns(f->s, 2 * SEC), DYNHC_OK);
    f->complete_with = DYNHC_CHECK_FAILURE;
    uint64_t t0 = f->now;
    add(f, "generate");
    assert_int_equal(tick_at(f, t0), 1);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 2 * SEC);
    f->complete_with = DYNHC_CHECK_SUCCESS;
    assert_int_equal(tick_at(f, t0 + 2 * SEC), 1);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 12 * SEC);
}

static void jitter_keeps_every_interval_within_its_bounds(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_jitter(f->s, 0.2), DYNHC_OK);
    add(f, "generate");
    uint64_t previous = f->now;
    assert_int_equal(tick_at(f, previous), 1);
    uint64_t low = UINT64_MAX, high = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t next = dynhc_sched_next_deadline(f->s);
        uint64_t gap = next - previous;
        assert_true(gap >= 8 * SEC && gap <= 12 * SEC);
        low = gap < low ? gap : low;
        high = gap > high ? gap : high;
        f->sent_count = 0;
        assert_int_equal(tick_at(f, next), 1);
        previous = next;
    }
    /* The draws use the range, not a single value. */
    assert_true(low < 9 * SEC && high > 11 * SEC);
}

/* Near the end of a 64-bit clock, a next check or a deadline that would
 * pass it stays at the end instead of wrapping to a time long past (which
 * would send checks, or time them out, at every tick). */
static void periodic_checks_near_the_end_of_the_clock_never_wrap_into_the_past(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    f->now = UINT64_MAX - 5 * SEC;
    add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    assert_true(dynhc_sched_next_deadline(f->s) > f->now);
    assert_int_equal(tick_at(f, f->now + MS), 0);
    assert_int_equal(tick_at(f, UINT64_MAX - 1), 0);
    assert_int_equal(f->sent_count, 1);
}

static void a_deadline_near_the_end_of_the_clock_never_wraps_into_the_past(void **state)
{
    fixture *f = *state;
    f->complete_with = -1;
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 3 * SEC), DYNHC_OK);
    f->now = UINT64_MAX - SEC;
    add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    assert_true(f->sent[0].deadline > f->sent[0].at);
    assert_true(dynhc_sched_next_deadline(f->s) > f->now);
    assert_int_equal(tick_at(f, f->now + MS), 0);
    char *metrics = dynhc_sched_metrics(f->s);
    assert_non_null(strstr(metrics, "dynhc_health_check_duration_seconds_count 0"));
    dynhc_free(metrics);
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[0].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_OK);
}

static void idle_traffic_near_the_end_of_the_clock_never_wraps_into_the_past(void **state)
{
    fixture *f = *state;
    f->now = UINT64_MAX - 5 * SEC;
    dynhc_endpoint *ep = add(f, "generate");
    assert_int_equal(tick_at(f, f->now), 1);
    f->now += SEC;
    dynhc_endpoint_record_activity(ep, 1);
    assert_true(dynhc_sched_next_deadline(f->s) > f->now);
    assert_int_equal(tick_at(f, f->now + MS), 0);
    assert_int_equal(f->sent_count, 1);
}

/* The first check of an endpoint registered near the end of the clock. */
static void a_first_check_near_the_end_of_the_clock_is_not_planned_in_the_past(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 24 * 3600 * SEC), DYNHC_OK);
    f->now = UINT64_MAX - SEC;
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof(name), "e%d", i);
        add(f, name);
    }
    assert_true(dynhc_sched_next_deadline(f->s) >= f->now);
}

static void first_checks_are_spread_so_endpoints_do_not_fire_in_lock_step(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 10 * SEC), DYNHC_OK);
    uint64_t t0 = f->now;
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "ep%d", i);
        add(f, name);
    }
    /* Ten windows of one second each get some, none gets all. */
    int per_second[10] = {0};
    f->complete_with = -1;
    for (uint64_t second = 0; second < 10; second++) {
        f->sent_count = 0;
        uint64_t window_end = t0 + (second + 1) * SEC - 1;
        per_second[second] = tick_at(f, window_end);
        assert_true(per_second[second] < 30);
    }
    int total = 0;
    for (int second = 0; second < 10; second++) {
        total += per_second[second];
    }
    assert_int_equal(total + tick_at(f, t0 + 10 * SEC), 100);
}

static void disabled_checks_send_nothing_until_enabled(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_enabled(f->s, 0), DYNHC_OK);
    add(f, "generate");
    assert_true(dynhc_sched_next_deadline(f->s) == DYNHC_NO_DEADLINE);
    assert_int_equal(tick_at(f, f->now + 100 * SEC), 0);
    assert_int_equal(dynhc_sched_set_enabled(f->s, 1), DYNHC_OK);
    assert_int_equal(tick_at(f, f->now), 1);
    /* Disabling again stops the checks that were already scheduled. */
    assert_int_equal(dynhc_sched_set_enabled(f->s, 0), DYNHC_OK);
    assert_int_equal(tick_at(f, f->now + 20 * SEC), 0);
    assert_int_equal(tick_at(f, f->now + 20 * SEC), 0);
    assert_true(dynhc_sched_next_deadline(f->s) == DYNHC_NO_DEADLINE);
}

/* ---- readiness and status ---------------------------------------------------- */

static void successful_traffic_marks_an_endpoint_ready_unless_turned_off(void **state)
{
    fixture *f = *state;
    dynhc_endpoint *ep = add(f, "generate");
    dynhc_endpoint_record_activity(ep, 0);
    assert_false(dynhc_endpoint_is_ready(ep));
    dynhc_endpoint_record_activity(ep, 1);
    assert_true(dynhc_endpoint_is_ready(ep));
    assert_true(dynhc_sched_is_ready(f->s));

    dynhc_endpoint *other = add(f, "other");
    assert_false(dynhc_sched_is_ready(f->s));
    assert_int_equal(dynhc_sched_set_activity_marks_ready(f->s, 0), DYNHC_OK);
    dynhc_endpoint_record_activity(other, 1);
    assert_false(dynhc_endpoint_is_ready(other));
}

static void overall_status_follows_the_named_endpoints_or_else_all(void **state)
{
    fixture *f = *state;
    assert_false(dynhc_sched_is_ready(f->s));
    assert_int_equal(dynhc_sched_set_process_ready(f->s, 1), DYNHC_OK);
    assert_true(dynhc_sched_is_ready(f->s)); /* no endpoint: the process status */

    dynhc_endpoint *generate = add(f, "generate");
    dynhc_endpoint *clear = add(f, "clear_kv_blocks");
    assert_false(dynhc_sched_is_ready(f->s));
    dynhc_endpoint_record_activity(generate, 1);
    assert_false(dynhc_sched_is_ready(f->s));

    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", " [\"generate\"] ");
    assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
    assert_true(dynhc_sched_is_ready(f->s));
    (void)clear;

    const char *names[] = {"generate", "missing"};
    assert_int_equal(dynhc_sched_set_use_endpoints(f->s, names, 2), DYNHC_OK);
    assert_false(dynhc_sched_is_ready(f->s)); /* a named endpoint that is not there */
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, generate), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_use_endpoints(f->s, NULL, 0), DYNHC_OK);
    assert_false(dynhc_sched_is_ready(f->s));
}

static void starting_status_comes_from_the_environment(void **state)
{
    fixture *f = *state;
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "Ready");
    assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
    assert_true(dynhc_sched_is_ready(f->s));
    dynhc_endpoint *ep = add(f, "generate");
    assert_true(dynhc_endpoint_is_ready(ep));
}

static void bad_environment_values_are_logged_and_ignored(void **state)
{
    fixture *f = *state;
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "up");
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"generate\",]");
    assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
    assert_non_null(strstr(
        f->rec.log, "2|DYN_SYSTEM_STARTING_HEALTH_STATUS: warning: invalid value \"up\""));
    assert_non_null(strstr(f->rec.log, "2|DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS:1:13: warning:"));
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "{\"a\":1}");
    assert_int_equal(dynhc_sched_load_env(f->s, fake_env_get, &env), DYNHC_OK);
    assert_non_null(strstr(f->rec.log, "expected a JSON array of endpoint names"));
    assert_false(dynhc_sched_is_ready(f->s));
}

static void settings_come_from_a_resolution(void **state)
{
    fixture *f = *state;
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_HEALTH_CHECK_INTERVAL", "30");
    fake_env_set(&env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "500ms");
    fake_env_set(&env, "DYN_HEALTH_CHECK_ENABLED", "false");
    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_resolver_set_getenv(r, fake_env_get, &env);
    dynhc_result *res = NULL;
    assert_int_equal(dynhc_resolver_resolve(r, &res), DYNHC_OK);
    assert_int_equal(dynhc_sched_apply_result(f->s, res), DYNHC_OK);
    add(f, "generate");
    assert_true(dynhc_sched_next_deadline(f->s) == DYNHC_NO_DEADLINE);
    fake_env_set(&env, "DYN_HEALTH_CHECK_ENABLED", "true");
    dynhc_result_free(res);
    assert_int_equal(dynhc_resolver_resolve(r, &res), DYNHC_OK);
    assert_int_equal(dynhc_sched_apply_result(f->s, res), DYNHC_OK);
    f->complete_with = -1;
    uint64_t t0 = f->now;
    assert_int_equal(tick_at(f, t0), 1);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 500 * MS);
    f->complete_with = DYNHC_CHECK_SUCCESS;
    assert_int_equal(dynhc_sched_complete(f->s, f->sent[0].id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_OK);
    assert_true(dynhc_sched_next_deadline(f->s) == t0 + 30 * SEC);
    dynhc_result_free(res);
    dynhc_resolver_free(r);
}

static void registration_logs_the_payload_and_its_source(void **state)
{
    fixture *f = *state;
    add(f, "generate");
    char expected[512];
    snprintf(expected, sizeof(expected),
             "1|Health check payload for endpoint 'generate' from default: %s\n",
             dynhc_result_text(f->payload));
    assert_non_null(strstr(f->rec.log, expected));
}

static void the_payload_is_shared_and_outlives_the_callers_reference(void **state)
{
    fixture *f = *state;
    add(f, "a");
    add(f, "b");
    /* The scheduler keeps its own references: the checks still carry the text. */
    dynhc_result_free(f->payload);
    f->payload = NULL;
    assert_int_equal(tick_at(f, f->now), 2);
    assert_int_equal(strcmp(f->sent[0].endpoint, "a") == 0 || strcmp(f->sent[1].endpoint, "a") == 0,
                     1);
}

/* "Endpoint handles" in dynhc/sched.h: references by name, and what every
 * call on a removed endpoint does. */
static void a_reference_keeps_a_removed_endpoint_safe_to_call(void **state)
{
    fixture *f = *state;
    assert_null(dynhc_sched_find(f->s, "generate"));
    assert_null(dynhc_sched_find(NULL, "generate"));
    assert_null(dynhc_sched_find(f->s, NULL));
    assert_null(dynhc_endpoint_ref(NULL));
    dynhc_endpoint_release(NULL);
    assert_false(dynhc_endpoint_is_registered(NULL));

    dynhc_endpoint *ep = add(f, "generate"); /* borrowed */
    dynhc_endpoint *ref = dynhc_sched_find(f->s, "generate");
    assert_ptr_equal(ref, ep);
    assert_null(dynhc_sched_find(f->s, "chat"));
    assert_ptr_equal(dynhc_endpoint_ref(ref), ep); /* a second one, released at once */
    dynhc_endpoint_release(ref);
    assert_true(dynhc_endpoint_is_registered(ref));
    assert_int_equal(tick_at(f, f->now), 1);
    assert_true(dynhc_endpoint_is_ready(ref));

    /* Removed while referenced: kept, and every call does nothing. */
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, ep), DYNHC_OK);
    assert_int_equal(f->rec.destroyed, 0);
    assert_false(dynhc_endpoint_is_registered(ref));
    assert_false(dynhc_endpoint_is_ready(ref)); /* it was ready */
    assert_string_equal(dynhc_endpoint_name(ref), "generate");
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, ref), DYNHC_ERR_NOT_FOUND);
    assert_null(dynhc_sched_find(f->s, "generate"));
    assert_int_equal(dynhc_sched_timeout_ms(f->s, f->now), -1); /* nothing scheduled */

    /* The name registered again is a new endpoint; traffic on the stale
     * reference does not reach it. */
    assert_int_equal(dynhc_sched_set_activity_marks_ready(f->s, 1), DYNHC_OK);
    dynhc_endpoint *again = add(f, "generate");
    assert_true(again != ref);
    dynhc_endpoint_record_activity(ref, 1);
    assert_false(dynhc_endpoint_is_ready(again));
    assert_false(dynhc_endpoint_is_ready(ref));
    dynhc_endpoint *found = dynhc_sched_find(f->s, "generate");
    assert_ptr_equal(found, again);
    dynhc_endpoint_record_activity(found, 1);
    assert_true(dynhc_endpoint_is_ready(again));
    dynhc_endpoint_release(found);

    /* The last reference frees the removed endpoint, with its user data. */
    dynhc_endpoint_release(ref);
    assert_int_equal(f->rec.destroyed, 1);
    /* Another scheduler's endpoint is refused. */
    dynhc_sched *other = dynhc_sched_new();
    assert_non_null(other);
    assert_int_equal(dynhc_sched_remove_endpoint(other, again), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, NULL), DYNHC_ERR_INVALID_ARG);
    dynhc_sched_free(other);
}

static void a_reference_outlives_the_scheduler(void **state)
{
    fixture *f = *state;
    add(f, "a");
    add(f, "b");
    dynhc_endpoint *kept = dynhc_sched_find(f->s, "b");
    assert_non_null(kept);
    dynhc_sched_free(f->s);
    f->s = NULL;
    assert_int_equal(f->rec.destroyed, 1); /* "a"; "b" waits for its reference */
    assert_false(dynhc_endpoint_is_registered(kept));
    assert_false(dynhc_endpoint_is_ready(kept));
    dynhc_endpoint_record_activity(kept, 1);
    assert_string_equal(dynhc_endpoint_name(kept), "b");
    dynhc_endpoint_release(kept);
    assert_int_equal(f->rec.destroyed, 2);
}

/* A send callback may take a reference to the endpoint it is given and
 * use it after the callback, removal or not. */
static dynhc_endpoint *taken_in_send;

static int take_reference(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                          void *user_data)
{
    (void)s;
    (void)check;
    (void)user_data;
    taken_in_send = dynhc_endpoint_ref(ep);
    return 0;
}

static void a_send_callback_may_keep_a_reference_past_removal(void **state)
{
    fixture *f = *state;
    dynhc_endpoint_options o = options_for(f, "generate");
    o.send = take_reference;
    dynhc_endpoint *ep = NULL;
    assert_int_equal(dynhc_sched_add(f->s, &o, &ep), DYNHC_OK);
    taken_in_send = NULL;
    assert_int_equal(tick_at(f, f->now), 1);
    assert_ptr_equal(taken_in_send, ep);
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, ep), DYNHC_OK);
    assert_int_equal(f->rec.destroyed, 0);
    assert_string_equal(dynhc_endpoint_name(taken_in_send), "generate");
    dynhc_endpoint_release(taken_in_send);
    assert_int_equal(f->rec.destroyed, 1);
}

static void freeing_the_scheduler_destroys_every_endpoints_user_data(void **state)
{
    fixture *f = *state;
    add(f, "a");
    add(f, "b");
    dynhc_endpoint *c = add(f, "c");
    assert_int_equal(dynhc_sched_remove_endpoint(f->s, c), DYNHC_OK);
    assert_int_equal(f->rec.destroyed, 1);
    dynhc_sched_free(f->s);
    f->s = NULL;
    assert_int_equal(f->rec.destroyed, 3);
}

/* ---- threads ---------------------------------------------------------------- */

#define STRESS_ENDPOINTS 16

/* 3000 ticks by default; DYNHC_TEST_STRESS_TICKS lowers it where threads
 * run slowly (valgrind runs them one at a time). */
static int stress_ticks(void)
{
    const char *text = getenv("DYNHC_TEST_STRESS_TICKS");
    int ticks = text != NULL ? atoi(text) : 0;
    return ticks > 0 ? ticks : 3000;
}

typedef struct stress {
    dynhc_sched *s;
    _Atomic uint64_t now;
    atomic_int stop;
    pthread_mutex_t lock; /* guards the queue of ids to complete */
    pthread_cond_t changed; /* the queue or the completed count moved */
    uint64_t queue[4096];
    size_t head, tail;
    atomic_size_t sent, completed, refused;
    dynhc_endpoint *eps[STRESS_ENDPOINTS];
} stress;

static uint64_t stress_clock(void *user_data)
{
    return atomic_load(&((stress *)user_data)->now);
}

static int stress_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                       void *user_data)
{
    (void)s;
    (void)ep;
    stress *st = user_data;
    pthread_mutex_lock(&st->lock);
    if (st->tail - st->head < 4096) {
        st->queue[st->tail++ % 4096] = check->id;
    }
    atomic_fetch_add(&st->sent, 1);
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* Completes queued checks from its own thread, as an HTTP client would. */
static void *stress_completer(void *arg)
{
    stress *st = arg;
    unsigned n = 0;
    pthread_mutex_lock(&st->lock);
    while (!atomic_load(&st->stop)) {
        if (st->head == st->tail) {
            pthread_cond_wait(&st->changed, &st->lock);
            continue;
        }
        uint64_t id = st->queue[st->head++ % 4096];
        pthread_mutex_unlock(&st->lock);
        int status = dynhc_sched_complete(st->s, id, n++ % 3 ? DYNHC_CHECK_SUCCESS
                                                             : DYNHC_CHECK_FAILURE, "x");
        char *status_json = dynhc_sched_status_json(st->s, 1);
        dynhc_free(status_json);
        pthread_mutex_lock(&st->lock);
        atomic_fetch_add(status == DYNHC_OK ? &st->completed : &st->refused, 1);
        pthread_cond_broadcast(&st->changed);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Plays the serving runtime's workers: traffic on every endpoint. */
static void *stress_traffic(void *arg)
{
    stress *st = arg;
    unsigned n = 0;
    while (!atomic_load(&st->stop)) {
        dynhc_endpoint_record_activity(st->eps[n % STRESS_ENDPOINTS], n % 5 != 0);
        (void)dynhc_sched_is_ready(st->s);
        n++;
        sched_yield(); /* traffic, not a busy loop that starves the others */
    }
    return NULL;
}

static void completions_and_traffic_from_other_threads_while_ticking(void **state)
{
    fixture *f = *state;
    stress *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    st->s = f->s;
    atomic_init(&st->now, 1000 * SEC);
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->changed, NULL);
    assert_int_equal(dynhc_sched_set_clock(f->s, stress_clock, st), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(f->s, 10 * MS), DYNHC_OK);
    /* Periodic: in idle mode the traffic thread would hold every canary back. */
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    /* Longer than the run: no check times out, so the counts must add up. */
    assert_int_equal(dynhc_sched_set_timeout_ns(f->s, 60 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_transition_callback(f->s, NULL, NULL), DYNHC_OK);
    char name[16];
    for (int i = 0; i < STRESS_ENDPOINTS; i++) {
        snprintf(name, sizeof(name), "ep%d", i);
        dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
        o.name = name;
        o.payload = f->payload;
        o.send = stress_send;
        o.user_data = st;
        assert_int_equal(dynhc_sched_add(f->s, &o, &st->eps[i]), DYNHC_OK);
    }
    pthread_t completer, traffic;
    assert_int_equal(pthread_create(&completer, NULL, stress_completer, st), 0);
    assert_int_equal(pthread_create(&traffic, NULL, stress_traffic, st), 0);
    int ticks = stress_ticks();
    for (int i = 0; i < ticks; i++) {
        uint64_t now = atomic_fetch_add(&st->now, MS) + MS;
        assert_true(dynhc_sched_tick(f->s, now) >= 0);
        /* Every few ticks, let the completer catch up so outcomes interleave
         * with ticks instead of all arriving at the end. */
        if (i % 8 == 0) {
            pthread_mutex_lock(&st->lock);
            while (atomic_load(&st->completed) + atomic_load(&st->refused) <
                   atomic_load(&st->sent)) {
                pthread_cond_wait(&st->changed, &st->lock);
            }
            pthread_mutex_unlock(&st->lock);
        }
    }
    pthread_mutex_lock(&st->lock);
    atomic_store(&st->stop, 1);
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
    pthread_join(completer, NULL);
    pthread_join(traffic, NULL);
    /* Every check sent was completed or is still in flight. */
    char *metrics = dynhc_sched_metrics(f->s);
    assert_non_null(metrics);
    const char *line = strstr(metrics, "\ndynhc_health_checks_in_flight ");
    assert_non_null(line);
    size_t in_flight = (size_t)strtoull(line + strlen("\ndynhc_health_checks_in_flight "), NULL, 10);
    dynhc_free(metrics);
    print_message("sent %zu completed %zu refused %zu in flight %zu\n", atomic_load(&st->sent),
                  atomic_load(&st->completed), atomic_load(&st->refused), in_flight);
    assert_true(atomic_load(&st->completed) >= (size_t)(ticks / 20) * STRESS_ENDPOINTS);
    assert_int_equal(atomic_load(&st->refused), 0);
    assert_int_equal(atomic_load(&st->completed) + in_flight, atomic_load(&st->sent));
    assert_true(in_flight <= STRESS_ENDPOINTS);
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(registration_rejects_bad_arguments_without_calling_back),
        cmocka_unit_test(label_name_refusal_says_which_rule),
        T(settings_reject_out_of_range_values),
        T(unknown_and_repeated_completions_are_counted_as_late),
        T(the_poll_timeout_is_rounded_up_and_minus_one_without_a_deadline),
        T(a_check_not_completed_in_time_fails_as_timeout_and_late_completion_is_ignored),
        T(every_transition_of_one_tick_is_announced),
        T(a_check_is_told_the_deadline_it_is_held_to),
        T(a_failed_send_counts_as_a_failed_check),
        T(removing_an_endpoint_from_its_own_send_callback_is_safe),
        T(removing_an_endpoint_with_a_check_in_flight_ignores_its_completion),
        T(tick_and_free_from_a_callback_are_refused),
        T(idle_mode_sends_a_canary_only_after_an_interval_without_traffic),
        T(idle_traffic_after_a_tick_ahead_of_the_clock_holds_the_canary_back),
        T(periodic_mode_sends_every_interval_regardless_of_traffic),
        T(at_most_one_check_is_in_flight_per_endpoint),
        T(thresholds_need_consecutive_outcomes),
        T(a_not_ready_endpoint_is_checked_at_its_own_interval),
        T(jitter_keeps_every_interval_within_its_bounds),
        T(periodic_checks_near_the_end_of_the_clock_never_wrap_into_the_past),
        T(a_deadline_near_the_end_of_the_clock_never_wraps_into_the_past),
        T(idle_traffic_near_the_end_of_the_clock_never_wraps_into_the_past),
        T(a_first_check_near_the_end_of_the_clock_is_not_planned_in_the_past),
        T(first_checks_are_spread_so_endpoints_do_not_fire_in_lock_step),
        T(disabled_checks_send_nothing_until_enabled),
        T(successful_traffic_marks_an_endpoint_ready_unless_turned_off),
        T(overall_status_follows_the_named_endpoints_or_else_all),
        T(starting_status_comes_from_the_environment),
        T(bad_environment_values_are_logged_and_ignored),
        T(settings_come_from_a_resolution),
        T(registration_logs_the_payload_and_its_source),
        T(the_payload_is_shared_and_outlives_the_callers_reference),
        T(a_reference_keeps_a_removed_endpoint_safe_to_call),
        T(a_reference_outlives_the_scheduler),
        T(a_send_callback_may_keep_a_reference_past_removal),
        T(freeing_the_scheduler_destroys_every_endpoints_user_data),
        T(completions_and_traffic_from_other_threads_while_ticking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
