/* test_sched_log.c: the scheduler's log as an operator reads it (SPEC 3,
 * Logging): the default sink's lines on stderr, captured through a
 * temporary file put in place of file descriptor 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dynhc/dynhc.h>
#include <dynhc/server.h>

#include "support.h"

#define SEC 1000000000ull
#define MS 1000000ull

/* ---- stderr, captured --------------------------------------------------------- */

typedef struct capture {
    FILE *file;
    int saved;
} capture;

/* From here on, what goes to stderr goes to a temporary file. Nothing may
 * fail between this and capture_end(): cmocka writes its failures to
 * stderr too. */
static void capture_begin(capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->file), 2) == 2);
}

/* What went to stderr since capture_begin() (caller frees); stderr is
 * stderr again. */
static char *capture_end(capture *c)
{
    fflush(stderr);
    assert_true(dup2(c->saved, 2) == 2);
    close(c->saved);
    assert_int_equal(fseek(c->file, 0, SEEK_END), 0);
    long size = ftell(c->file);
    assert_true(size >= 0);
    rewind(c->file);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, c->file), (size_t)size);
    text[size] = '\0';
    fclose(c->file);
    return text;
}

/* ---- a scheduler with the default sink ------------------------------------------ */

typedef struct fixture {
    uint64_t now;
    dynhc_sched *s;
    dynhc_result *payload;
    uint64_t last_id;
} fixture;

static uint64_t fake_clock(void *user_data)
{
    return ((const fixture *)user_data)->now;
}

/* Leaves every check in flight; the test completes it. */
static int keep_in_flight(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                          void *user_data)
{
    (void)s;
    (void)ep;
    ((fixture *)user_data)->last_id = check->id;
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = 1000 * SEC;
    f->s = dynhc_sched_new(); /* the default sink, as a host that sets none */
    assert_non_null(f->s);
    assert_int_equal(dynhc_sched_set_clock(f->s, fake_clock, f), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_mode(f->s, DYNHC_MODE_PERIODIC), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_spread_ns(f->s, 0), DYNHC_OK);
    f->payload = builtin_payload();
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

/* ---- the default sink's format ------------------------------------------------------ */

/* A warning that is already a diagnostic of SPEC 1.6 (it names its source)
 * is printed as it is: "dynhc: warning: DYN_...: warning: ..." said it
 * twice. */
static void a_scheduler_diagnostic_is_printed_once_in_the_format_of_spec_1_6(void **state)
{
    fixture *f = *state;
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "up");
    fake_env_set(&env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"generate\",]");
    capture c;
    capture_begin(&c);
    int status = dynhc_sched_load_env(f->s, fake_env_get, &env);
    char *err = capture_end(&c);
    assert_int_equal(status, DYNHC_OK);
    assert_string_equal(err,
                        "DYN_SYSTEM_STARTING_HEALTH_STATUS: warning: invalid value \"up\": "
                        "expected ready or notready; ignored\n"
                        "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS:1:13: warning: expected a JSON "
                        "value after ','; ignored\n");
    free(err);
}

/* The status server writes its warnings through the scheduler's sink: the
 * same format, through the public API. */
static void a_status_server_diagnostic_is_printed_once_in_the_format_of_spec_1_6(void **state)
{
    fixture *f = *state;
    if (!dynhc_server_supported()) {
        skip();
    }
    dynhc_server *srv = dynhc_server_new(f->s);
    assert_non_null(srv);
    fake_env env = {{0}, {0}, 0};
    fake_env_set(&env, "DYN_SYSTEM_PORT", "http");
    capture c;
    capture_begin(&c);
    int status = dynhc_server_load_env(srv, fake_env_get, &env);
    char *err = capture_end(&c);
    dynhc_server_free(srv);
    assert_int_equal(status, DYNHC_OK);
    assert_string_equal(err, "DYN_SYSTEM_PORT: warning: invalid value \"http\": expected a port "
                             "from 0 to 65535, or -1 for off; ignored\n");
    free(err);
}

static void free_from_the_callback(dynhc_sched *s, dynhc_endpoint *ep, const char *name,
                                   int ready, void *user_data)
{
    (void)ep;
    (void)name;
    (void)ready;
    (void)user_data;
    dynhc_sched_free(s); /* refused, and logged as an error */
}

/* Any other line says where it comes from and its level. */
static void other_lines_start_with_dynhc_and_their_level(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_transition_callback(f->s, free_from_the_callback, NULL),
                     DYNHC_OK);
    capture c;
    capture_begin(&c);
    dynhc_sched_set_process_ready(f->s, 1);
    char *err = capture_end(&c);
    assert_non_null(strstr(err, "dynhc: error: dynhc_sched_free called from a callback: "
                                "ignored\n"));
    free(err);
}

/* ---- DYN_LOG --------------------------------------------------------------------- */

/* The line the guide's troubleshooting step greps for. */
static void expect_registration_line(const char *err, const dynhc_result *payload)
{
    char line[512];
    snprintf(line, sizeof(line),
             "dynhc: info: Health check payload for endpoint 'generate' from default: %s\n",
             dynhc_result_text(payload));
    if (strstr(err, line) == NULL) {
        fail_msg("no line %s in:\n%s", line, err);
    }
}

static dynhc_endpoint *add_captured(fixture *f, dynhc_sched *s, const char *name, char **err)
{
    dynhc_endpoint *ep = NULL;
    capture c;
    capture_begin(&c);
    int status = sched_add(s, name, f->payload, keep_in_flight, f, NULL, &ep);
    *err = capture_end(&c);
    assert_int_equal(status, DYNHC_OK);
    return ep;
}

/* "Check logs for 'Health check payload' messages" (the guide's
 * troubleshooting) works out of the box: the default level is info. */
static void registration_is_logged_on_stderr_by_default(void **state)
{
    fixture *f = *state;
    char *err;
    add_captured(f, f->s, "generate", &err);
    expect_registration_line(err, f->payload);
    free(err);
}

/* A scheduler created with DYN_LOG set, its creation's stderr in *err. */
static dynhc_sched *new_with_dyn_log(const char *value, char **err)
{
    assert_int_equal(setenv("DYN_LOG", value, 1), 0);
    capture c;
    capture_begin(&c);
    dynhc_sched *s = dynhc_sched_new();
    *err = capture_end(&c);
    assert_int_equal(unsetenv("DYN_LOG"), 0);
    assert_non_null(s);
    assert_int_equal(dynhc_sched_set_spread_ns(s, 0), DYNHC_OK);
    return s;
}

static void dyn_log_sets_the_default_sinks_level_in_any_case(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *value;
        int info_shown;
    } cases[] = {{"error", 0}, {" WARN ", 0}, {"Info", 1}, {"debug", 1}, {"", 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err;
        dynhc_sched *s = new_with_dyn_log(cases[i].value, &err);
        assert_string_equal(err, "");
        free(err);
        add_captured(f, s, "generate", &err);
        if (cases[i].info_shown) {
            expect_registration_line(err, f->payload);
        } else {
            assert_string_equal(err, "");
        }
        free(err);
        dynhc_sched_free(s);
    }
}

static void a_bad_dyn_log_is_a_warning_naming_it_and_info_is_used(void **state)
{
    fixture *f = *state;
    char *err;
    dynhc_sched *s = new_with_dyn_log("verbose", &err);
    assert_string_equal(err, "DYN_LOG: warning: invalid value \"verbose\": expected error, warn, "
                             "info or debug; ignored\n");
    free(err);
    add_captured(f, s, "generate", &err);
    expect_registration_line(err, f->payload);
    free(err);
    dynhc_sched_free(s);
}

static void the_level_can_be_set_by_the_host(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_level(f->s, DYNHC_LOG_WARNING), DYNHC_OK);
    char *err;
    add_captured(f, f->s, "generate", &err);
    assert_string_equal(err, "");
    free(err);
    assert_int_equal(dynhc_sched_set_log_level(f->s, (dynhc_log_level)4), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_sched_set_log_level(NULL, DYNHC_LOG_INFO), DYNHC_ERR_INVALID_ARG);
}

static void record_line(dynhc_log_level level, const char *message, void *user_data)
{
    char *log = user_data;
    size_t used = strlen(log);
    snprintf(log + used, 1024 - used, "%d|%s\n", (int)level, message);
}

/* DYN_LOG is the default sink's: a host's own sink gets every level. */
static void a_hosts_own_sink_receives_every_level_whatever_dyn_log_says(void **state)
{
    fixture *f = *state;
    char *err;
    dynhc_sched *s = new_with_dyn_log("error", &err);
    free(err);
    char log[1024] = "";
    assert_int_equal(dynhc_sched_set_log(s, record_line, log), DYNHC_OK);
    dynhc_endpoint *ep = NULL;
    assert_int_equal(sched_add(s, "generate", f->payload, keep_in_flight, f, NULL, &ep), DYNHC_OK);
    assert_non_null(strstr(log, "1|Health check payload for endpoint 'generate'"));
    dynhc_sched_free(s);
}

/* ---- not ready, and why ----------------------------------------------------------- */

/* Sends the check due at f->now and completes it with result and error
 * (a timeout: lets it time out); returns what went to stderr meanwhile. */
/* A host's own line goes where the scheduler's go, at the level given. */
static void a_hosts_line_goes_through_the_sink_and_its_level(void **state)
{
    (void)state;
    char *err;
    dynhc_sched *s = new_with_dyn_log("warn", &err);
    free(err);
    capture c;
    capture_begin(&c);
    dynhc_sched_log(s, DYNHC_LOG_INFO, "targets: 1 added");
    dynhc_sched_log(s, DYNHC_LOG_WARNING, "targets not reloaded");
    dynhc_sched_log(s, (dynhc_log_level)4, "out of range");
    dynhc_sched_log(s, DYNHC_LOG_WARNING, NULL);
    dynhc_sched_log(NULL, DYNHC_LOG_WARNING, "no scheduler");
    err = capture_end(&c);
    assert_string_equal(err, "dynhc: warning: targets not reloaded\n");
    free(err);
    char log[1024] = "";
    assert_int_equal(dynhc_sched_set_log(s, record_line, log), DYNHC_OK);
    dynhc_sched_log(s, DYNHC_LOG_DEBUG, "to the host");
    assert_string_equal(log, "0|to the host\n");
    dynhc_sched_free(s);
}

static char *check_once(fixture *f, dynhc_check_result result, const char *error)
{
    capture c;
    capture_begin(&c);
    int sent = dynhc_sched_tick(f->s, f->now);
    int completed = DYNHC_OK;
    if (result == DYNHC_CHECK_TIMEOUT) {
        f->now += 3 * SEC;
        dynhc_sched_tick(f->s, f->now);
    } else {
        f->now += 5 * MS;
        completed = dynhc_sched_complete(f->s, f->last_id, result, error);
    }
    char *err = capture_end(&c);
    assert_int_equal(sent, 1);
    assert_int_equal(completed, DYNHC_OK);
    f->now = dynhc_sched_next_deadline(f->s);
    return err;
}

static void check_logs(fixture *f, dynhc_check_result result, const char *error,
                         const char *expected)
{
    char *err = check_once(f, result, error);
    if (strcmp(err, expected) != 0) {
        fail_msg("after a check failing with %s, stderr is:\n%s\nnot:\n%s",
                 error != NULL ? error : "(no error)", err, expected);
    }
    free(err);
}

/* An endpoint starts not ready: its first failed check changes no
 * readiness, and was not logged at all. */
static void a_first_check_that_fails_is_logged_with_its_reason(void **state)
{
    fixture *f = *state;
    char *err;
    add_captured(f, f->s, "generate", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500: 'engine failed'",
                 "dynhc: warning: endpoint 'generate' is not ready: HTTP 500: 'engine failed'\n");
}

static void a_first_check_that_times_out_is_logged_as_a_timeout(void **state)
{
    fixture *f = *state;
    char *err;
    add_captured(f, f->s, "generate", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_TIMEOUT, NULL,
                 "dynhc: warning: endpoint 'generate' is not ready: timeout\n");
}

/* The first failure and every change of reason or readiness are logged;
 * an endpoint that stays down for one reason does not say it again every
 * interval (but does at debug level). */
static void repeated_failures_are_logged_once_and_each_change_again(void **state)
{
    fixture *f = *state;
    char *err;
    add_captured(f, f->s, "generate", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500",
                 "dynhc: warning: endpoint 'generate' is not ready: HTTP 500\n");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500", "");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500", "");
    check_logs(f, DYNHC_CHECK_FAILURE, "cannot connect: Connection refused",
                 "dynhc: warning: endpoint 'generate' is not ready: cannot connect: Connection "
                 "refused\n");
    check_logs(f, DYNHC_CHECK_TIMEOUT, NULL,
                 "dynhc: warning: endpoint 'generate' is not ready: timeout\n");
    check_logs(f, DYNHC_CHECK_TIMEOUT, NULL, "");
    assert_int_equal(dynhc_sched_set_log_level(f->s, DYNHC_LOG_DEBUG), DYNHC_OK);
    check_logs(f, DYNHC_CHECK_TIMEOUT, NULL,
                 "dynhc: debug: endpoint 'generate' is still not ready: timeout (consecutive "
                 "failures: 7)\n");
    assert_int_equal(dynhc_sched_set_log_level(f->s, DYNHC_LOG_INFO), DYNHC_OK);
    check_logs(f, DYNHC_CHECK_SUCCESS, NULL,
                 "dynhc: info: endpoint 'generate' is now ready\n"
                 "dynhc: info: overall status is now ready\n");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500",
                 "dynhc: warning: endpoint 'generate' is now not ready: HTTP 500\n"
                 "dynhc: info: overall status is now not ready\n");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500", "");
}

/* Below the failure threshold an endpoint stays ready: its failures are
 * news, not alarms. */
static void a_failure_below_the_threshold_is_logged_at_info(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_thresholds(f->s, 3, 1), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_starting_status(f->s, 1), DYNHC_OK);
    char *err;
    add_captured(f, f->s, "generate", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 503",
                 "dynhc: info: endpoint 'generate' failed a check and is still ready: HTTP 503 "
                 "(consecutive failures: 1)\n");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 503", "");
    check_logs(f, DYNHC_CHECK_TIMEOUT, NULL,
                 "dynhc: warning: endpoint 'generate' is now not ready: timeout\n"
                 "dynhc: info: overall status is now not ready\n");
}

/* The log limit (dynhc_sched_set_log_limit()) counts the lines the default
 * sink writes: below its level a line is neither written nor counted. */
static void the_log_limit_counts_only_lines_at_the_default_sinks_level(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_sched_set_log_level(f->s, DYNHC_LOG_WARNING), DYNHC_OK);
    assert_int_equal(dynhc_sched_set_log_limit(f->s, 1, 60 * SEC), DYNHC_OK);
    char *err;
    add_captured(f, f->s, "generate", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_SUCCESS, NULL, ""); /* info: not counted */
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 500",
               "dynhc: warning: endpoint 'generate' is now not ready: HTTP 500\n");
    check_logs(f, DYNHC_CHECK_SUCCESS, NULL, "");
    check_logs(f, DYNHC_CHECK_FAILURE, "HTTP 502", ""); /* the second: held back */
    /* The period began with the line written, at the second check's end. */
    f->now = 1010 * SEC + 5 * MS + 60 * SEC;
    capture c;
    capture_begin(&c);
    dynhc_sched_tick(f->s, f->now);
    err = capture_end(&c);
    assert_string_equal(err, "dynhc: warning: 1 endpoint message held back in the last 60 s "
                             "(at most 1 per 60 s); the verbose status and the metrics have "
                             "every endpoint's state\n");
    free(err);
}

/* A name is not a source: the line is not taken for a diagnostic. */
static void an_endpoint_name_holding_warning_is_not_taken_for_a_diagnostic(void **state)
{
    fixture *f = *state;
    char *err;
    add_captured(f, f->s, "x: warning: y", &err);
    free(err);
    check_logs(f, DYNHC_CHECK_FAILURE, NULL,
                 "dynhc: warning: endpoint 'x: warning: y' is not ready: failure\n");
}

/* A sink that removes the endpoint whose failure it is told about: the
 * line is logged after the lock is released, when any thread (the sink
 * itself here) may remove the endpoint. */
typedef struct remover {
    dynhc_sched *s;
    dynhc_endpoint *ep;
    int lines;
} remover;

static void remove_on_failure(dynhc_log_level level, const char *message, void *user_data)
{
    remover *r = user_data;
    if (level == DYNHC_LOG_WARNING && strstr(message, "is not ready: ") != NULL &&
        r->ep != NULL) {
        r->lines++;
        assert_int_equal(dynhc_sched_remove_endpoint(r->s, r->ep), DYNHC_OK);
        r->ep = NULL;
    }
}

static void an_endpoint_removed_while_its_failure_is_logged_stays_valid(void **state)
{
    fixture *f = *state;
    remover r = {f->s, NULL, 0};
    assert_int_equal(dynhc_sched_set_log(f->s, remove_on_failure, &r), DYNHC_OK);
    /* A completion's failure. */
    assert_int_equal(sched_add(f->s, "a", f->payload, keep_in_flight, f, NULL, &r.ep), DYNHC_OK);
    assert_int_equal(dynhc_sched_tick(f->s, f->now), 1);
    assert_int_equal(dynhc_sched_complete(f->s, f->last_id, DYNHC_CHECK_FAILURE, "HTTP 500"),
                     DYNHC_OK);
    assert_int_equal(r.lines, 1);
    /* A tick's timeout. */
    assert_int_equal(sched_add(f->s, "b", f->payload, keep_in_flight, f, NULL, &r.ep), DYNHC_OK);
    assert_int_equal(dynhc_sched_tick(f->s, f->now), 1);
    f->now += 3 * SEC;
    assert_int_equal(dynhc_sched_tick(f->s, f->now), 0);
    assert_int_equal(r.lines, 2);
    char *text = dynhc_sched_status_json(f->s, 0);
    assert_non_null(strstr(text, "\"endpoints\":{}"));
    dynhc_free(text);
}

int main(void)
{
    /* What the tests set themselves, not the caller's shell. */
    unsetenv("DYN_LOG");
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_scheduler_diagnostic_is_printed_once_in_the_format_of_spec_1_6),
        T(a_status_server_diagnostic_is_printed_once_in_the_format_of_spec_1_6),
        T(other_lines_start_with_dynhc_and_their_level),
        T(registration_is_logged_on_stderr_by_default),
        T(dyn_log_sets_the_default_sinks_level_in_any_case),
        T(a_bad_dyn_log_is_a_warning_naming_it_and_info_is_used),
        T(the_level_can_be_set_by_the_host),
        T(a_hosts_own_sink_receives_every_level_whatever_dyn_log_says),
        T(a_hosts_line_goes_through_the_sink_and_its_level),
        T(a_first_check_that_fails_is_logged_with_its_reason),
        T(a_first_check_that_times_out_is_logged_as_a_timeout),
        T(repeated_failures_are_logged_once_and_each_change_again),
        T(a_failure_below_the_threshold_is_logged_at_info),
        T(an_endpoint_name_holding_warning_is_not_taken_for_a_diagnostic),
        T(the_log_limit_counts_only_lines_at_the_default_sinks_level),
        T(an_endpoint_removed_while_its_failure_is_logged_stays_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
