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
} fixture;

static uint64_t fake_clock(void *user_data)
{
    return ((const fixture *)user_data)->now;
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
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    fake_env env = {{0}, {0}, 0};
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &env), DYNHC_OK);
    assert_int_equal(dynhc_resolver_resolve(r, &f->payload), DYNHC_OK);
    dynhc_resolver_free(r);
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

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_scheduler_diagnostic_is_printed_once_in_the_format_of_spec_1_6),
        T(a_status_server_diagnostic_is_printed_once_in_the_format_of_spec_1_6),
        T(other_lines_start_with_dynhc_and_their_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
