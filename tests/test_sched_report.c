/* test_sched_report.c: the scheduler's status JSON and Prometheus metrics
 * (SPEC 3), driven by a fake clock and scripted check outcomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <locale.h>

#include <dynhc/dynhc.h>

#include "support.h"
#include "text.h"

#define SEC 1000000000ull
#define MS 1000000ull
/* The fake clock starts far from zero: a completion at 0 would read as
 * "never checked". */
#define T0 (1000 * SEC)

/* ---- a scheduler on a fake clock, with scripted outcomes ------------------- */

typedef struct harness {
    uint64_t now;
    dynhc_sched *s;
    dynhc_result *payload; /* max_tokens 7 */
} harness;

/* What the send callback does with one check: complete it after latency_ns
 * of fake time, or leave it in flight. */
typedef struct step {
    int pending;
    dynhc_check_result result;
    uint64_t latency_ns;
    const char *error;
} step;

typedef struct script {
    harness *h;
    const step *steps;
    size_t count;
    size_t next;
    uint64_t pending_id; /* the last check left in flight */
} script;

/* For endpoints that should only ever have checks in flight. */
static const step always_pending[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL},
                                      {1, DYNHC_CHECK_SUCCESS, 0, NULL},
                                      {1, DYNHC_CHECK_SUCCESS, 0, NULL}};
#define PENDING {.steps = always_pending, .count = 3}

static uint64_t fake_clock(void *user_data)
{
    return ((const harness *)user_data)->now;
}

static int scripted_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                         void *user_data)
{
    (void)ep;
    script *sc = user_data;
    assert_true(sc->next < sc->count);
    const step *st = &sc->steps[sc->next++];
    if (st->pending) {
        sc->pending_id = check->id;
        return 0;
    }
    sc->h->now += st->latency_ns;
    assert_int_equal(dynhc_sched_complete(s, check->id, st->result, st->error), DYNHC_OK);
    return 0;
}

static void harness_init(harness *h)
{
    h->now = T0;
    fake_env env = {0};
    fake_env_set(&env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\":\"hi\",\"max_tokens\":7}");
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(dynhc_resolver_resolve(r, &h->payload), DYNHC_OK);
    dynhc_resolver_free(r);
    assert_int_equal(dynhc_result_token_budget(h->payload), 7);

    h->s = dynhc_sched_new();
    assert_non_null(h->s);
    assert_int_equal(dynhc_sched_set_clock(h->s, fake_clock, h), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log(h->s, NULL, NULL), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(h->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(h->s, 10 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_timeout_ns(h->s, 3 * SEC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(h->s, 0), DYNHC_OK);
}

static void harness_end(harness *h)
{
    dynhc_sched_free(h->s);
    dynhc_result_free(h->payload);
}

static dynhc_endpoint *add(harness *h, const char *name, const dynhc_label *labels,
                           size_t label_count, script *sc)
{
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = name;
    o.payload = h->payload;
    o.labels = labels;
    o.label_count = label_count;
    o.send = scripted_send;
    o.user_data = sc;
    dynhc_endpoint *ep = NULL;
    sc->h = h;
    assert_int_equal(dynhc_sched_add(h->s, &o, &ep), DYNHC_OK);
    return ep;
}

#define LABELS(array) array, sizeof(array) / sizeof(array[0])

/* Ticks at every deadline up to until, then sets the clock to until. */
static void run_until(harness *h, uint64_t until)
{
    for (int ticks = 0;; ticks++) {
        assert_true(ticks < 1000);
        uint64_t due = dynhc_sched_next_deadline(h->s);
        if (due == DYNHC_NO_DEADLINE || due > until) {
            break;
        }
        if (due > h->now) {
            h->now = due;
        }
        assert_true(dynhc_sched_tick(h->s, h->now) >= 0);
    }
    if (until > h->now) {
        h->now = until;
    }
}

/* ---- JSON helpers ------------------------------------------------------------ */

/* Fails unless obj's members are exactly keys, in that order. */
static void assert_keys(const cJSON *obj, const char *const *keys, size_t n)
{
    assert_true(cJSON_IsObject(obj));
    const cJSON *item = obj->child;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(item);
        assert_string_equal(item->string, keys[i]);
        item = item->next;
    }
    assert_null(item);
}

static cJSON *parse_status(harness *h, int verbose)
{
    char *text = dynhc_sched_status_json(h->s, verbose);
    assert_non_null(text);
    dynhcp_parse_error err = {{0, 0}, "", 0};
    assert_int_equal(dynhcp_utf8_check(text, strlen(text), &err), 0);
    cJSON *json = cJSON_Parse(text);
    dynhc_free(text);
    assert_non_null(json);
    return json;
}

/* ---- status JSON ----------------------------------------------------------------- */

static void status_of_an_empty_scheduler_is_dynamos_shape_with_the_process_status(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    char *text = dynhc_sched_status_json(h.s, 0);
    assert_string_equal(text,
                        "{\"status\":\"notready\",\"uptime\":{\"secs\":0,\"nanos\":0},"
                        "\"endpoints\":{}}");
    dynhc_free(text);
    assert_int_equal(dynhc_sched_set_process_ready(h.s, 1), DYNHC_OK);
    text = dynhc_sched_status_json(h.s, 1);
    assert_string_equal(text,
                        "{\"status\":\"ready\",\"uptime\":{\"secs\":0,\"nanos\":0},"
                        "\"endpoints\":{},\"checks\":{}}");
    dynhc_free(text);
    harness_end(&h);
}

static void status_has_exactly_the_keys_and_types_of_dynamos_health(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    script sc = {0};
    add(&h, "generate", NULL, 0, &sc);
    cJSON *json = parse_status(&h, 0);
    static const char *const top[] = {"status", "uptime", "endpoints"};
    assert_keys(json, top, 3);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(json, "status")));
    const cJSON *uptime = cJSON_GetObjectItemCaseSensitive(json, "uptime");
    static const char *const uptime_keys[] = {"secs", "nanos"};
    assert_keys(uptime, uptime_keys, 2);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(uptime, "secs")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(uptime, "nanos")));
    const cJSON *endpoints = cJSON_GetObjectItemCaseSensitive(json, "endpoints");
    static const char *const names[] = {"generate"};
    assert_keys(endpoints, names, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(endpoints, "generate")->valuestring,
                        "notready");
    cJSON_Delete(json);
    harness_end(&h);
}

static void status_turns_ready_after_a_successful_check_and_counts_uptime_on_the_clock(
    void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step steps[] = {{0, DYNHC_CHECK_SUCCESS, 5 * MS, NULL}};
    script sc = {.steps = steps, .count = 1};
    add(&h, "generate", NULL, 0, &sc);
    char *text = dynhc_sched_status_json(h.s, 0);
    assert_non_null(strstr(text, "\"status\":\"notready\""));
    dynhc_free(text);

    run_until(&h, T0);
    h.now = T0 + 62 * SEC + 123;
    text = dynhc_sched_status_json(h.s, 0);
    assert_string_equal(text,
                        "{\"status\":\"ready\",\"uptime\":{\"secs\":62,\"nanos\":123},"
                        "\"endpoints\":{\"generate\":\"ready\"}}");
    dynhc_free(text);
    harness_end(&h);
}

/* A fleet's /health: only the endpoints that are not ready, or none, with
 * the counts; the verbose form still names every one. */
static void status_list_names_not_ready_endpoints_or_none_with_counts(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step ok[] = {{0, DYNHC_CHECK_SUCCESS, 5 * MS, NULL}};
    static const step bad[] = {{0, DYNHC_CHECK_FAILURE, 5 * MS, "refused"}};
    script a = {.steps = ok, .count = 1}, b = {.steps = bad, .count = 1};
    add(&h, "a", NULL, 0, &a);
    add(&h, "b", NULL, 0, &b);
    run_until(&h, T0);
    h.now = T0 + SEC;
    assert_int_equal(dynhc_sched_set_status_list(h.s, DYNHC_STATUS_LIST_NOT_READY), DYNHC_OK);
    char *text = dynhc_sched_status_json(h.s, 0);
    assert_string_equal(text, "{\"status\":\"notready\",\"uptime\":{\"secs\":1,\"nanos\":0},"
                              "\"endpoints\":{\"b\":\"notready\"},"
                              "\"endpoint_counts\":{\"ready\":1,\"notready\":1}}");
    dynhc_free(text);
    assert_int_equal(dynhc_sched_set_status_list(h.s, DYNHC_STATUS_LIST_NONE), DYNHC_OK);
    text = dynhc_sched_status_json(h.s, 0);
    assert_string_equal(text, "{\"status\":\"notready\",\"uptime\":{\"secs\":1,\"nanos\":0},"
                              "\"endpoints\":{},"
                              "\"endpoint_counts\":{\"ready\":1,\"notready\":1}}");
    dynhc_free(text);
    text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(strstr(text, "\"endpoints\":{\"a\":\"ready\",\"b\":\"notready\"}"));
    assert_null(strstr(text, "endpoint_counts"));
    dynhc_free(text);
    assert_int_equal(dynhc_sched_set_status_list(h.s, DYNHC_STATUS_LIST_ALL), DYNHC_OK);
    text = dynhc_sched_status_json(h.s, 0);
    assert_null(strstr(text, "endpoint_counts"));
    dynhc_free(text);
    assert_int_equal(dynhc_sched_set_status_list(h.s, (dynhc_status_list)3), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_status_list(NULL, DYNHC_STATUS_LIST_ALL),
                     DYNHC_ERR_INVALID_ARG);
    harness_end(&h);
}

static void verbose_status_gives_null_before_the_first_check(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    script sc = {0};
    add(&h, "embed", NULL, 0, &sc);
    cJSON *json = parse_status(&h, 1);
    static const char *const top[] = {"status", "uptime", "endpoints", "checks"};
    assert_keys(json, top, 4);
    const cJSON *embed =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "checks"), "embed");
    static const char *const fields[] = {
        "last_check_secs_ago", "latency_ms",         "result",
        "consecutive_failures", "last_error",        "in_flight",
        "requests_in_flight",   "last_progress_secs_ago", "stalled"};
    assert_keys(embed, fields, 9);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(embed, "last_check_secs_ago")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(embed, "latency_ms")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(embed, "result")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(embed, "consecutive_failures")->valueint,
                     0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(embed, "last_error")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(embed, "in_flight")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(embed, "requests_in_flight")->valueint, 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(embed, "last_progress_secs_ago")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(embed, "stalled")));
    cJSON_Delete(json);
    harness_end(&h);
}

static void verbose_status_reports_the_last_check_its_error_and_checks_in_flight(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step gen_steps[] = {{0, DYNHC_CHECK_SUCCESS, 12 * MS + 500000, NULL},
                                     {0, DYNHC_CHECK_FAILURE, 250 * MS, "HTTP 503: overloaded"}};
    script gen = {.steps = gen_steps, .count = 2};
    add(&h, "generate", NULL, 0, &gen);
    run_until(&h, T0 + 10 * SEC + 250 * MS);
    script chat = PENDING;
    add(&h, "chat", NULL, 0, &chat);
    run_until(&h, T0 + 11 * SEC);
    script embed = PENDING;
    add(&h, "embed", NULL, 0, &embed);
    h.now = T0 + 11 * SEC + 750 * MS;

    char *text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(strstr(text, "\"generate\":{\"last_check_secs_ago\":1.5,\"latency_ms\":250,"
                                 "\"result\":\"failure\",\"consecutive_failures\":1,"
                                 "\"last_error\":\"HTTP 503: overloaded\",\"in_flight\":false,"
                                 "\"requests_in_flight\":0,\"last_progress_secs_ago\":null,"
                                 "\"stalled\":false}"));
    cJSON *json = cJSON_Parse(text);
    dynhc_free(text);
    assert_non_null(json);
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(json, "checks");
    static const char *const order[] = {"generate", "chat", "embed"};
    assert_keys(checks, order, 3);
    assert_keys(cJSON_GetObjectItemCaseSensitive(json, "endpoints"), order, 3);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(checks, "chat");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "in_flight")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "result")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "status")->valuestring, "notready");
    cJSON_Delete(json);

    /* A success clears the error and the failure count; the latency keeps
     * its fraction of a millisecond. */
    static const step more[] = {{0, DYNHC_CHECK_SUCCESS, 12 * MS + 500000, NULL}};
    gen.steps = more;
    gen.count = 1;
    gen.next = 0;
    run_until(&h, T0 + 21 * SEC);
    text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(strstr(text, "\"generate\":{\"last_check_secs_ago\":0.9875,"
                                 "\"latency_ms\":12.5,\"result\":\"success\","
                                 "\"consecutive_failures\":0,\"last_error\":null,"
                                 "\"in_flight\":false,\"requests_in_flight\":0,"
                                 "\"last_progress_secs_ago\":null,\"stalled\":false}"));
    dynhc_free(text);
    harness_end(&h);
}

static void verbose_status_names_a_timeout(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step steps[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script sc = {.steps = steps, .count = 1};
    add(&h, "generate", NULL, 0, &sc);
    run_until(&h, T0 + 3 * SEC);
    cJSON *json = parse_status(&h, 1);
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "checks"), "generate");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(gen, "result")->valuestring, "timeout");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(gen, "latency_ms")));
    assert_true(cJSON_GetObjectItemCaseSensitive(gen, "latency_ms")->valuedouble == 3000);
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(gen, "last_error")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(gen, "in_flight")));
    cJSON_Delete(json);
    harness_end(&h);
}

static void status_escapes_every_odd_byte_in_names_and_errors(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const char *const names[] = {"quo\"te", "back\\slash", "new\nline", "tab\tcr\r",
                                        "\x01\x1f\x7f", "h\xc3\xa9llo \xe2\x9c\x93", "/slash\b\f"};
    script quiet[7] = {PENDING, PENDING, PENDING, PENDING, PENDING, PENDING, PENDING};
    for (size_t i = 0; i < 7; i++) {
        add(&h, names[i], NULL, 0, &quiet[i]);
    }
    static const step steps[] = {{0, DYNHC_CHECK_FAILURE, MS, "line1\nline2 \"q\" \\ \x02"}};
    script bad = {.steps = steps, .count = 1};
    add(&h, "bad\xff\xc3(", NULL, 0, &bad);
    run_until(&h, T0);

    char *text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"\\u0001\\u001f\x7f\""));
    assert_non_null(strstr(text, "\"tab\\tcr\\r\""));
    assert_non_null(strstr(text, "\"/slash\\b\\f\""));
    assert_non_null(strstr(text, "\"bad\\ufffd\\ufffd(\""));
    assert_non_null(strstr(text, "\"last_error\":\"line1\\nline2 \\\"q\\\" \\\\ \\u0002\""));
    dynhc_free(text);

    cJSON *json = parse_status(&h, 1);
    const cJSON *endpoints = cJSON_GetObjectItemCaseSensitive(json, "endpoints");
    assert_int_equal(cJSON_GetArraySize(endpoints), 8);
    for (size_t i = 0; i < 7; i++) {
        assert_non_null(cJSON_GetObjectItemCaseSensitive(endpoints, names[i]));
    }
    const cJSON *bad_check = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "checks"), "bad\xef\xbf\xbd\xef\xbf\xbd(");
    assert_non_null(bad_check);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(bad_check, "last_error")->valuestring,
                        "line1\nline2 \"q\" \\ \x02");
    cJSON_Delete(json);
    harness_end(&h);
}

static void status_leaves_out_removed_endpoints(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    script a = {0}, b = {0}, c = {0};
    add(&h, "a", NULL, 0, &a);
    dynhc_endpoint *gone = add(&h, "b", NULL, 0, &b);
    add(&h, "c", NULL, 0, &c);
    assert_int_equal(dynhc_sched_remove_endpoint(h.s, gone), DYNHC_OK);
    cJSON *json = parse_status(&h, 1);
    static const char *const left[] = {"a", "c"};
    assert_keys(cJSON_GetObjectItemCaseSensitive(json, "endpoints"), left, 2);
    assert_keys(cJSON_GetObjectItemCaseSensitive(json, "checks"), left, 2);
    cJSON_Delete(json);
    harness_end(&h);
}

static void reports_of_a_null_scheduler_are_null(void **state)
{
    (void)state;
    assert_null(dynhc_sched_status_json(NULL, 1));
    assert_null(dynhc_sched_metrics(NULL));
}

/* ---- a validator for the text exposition format ------------------------------- */

/*
 * Checks text against the Prometheus text format 0.0.4, in the subset dynhc
 * writes: "# HELP name text" then "# TYPE name counter|gauge|histogram" per
 * family, samples `name{label="value",...} value` with no timestamp, values
 * non-negative decimals. It also checks what the grammar leaves to the
 * reader: a family's lines are contiguous and its TYPE comes before its
 * samples, no series is repeated, a sample has no label twice, and every
 * histogram series has cumulative, non-decreasing buckets in increasing le
 * order that end with le="+Inf" equal to _count, plus a _sum.
 * Returns NULL when the text passes, else a description (caller frees).
 */
typedef struct family {
    char name[128];
    char type[16];
    int help;
    int typed;
    size_t samples;
} family;

typedef struct histogram_series {
    char key[512]; /* the labels without le */
    double last_le;
    uint64_t last_count;
    int buckets;
    int has_inf;
    uint64_t inf;
    int has_sum;
    int has_count;
    uint64_t count;
} histogram_series;

typedef struct validator {
    family families[32];
    size_t family_count;
    size_t current; /* the family being written; SIZE_MAX before the first */
    histogram_series histograms[32];
    size_t histogram_count;
    char *series[512];
    size_t series_count;
    char error[256];
} validator;

static int failed(validator *v, size_t line, const char *what)
{
    if (v->error[0] == '\0') {
        snprintf(v->error, sizeof(v->error), "line %zu: %s", line, what);
    }
    return -1;
}

static size_t name_length(const char *p, int metric)
{
    size_t n = 0;
    for (;; n++) {
        char c = p[n];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (metric && c == ':');
        if (!letter && !(n > 0 && c >= '0' && c <= '9')) {
            return n;
        }
    }
}

static family *find_family(validator *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->family_count; i++) {
        if (strlen(v->families[i].name) == len && strncmp(v->families[i].name, name, len) == 0) {
            return &v->families[i];
        }
    }
    return NULL;
}

static int comment_line(validator *v, size_t no, const char *line)
{
    int help = strncmp(line, "# HELP ", 7) == 0;
    if (!help && strncmp(line, "# TYPE ", 7) != 0) {
        return failed(v, no, "a comment that is neither HELP nor TYPE");
    }
    const char *name = line + 7;
    size_t len = name_length(name, 1);
    if (len == 0 || name[len] != ' ' || len >= sizeof(v->families[0].name)) {
        return failed(v, no, "a bad metric name in HELP or TYPE");
    }
    family *f = find_family(v, name, len);
    if (f == NULL) {
        if (v->family_count == 32) {
            return failed(v, no, "too many families for the validator");
        }
        f = &v->families[v->family_count++];
        memcpy(f->name, name, len);
        f->name[len] = '\0';
    } else if ((size_t)(f - v->families) != v->current) {
        return failed(v, no, "a family's lines are not contiguous");
    }
    v->current = (size_t)(f - v->families);
    const char *rest = name + len + 1;
    if (help) {
        if (f->help++) {
            return failed(v, no, "a second HELP");
        }
        for (const char *p = rest; *p != '\0'; p++) {
            if (*p == '\\' && p[1] != '\\' && p[1] != 'n') {
                return failed(v, no, "a bad escape in HELP text");
            }
            p += *p == '\\';
        }
        return 0;
    }
    if (f->typed++) {
        return failed(v, no, "a second TYPE");
    }
    if (f->samples > 0) {
        return failed(v, no, "TYPE after samples");
    }
    if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0 &&
        strcmp(rest, "histogram") != 0) {
        return failed(v, no, "an unknown type");
    }
    snprintf(f->type, sizeof(f->type), "%s", rest);
    return 0;
}

/* A non-negative decimal ("12", "0.005") or, for le only, "+Inf". */
static int parse_number(const char *p, size_t len, double *out)
{
    size_t i = 0, digits = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0) {
        return -1;
    }
    if (i < len && p[i] == '.') {
        size_t frac = ++i;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == frac) {
            return -1;
        }
    }
    if (i != len) {
        return -1;
    }
    char buf[64];
    if (len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

/* The family a sample belongs to: its own name, or a histogram's with the
 * suffix _bucket, _sum or _count (returned in *suffix). */
static family *sample_family(validator *v, const char *name, size_t len, const char **suffix)
{
    *suffix = "";
    family *f = find_family(v, name, len);
    if (f != NULL) {
        return strcmp(f->type, "histogram") == 0 ? NULL : f;
    }
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(suffixes[i]);
        if (len > n && strncmp(name + len - n, suffixes[i], n) == 0) {
            f = find_family(v, name, len - n);
            if (f != NULL && strcmp(f->type, "histogram") == 0) {
                *suffix = suffixes[i];
                return f;
            }
        }
    }
    return NULL;
}

static histogram_series *histogram_of(validator *v, const char *key)
{
    for (size_t i = 0; i < v->histogram_count; i++) {
        if (strcmp(v->histograms[i].key, key) == 0) {
            return &v->histograms[i];
        }
    }
    if (v->histogram_count == 32) {
        return NULL;
    }
    histogram_series *h = &v->histograms[v->histogram_count++];
    snprintf(h->key, sizeof(h->key), "%s", key);
    h->last_le = -1;
    return h;
}

static int sample_line(validator *v, size_t no, const char *line)
{
    size_t len = name_length(line, 1);
    const char *suffix;
    family *f = len > 0 ? sample_family(v, line, len, &suffix) : NULL;
    if (f == NULL || !f->typed) {
        return failed(v, no, "a sample before its family's TYPE");
    }
    if ((size_t)(f - v->families) != v->current) {
        return failed(v, no, "a family's lines are not contiguous");
    }
    f->samples++;
    /* The series' labels: names seen, the key without le, and le itself. */
    char key[512] = "";
    char seen[8][64];
    size_t seen_count = 0;
    const char *le = NULL;
    size_t le_len = 0;
    const char *p = line + len;
    if (*p == '{') {
        p++;
        for (;;) {
            const char *label = p;
            size_t n = name_length(p, 0);
            if (n == 0 || n >= 64 || p[n] != '=' || p[n + 1] != '"') {
                return failed(v, no, "a bad label name");
            }
            for (size_t i = 0; i < seen_count; i++) {
                if (strlen(seen[i]) == n && strncmp(seen[i], label, n) == 0) {
                    return failed(v, no, "a label given twice");
                }
            }
            if (seen_count == 8) {
                return failed(v, no, "too many labels for the validator");
            }
            memcpy(seen[seen_count], label, n);
            seen[seen_count++][n] = '\0';
            p += n + 2;
            const char *value = p;
            for (; *p != '"'; p++) {
                if (*p == '\0') {
                    return failed(v, no, "an unterminated label value");
                }
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') {
                        return failed(v, no, "a bad escape in a label value");
                    }
                    p++;
                }
            }
            if (n == 2 && strncmp(label, "le", 2) == 0) {
                le = value;
                le_len = (size_t)(p - value);
            } else {
                size_t used = strlen(key);
                snprintf(key + used, sizeof(key) - used, "%.*s,", (int)(p + 1 - label), label);
            }
            p++;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',') {
                return failed(v, no, "labels not separated by a comma");
            }
            p++;
        }
    }
    if (*p != ' ') {
        return failed(v, no, "no space before the value");
    }
    double value;
    if (parse_number(p + 1, strlen(p + 1), &value) != 0) {
        return failed(v, no, "a bad sample value");
    }
    size_t series_len = (size_t)(p - line);
    for (size_t i = 0; i < v->series_count; i++) {
        if (strlen(v->series[i]) == series_len && strncmp(v->series[i], line, series_len) == 0) {
            return failed(v, no, "a series given twice");
        }
    }
    if (v->series_count == 512) {
        return failed(v, no, "too many series for the validator");
    }
    v->series[v->series_count] = malloc(series_len + 1);
    assert_non_null(v->series[v->series_count]);
    memcpy(v->series[v->series_count], line, series_len);
    v->series[v->series_count++][series_len] = '\0';

    if (strcmp(f->type, "histogram") != 0) {
        return 0;
    }
    histogram_series *h = histogram_of(v, key);
    if (h == NULL) {
        return failed(v, no, "too many histogram series for the validator");
    }
    uint64_t count = (uint64_t)value;
    if (strcmp(suffix, "_bucket") == 0) {
        double bound = 0;
        int inf = le != NULL && le_len == 4 && strncmp(le, "+Inf", 4) == 0;
        if (le == NULL || (!inf && parse_number(le, le_len, &bound) != 0)) {
            return failed(v, no, "a bucket without a proper le");
        }
        if (h->has_inf || (!inf && h->buckets > 0 && !(bound > h->last_le))) {
            return failed(v, no, "bucket bounds out of order");
        }
        if (count < h->last_count) {
            return failed(v, no, "bucket counts decrease");
        }
        h->buckets++;
        h->last_count = count;
        if (inf) {
            h->has_inf = 1;
            h->inf = count;
        } else {
            h->last_le = bound;
        }
    } else if (le != NULL) {
        return failed(v, no, "le on a _sum or _count");
    } else if (strcmp(suffix, "_sum") == 0) {
        h->has_sum++;
    } else {
        h->has_count++;
        h->count = count;
    }
    return 0;
}

static char *validate_exposition(const char *text)
{
    validator *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->current = SIZE_MAX;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') {
        failed(v, 0, "the text does not end with a line feed");
    }
    size_t no = 0;
    for (const char *line = text; v->error[0] == '\0' && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = (size_t)(end - line);
        char *copy = malloc(n + 1);
        assert_non_null(copy);
        memcpy(copy, line, n);
        copy[n] = '\0';
        no++;
        if (n == 0) {
            failed(v, no, "an empty line");
        } else if (copy[0] == '#') {
            comment_line(v, no, copy);
        } else {
            sample_line(v, no, copy);
        }
        free(copy);
        line = end + 1;
    }
    for (size_t i = 0; v->error[0] == '\0' && i < v->family_count; i++) {
        if (!v->families[i].help || !v->families[i].typed) {
            failed(v, 0, "a family without HELP or TYPE");
        }
    }
    for (size_t i = 0; v->error[0] == '\0' && i < v->histogram_count; i++) {
        const histogram_series *h = &v->histograms[i];
        if (!h->has_inf || h->has_sum != 1 || h->has_count != 1 || h->inf != h->count) {
            failed(v, 0, "a histogram series without +Inf equal to _count, or _sum");
        }
    }
    for (size_t i = 0; i < v->series_count; i++) {
        free(v->series[i]);
    }
    char *error = v->error[0] != '\0' ? strdup(v->error) : NULL;
    free(v);
    return error;
}

static void assert_exposition_valid(const char *text)
{
    assert_non_null(text);
    char *error = validate_exposition(text);
    if (error != NULL) {
        fprintf(stderr, "%s\n---\n%s---\n", error, text);
        free(error);
        fail_msg("the metrics text breaks the exposition format");
    }
}

/* Fails unless text has the whole line `line`. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return;
        }
    }
    fail_msg("no line \"%s\" in\n%s", line, text);
}

static void validator_rejects_what_the_format_forbids(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x 1",                                                  /* no final line feed */
        "x 1\n",                                                /* no TYPE */
        "# HELP x h\n# TYPE x gauge\nx 1\n\n",                  /* empty line */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",   /* label twice */
        "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",         /* bad escape */
        "# HELP x h\n# TYPE x gauge\nx{1a=\"\"} 1\n",           /* bad label name */
        "# HELP x h\n# TYPE x gauge\nx 1,5\n",                  /* bad number */
        "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",               /* series twice */
        "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\nx 1\n", /* split family */
        "# HELP x h\n# TYPE x counter\n# TYPE x counter\nx 1\n",         /* TYPE twice */
        "# HELP x h\n# TYPE x gauge\nx 1\n# HELP y h\n# TYPE y gauge\n# HELP x h\n",
        "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\n"
        "x_sum 1\nx_count 1\n", /* decreasing buckets */
        "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"2\"} 1\nx_bucket{le=\"1\"} 1\n"
        "x_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 1\n", /* bounds out of order */
        "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"+Inf\"} 2\nx_sum 1\nx_count 1\n",
        "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_sum 1\nx_count 1\n",
        "# HELP x h\n# TYPE x histogram\nx 1\n", /* the bare histogram name */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *error = validate_exposition(bad[i]);
        if (error == NULL) {
            fail_msg("accepted case %zu:\n%s", i, bad[i]);
        }
        free(error);
    }
    char *error = validate_exposition(
        "# HELP x h \\\\ \\n\n# TYPE x histogram\nx_bucket{a=\"\\\"\\\\\\n\",le=\"0.5\"} 1\n"
        "x_bucket{a=\"\\\"\\\\\\n\",le=\"+Inf\"} 2\nx_sum{a=\"\\\"\\\\\\n\"} 0.75\n"
        "x_count{a=\"\\\"\\\\\\n\"} 2\n");
    assert_null(error);
}

/* ---- metrics --------------------------------------------------------------------- */

static void metrics_of_an_empty_scheduler_declare_every_family(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    h.now = T0 + 2 * SEC + 5;
    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    static const char *const types[] = {
        "# TYPE dynhc_build_info gauge",
        "# TYPE process_start_time_seconds gauge",
        "# TYPE dynhc_ready gauge",
        "# TYPE dynhc_uptime_seconds gauge",
        "# TYPE dynhc_health_checks_in_flight gauge",
        "# TYPE dynhc_overall_readiness_transitions_total counter",
        "# TYPE dynhc_health_check_unknown_completions_total counter",
        "# TYPE dynhc_health_checks_total counter",
        "# TYPE dynhc_health_check_duration_seconds histogram",
        "# TYPE dynhc_endpoint_ready gauge",
        "# TYPE dynhc_health_check_last_duration_seconds gauge",
        "# TYPE dynhc_health_check_seconds_total counter",
        "# TYPE dynhc_endpoint_last_success_timestamp_seconds gauge",
        "# TYPE dynhc_endpoint_last_change_timestamp_seconds gauge",
        "# TYPE dynhc_health_check_late_completions_total counter",
        "# TYPE dynhc_health_check_token_budget_total counter",
        "# TYPE dynhc_readiness_transitions_total counter",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_line(text, types[i]);
    }
    assert_null(strstr(text, "# TYPE dynhc_health_check_tokens_total"));
    assert_line(text, "dynhc_build_info{version=\"" DYNHC_VERSION_STRING "\"} 1");
    assert_line(text, "dynhc_ready 0");
    assert_line(text, "dynhc_uptime_seconds 2.000000005");
    assert_line(text, "dynhc_health_checks_in_flight 0");
    assert_line(text, "dynhc_overall_readiness_transitions_total 0");
    assert_line(text, "dynhc_health_check_unknown_completions_total 0");
    dynhc_free(text);
    harness_end(&h);
}

static void metrics_count_a_scripted_run_of_successes_failures_and_timeouts(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const dynhc_label gen_labels[] = {{"model", "gpt2"}};
    static const step gen_steps[] = {
        {0, DYNHC_CHECK_SUCCESS, 3 * MS, NULL},         /* T0 */
        {0, DYNHC_CHECK_SUCCESS, 20 * MS, NULL},        /* T0+10 */
        {0, DYNHC_CHECK_FAILURE, 7 * MS, "HTTP 500"},   /* T0+20 */
        {1, DYNHC_CHECK_SUCCESS, 0, NULL},              /* T0+30, times out at T0+33 */
        {0, DYNHC_CHECK_SUCCESS, 1500 * MS, NULL},      /* T0+40 */
    };
    script gen = {.steps = gen_steps, .count = 5};
    add(&h, "generate", LABELS(gen_labels), &gen);
    run_until(&h, T0 + 45 * SEC);
    /* The timed-out check answers at last: late, and ignored. */
    assert_int_equal(dynhc_sched_complete(h.s, gen.pending_id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);

    /* A check whose endpoint is removed before it completes. */
    static const step doomed_steps[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script doomed = {.steps = doomed_steps, .count = 1};
    dynhc_endpoint *gone = add(&h, "doomed", NULL, 0, &doomed);
    run_until(&h, T0 + 45 * SEC);
    assert_int_equal(dynhc_sched_remove_endpoint(h.s, gone), DYNHC_OK);
    assert_int_equal(dynhc_sched_complete(h.s, doomed.pending_id, DYNHC_CHECK_SUCCESS, NULL),
                     DYNHC_ERR_NOT_FOUND);

    /* An endpoint whose check stays in flight. */
    h.now = T0 + 46 * SEC;
    static const step slow_steps[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script slow = {.steps = slow_steps, .count = 1};
    add(&h, "slow", NULL, 0, &slow);
    run_until(&h, T0 + 47 * SEC + 500 * MS);

    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    assert_line(text, "dynhc_ready 0");
    assert_line(text, "dynhc_uptime_seconds 47.5");
    assert_line(text, "dynhc_health_checks_in_flight 1");
    assert_line(text, "dynhc_health_check_unknown_completions_total 1");
    /* ready at T0, not ready at T0+20, ready at T0+41.5, not ready when
     * "doomed" joins, ready when it leaves, not ready when "slow" joins. */
    assert_line(text, "dynhc_overall_readiness_transitions_total 6");

    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\",model=\"gpt2\","
                      "result=\"success\"} 3");
    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\",model=\"gpt2\","
                      "result=\"failure\"} 1");
    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\",model=\"gpt2\","
                      "result=\"timeout\"} 1");
    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"slow\",result=\"success\"} 0");
    assert_null(strstr(text, "doomed"));

    static const struct {
        const char *le;
        const char *count;
    } buckets[] = {{"0.005", "1"}, {"0.01", "2"}, {"0.025", "3"}, {"0.05", "3"},
                   {"0.1", "3"},   {"0.25", "3"}, {"0.5", "3"},   {"1", "3"},
                   {"2.5", "4"},   {"5", "5"},    {"10", "5"},    {"+Inf", "5"}};
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        char line[160];
        snprintf(line, sizeof(line), "dynhc_health_check_duration_seconds_bucket{le=\"%s\"} %s",
                 buckets[i].le, buckets[i].count);
        assert_line(text, line);
    }
    /* One histogram for all endpoints: "slow" has no completed check yet. */
    assert_line(text, "dynhc_health_check_duration_seconds_sum 4.53");
    assert_line(text, "dynhc_health_check_duration_seconds_count 5");

    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"generate\",model=\"gpt2\"} 1");
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"slow\"} 0");
    assert_line(text, "dynhc_health_check_late_completions_total{dynhc_endpoint=\"generate\","
                      "model=\"gpt2\"} 1");
    assert_line(text, "dynhc_health_check_token_budget_total{dynhc_endpoint=\"generate\",model=\"gpt2\"} 35");
    assert_line(text, "dynhc_health_check_token_budget_total{dynhc_endpoint=\"slow\"} 7");
    assert_line(text, "dynhc_readiness_transitions_total{dynhc_endpoint=\"generate\",model=\"gpt2\"} 3");
    assert_line(text, "dynhc_readiness_transitions_total{dynhc_endpoint=\"slow\"} 0");
    /* Per endpoint latency: the last check's (no sample for "slow", never
     * checked: a 0 would read as a fast check), and the sum of all:
     * 3 + 20 + 7 + 3000 (the timeout) + 1500 ms. */
    assert_line(text, "dynhc_health_check_last_duration_seconds{dynhc_endpoint=\"generate\","
                      "model=\"gpt2\"} 1.5");
    assert_null(strstr(text, "dynhc_health_check_last_duration_seconds{dynhc_endpoint=\"slow\""));
    assert_line(text, "dynhc_health_check_seconds_total{dynhc_endpoint=\"generate\","
                      "model=\"gpt2\"} 4.53");
    assert_line(text, "dynhc_health_check_seconds_total{dynhc_endpoint=\"slow\"} 0");
    assert_line(text, "dynhc_endpoint_last_success_timestamp_seconds{dynhc_endpoint=\"slow\"} 0");
    dynhc_free(text);
    harness_end(&h);
}

/* A timeout's latency is exactly the timeout, however late the tick that
 * notices it: here the check goes out between two milliseconds, and its
 * deadline is noticed at the next whole millisecond (the grid of
 * dynhc_sched_next_deadline()). 1000.8 ms would land in the 2.5 s bucket. */
static void a_timeout_is_recorded_as_exactly_the_timeout(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    assert_int_equal(dynhc_sched_set_timeout_ns(h.s, SEC), DYNHC_OK);
    static const step steps[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script sc = {.steps = steps, .count = 1};
    h.now = T0 + 200 * 1000; /* 0.2 ms past the grid */
    add(&h, "generate", NULL, 0, &sc);
    assert_int_equal(dynhc_sched_tick(h.s, h.now), 1);
    assert_true(dynhc_sched_next_deadline(h.s) == T0 + 1001 * MS);
    run_until(&h, T0 + 1500 * MS);

    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\",result=\"timeout\"} 1");
    assert_line(text, "dynhc_health_check_duration_seconds_bucket{le=\"0.5\"} 0");
    assert_line(text, "dynhc_health_check_duration_seconds_bucket{le=\"1\"} 1");
    assert_line(text, "dynhc_health_check_duration_seconds_sum 1");
    dynhc_free(text);
    text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(strstr(text, "\"latency_ms\":1000,\"result\":\"timeout\""));
    dynhc_free(text);
    harness_end(&h);
}

/* One time source: a loop that ticks at the deadline it was given (a whole
 * millisecond, ahead of the clock that has not quite reached it) and a send
 * callback that completes at once. The completion must not come before the
 * send: a wrapped latency (1.8e10 s) would corrupt _sum for good. */
static void a_completion_right_after_a_tick_ahead_of_the_clock_has_no_negative_latency(
    void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step steps[] = {{0, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script sc = {.steps = steps, .count = 1};
    h.now = T0 + 300 * 1000;
    add(&h, "generate", NULL, 0, &sc);
    uint64_t deadline = dynhc_sched_next_deadline(h.s);
    assert_true(deadline == T0 + MS);
    assert_int_equal(dynhc_sched_tick(h.s, deadline), 1); /* the clock still says T0 + 0.3 ms */

    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    assert_line(text, "dynhc_health_check_duration_seconds_bucket{le=\"0.005\"} 1");
    assert_line(text, "dynhc_health_check_duration_seconds_sum 0");
    assert_line(text, "dynhc_health_check_duration_seconds_count 1");
    dynhc_free(text);
    text = dynhc_sched_status_json(h.s, 1);
    assert_non_null(strstr(text, "\"last_check_secs_ago\":0,\"latency_ms\":0,"));
    dynhc_free(text);
    harness_end(&h);
}

/* The histogram's sum outgrows 64 bits of nanoseconds (584 years) long
 * before a fleet's checks stop: 1e5 endpoints timing out after 3 s add
 * 3e5 s a second, 584 years in 17 hours. Here 2000 endpoints time out 108
 * times after a day each: 1.866e10 s, and the sum must not wrap. */
static void the_latency_sum_never_wraps(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    uint64_t day = 24 * 3600 * SEC;
    assert_int_equal(dynhc_sched_set_timeout_ns(h.s, day), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_interval_ns(h.s, 1), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(h.s, 0), DYNHC_OK);
    static const step never[] = {{1, DYNHC_CHECK_SUCCESS, 0, NULL}};
    script *scripts = calloc(2000, sizeof(*scripts));
    assert_non_null(scripts);
    char name[16];
    for (int i = 0; i < 2000; i++) {
        scripts[i].steps = never;
        scripts[i].count = 1;
        snprintf(name, sizeof(name), "e%d", i);
        add(&h, name, NULL, 0, &scripts[i]);
    }
    for (int round = 0; round < 108; round++) {
        for (int i = 0; i < 2000; i++) {
            scripts[i].next = 0;
        }
        assert_int_equal(dynhc_sched_tick(h.s, h.now), 2000);
        h.now += day;
        assert_int_equal(dynhc_sched_tick(h.s, h.now), 0); /* all time out */
        h.now += 1;
    }
    char *text = dynhc_sched_metrics(h.s);
    assert_line(text, "dynhc_health_check_duration_seconds_count 216000");
    assert_line(text, "dynhc_health_check_duration_seconds_sum 18662400000");
    dynhc_free(text);
    harness_end(&h);
    free(scripts);
}

/* The value of the sample whose line starts with series (up to its
 * value), as a double; fails when there is none. */
static double sample_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    fail_msg("no sample %s in\n%s", series, text);
    return 0;
}

/* Timestamps are Unix times: the clock's times (a fake clock here) turned
 * by the offset between it and the wall clock taken when the clock was
 * set. Last success: a successful check or request; last change: the last
 * readiness change, or the registration. */
static void metrics_give_unix_timestamps_of_last_success_and_last_change(void **state)
{
    (void)state;
    /* time() may read a coarser clock than the library's CLOCK_REALTIME:
     * a second of slack either side. */
    double before = (double)time(NULL) - 1;
    harness h;
    harness_init(&h); /* the clock says T0: the offset is taken now */
    double after = (double)time(NULL) + 1;
    static const step steps[] = {{0, DYNHC_CHECK_SUCCESS, 250 * MS, NULL}};
    script sc = {.steps = steps, .count = 1};
    h.now = T0 + 2 * SEC;
    add(&h, "generate", NULL, 0, &sc); /* checked at once, ready 250 ms later */
    run_until(&h, T0 + 3 * SEC);
    script pending = PENDING;
    dynhc_endpoint *quiet = add(&h, "quiet", NULL, 0, &pending); /* at T0+3 */
    run_until(&h, T0 + 3500 * MS);

    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    double start = sample_value(text, "process_start_time_seconds");
    assert_true(start > 1e9 && start <= after);
    double changed = sample_value(
        text, "dynhc_endpoint_last_change_timestamp_seconds{dynhc_endpoint=\"generate\"}");
    double success = sample_value(
        text, "dynhc_endpoint_last_success_timestamp_seconds{dynhc_endpoint=\"generate\"}");
    double quiet_change = sample_value(
        text, "dynhc_endpoint_last_change_timestamp_seconds{dynhc_endpoint=\"quiet\"}");
    assert_true(changed >= before + 2.25 && changed <= after + 2.25);
    assert_true(success == changed);
    assert_true(quiet_change - changed > 0.7499 && quiet_change - changed < 0.7501);
    assert_line(text, "dynhc_endpoint_last_success_timestamp_seconds{dynhc_endpoint=\"quiet\"} 0");
    dynhc_free(text);

    /* A successful request shows the endpoint working too (idle mode never
     * checks a busy one), and turns it ready. */
    h.now = T0 + 4 * SEC;
    dynhc_endpoint_record_activity(quiet, 1);
    text = dynhc_sched_metrics(h.s);
    double quiet_success = sample_value(
        text, "dynhc_endpoint_last_success_timestamp_seconds{dynhc_endpoint=\"quiet\"}");
    quiet_change = sample_value(
        text, "dynhc_endpoint_last_change_timestamp_seconds{dynhc_endpoint=\"quiet\"}");
    assert_true(quiet_success - success > 1.7499 && quiet_success - success < 1.7501);
    assert_true(quiet_change == quiet_success);
    /* The same Unix time in every report: the offset was taken once. */
    assert_true(sample_value(text, "dynhc_endpoint_last_change_timestamp_seconds{"
                                   "dynhc_endpoint=\"generate\"}") == changed);
    dynhc_free(text);
    harness_end(&h);
}

/* dynhc_build_info carries the version, dynhc_version() says the same. */
static void metrics_carry_the_build_info(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    char *text = dynhc_sched_metrics(h.s);
    char line[96];
    snprintf(line, sizeof(line), "dynhc_build_info{version=\"%s\"} 1", dynhc_version());
    assert_line(text, line);
    dynhc_free(text);
    harness_end(&h);
}

static void metrics_escape_label_values_as_the_format_requires(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const dynhc_label labels[] = {{"model", "a\"b\\c\nd"}, {"site", "caf\xc3\xa9 \xff"}};
    script sc = {0};
    add(&h, "we\"ird\\name\nx", LABELS(labels), &sc);
    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    dynhcp_parse_error err = {{0, 0}, "", 0};
    assert_int_equal(dynhcp_utf8_check(text, strlen(text), &err), 0);
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"we\\\"ird\\\\name\\nx\","
                      "model=\"a\\\"b\\\\c\\nd\",site=\"caf\xc3\xa9 \xef\xbf\xbd\"} 0");
    dynhc_free(text);
    harness_end(&h);
}

/* The labels a scraper attaches to every sample of a target: Prometheus
 * (job, instance), prometheus-operator's PodMonitor and ServiceMonitor
 * (namespace, pod, container, endpoint, service), kube-state-metrics and
 * node relabelling (node). */
static const char *const target_labels[] = {"job",     "instance", "endpoint",  "namespace",
                                            "pod",     "service",  "container", "node"};

/* SPEC 3: a sample label named like a target label is renamed
 * exported_NAME when scraped without honorLabels, and every documented
 * query grouped by it then sees one series for the whole target. */
static void metrics_name_the_endpoint_with_a_label_no_scraper_attaches(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const dynhc_label labels[] = {{"model", "gpt2"}};
    script sc = PENDING;
    add(&h, "generate", LABELS(labels), &sc);
    add(&h, "embed", NULL, 0, &sc);
    run_until(&h, T0 + SEC);
    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    size_t samples = 0;
    for (const char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        if (*line == '#') {
            continue;
        }
        const char *brace = strpbrk(line, "{ ");
        for (const char *p = brace; *p == '{' || *p == ','; ) {
            const char *name = p + 1;
            size_t n = strcspn(name, "=");
            for (size_t i = 0; i < sizeof(target_labels) / sizeof(target_labels[0]); i++) {
                if (strlen(target_labels[i]) == n && strncmp(name, target_labels[i], n) == 0) {
                    fail_msg("a target's label on a sample: %.*s", (int)strcspn(line, "\n"),
                             line);
                }
            }
            p = name + n + 2; /* the value's first byte */
            while (*p != '"') {
                p += *p == '\\' ? 2 : 1;
            }
            p++;
        }
        samples++;
    }
    assert_true(samples > 20);
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"generate\",model=\"gpt2\"} 0");
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"embed\"} 0");
    dynhc_free(text);
    harness_end(&h);
}

/* Extra labels may not take a target's label name, nor one of dynhc's own
 * (dynhc_endpoint, result, le): registration says so instead of writing a
 * series that the scraper renames or rejects. */
static void registration_refuses_label_names_of_targets_and_of_dynhc(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const char *const own[] = {"dynhc_endpoint", "result", "le"};
    script sc = {0};
    for (size_t i = 0; i < sizeof(target_labels) / sizeof(target_labels[0]) + 3; i++) {
        const char *name = i < 8 ? target_labels[i] : own[i - 8];
        const dynhc_label labels[] = {{"model", "gpt2"}, {name, "x"}};
        dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
        o.name = "generate";
        o.payload = h.payload;
        o.labels = labels;
        o.label_count = 2;
        o.send = scripted_send;
        o.user_data = &sc;
        dynhc_endpoint *ep = (dynhc_endpoint *)&h;
        sc.h = &h;
        assert_int_equal(dynhc_sched_add(h.s, &o, &ep), DYNHC_ERR_INVALID_ARG);
        assert_null(ep);
    }
    /* Names that only look alike are fine. */
    static const dynhc_label alike[] = {
        {"Endpoint", "x"}, {"pod_name", "y"}, {"exported_job", "z"}};
    add(&h, "generate", LABELS(alike), &sc);
    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"generate\",Endpoint=\"x\","
                      "pod_name=\"y\",exported_job=\"z\"} 0");
    dynhc_free(text);
    harness_end(&h);
}

static void metrics_leave_out_a_repeated_extra_label(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const dynhc_label labels[] = {{"model", "a"}, {"site", "s"}, {"model", "b"}};
    script sc = {0};
    add(&h, "generate", LABELS(labels), &sc);
    char *text = dynhc_sched_metrics(h.s);
    assert_exposition_valid(text);
    assert_line(text, "dynhc_health_checks_total{dynhc_endpoint=\"generate\",model=\"a\","
                      "site=\"s\",result=\"timeout\"} 0");
    assert_line(text, "dynhc_health_check_token_budget_total{dynhc_endpoint=\"generate\",model=\"a\","
                      "site=\"s\"} 0");
    assert_line(text, "dynhc_endpoint_ready{dynhc_endpoint=\"generate\",model=\"a\",site=\"s\"} 0");
    dynhc_free(text);
    harness_end(&h);
}

static void reports_do_not_depend_on_the_numeric_locale(void **state)
{
    (void)state;
    harness h;
    harness_init(&h);
    static const step steps[] = {{0, DYNHC_CHECK_SUCCESS, 12 * MS + 500000, NULL}};
    script sc = {.steps = steps, .count = 1};
    add(&h, "generate", NULL, 0, &sc);
    run_until(&h, T0 + 1500 * MS);
    char *metrics = dynhc_sched_metrics(h.s);
    char *status = dynhc_sched_status_json(h.s, 1);
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL &&
        setlocale(LC_NUMERIC, "de_DE.utf8") == NULL) {
        dynhc_free(metrics);
        dynhc_free(status);
        harness_end(&h);
        skip(); /* no locale with a decimal comma on this machine */
    }
    char *metrics_de = dynhc_sched_metrics(h.s);
    char *status_de = dynhc_sched_status_json(h.s, 1);
    setlocale(LC_NUMERIC, "C");
    assert_string_equal(metrics_de, metrics);
    assert_string_equal(status_de, status);
    assert_line(metrics, "dynhc_uptime_seconds 1.5");
    assert_non_null(strstr(status, "\"latency_ms\":12.5"));
    dynhc_free(metrics);
    dynhc_free(status);
    dynhc_free(metrics_de);
    dynhc_free(status_de);
    harness_end(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_of_a_null_scheduler_are_null),
        cmocka_unit_test(status_of_an_empty_scheduler_is_dynamos_shape_with_the_process_status),
        cmocka_unit_test(status_has_exactly_the_keys_and_types_of_dynamos_health),
        cmocka_unit_test(status_list_names_not_ready_endpoints_or_none_with_counts),
        cmocka_unit_test(
            status_turns_ready_after_a_successful_check_and_counts_uptime_on_the_clock),
        cmocka_unit_test(verbose_status_gives_null_before_the_first_check),
        cmocka_unit_test(verbose_status_reports_the_last_check_its_error_and_checks_in_flight),
        cmocka_unit_test(verbose_status_names_a_timeout),
        cmocka_unit_test(status_escapes_every_odd_byte_in_names_and_errors),
        cmocka_unit_test(status_leaves_out_removed_endpoints),
        cmocka_unit_test(validator_rejects_what_the_format_forbids),
        cmocka_unit_test(metrics_of_an_empty_scheduler_declare_every_family),
        cmocka_unit_test(metrics_count_a_scripted_run_of_successes_failures_and_timeouts),
        cmocka_unit_test(a_timeout_is_recorded_as_exactly_the_timeout),
        cmocka_unit_test(
            a_completion_right_after_a_tick_ahead_of_the_clock_has_no_negative_latency),
        cmocka_unit_test(the_latency_sum_never_wraps),
        cmocka_unit_test(metrics_give_unix_timestamps_of_last_success_and_last_change),
        cmocka_unit_test(metrics_carry_the_build_info),
        cmocka_unit_test(metrics_escape_label_values_as_the_format_requires),
        cmocka_unit_test(metrics_name_the_endpoint_with_a_label_no_scraper_attaches),
        cmocka_unit_test(registration_refuses_label_names_of_targets_and_of_dynhc),
        cmocka_unit_test(metrics_leave_out_a_repeated_extra_label),
        cmocka_unit_test(reports_do_not_depend_on_the_numeric_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
