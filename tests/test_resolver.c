/* test_resolver.c: the precedence, environment, config, marker, strict and
 * merge rules of SPEC 1.1-1.8, through the public API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dynhc/cjson.h>
#include <dynhc/dynhc.h>

#include "support.h"

typedef struct fixture {
    fake_env env;
    dynhc_resolver *r;
    dynhc_result *res;
    char *dir;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->r = dynhc_resolver_new();
    assert_non_null(f->r);
    assert_int_equal(dynhc_resolver_set_getenv(f->r, fake_env_get, &f->env), DYNHC_OK);
    f->dir = temp_dir_create();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dynhc_result_free(f->res);
    dynhc_resolver_free(f->r);
    temp_dir_remove(f->dir);
    free(f);
    assert_int_equal(dynhc_set_custom_health_check_payload(NULL), DYNHC_OK);
    return 0;
}

/* Resolves, checks the status and keeps the result in the fixture. */
static const dynhc_result *resolve(fixture *f, int expected_status)
{
    dynhc_result_free(f->res);
    f->res = NULL;
    int status = dynhc_resolver_resolve(f->r, &f->res);
    if (status != expected_status) {
        for (size_t i = 0; i < dynhc_result_diag_count(f->res); i++) {
            char line[600];
            dynhc_diag_format(dynhc_result_diag(f->res, i), line, sizeof(line));
            print_message("  %s\n", line);
        }
        fail_msg("status %d (%s), expected %d", status, dynhc_strerror(status), expected_status);
    }
    assert_non_null(f->res);
    return f->res;
}

/* The one diagnostic whose message contains text; fails unless exactly one. */
static const dynhc_diag *diag_with(const dynhc_result *res, const char *text)
{
    const dynhc_diag *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        const dynhc_diag *d = dynhc_result_diag(res, i);
        if (strstr(d->message, text) != NULL) {
            found = d;
            n++;
        }
    }
    if (n != 1) {
        fail_msg("%zu diagnostics contain \"%s\" (of %zu)", n, text, dynhc_result_diag_count(res));
    }
    return found;
}

/* The one diagnostic from source; fails unless exactly one. */
static const dynhc_diag *diag_from(const dynhc_result *res, const char *source)
{
    const dynhc_diag *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        const dynhc_diag *d = dynhc_result_diag(res, i);
        if (strcmp(d->source, source) == 0) {
            found = d;
            n++;
        }
    }
    if (n != 1) {
        fail_msg("%zu diagnostics from \"%s\" (of %zu)", n, source, dynhc_result_diag_count(res));
    }
    return found;
}

static void assert_diag_at(const dynhc_diag *d, dynhc_severity severity, const char *source,
                           unsigned line, unsigned column)
{
    assert_int_equal(d->severity, severity);
    assert_string_equal(d->source, source);
    assert_int_equal(d->line, line);
    assert_int_equal(d->column, column);
}

static char *config_file(fixture *f, const char *name, const char *text)
{
    char *path = temp_file(f->dir, name, text);
    assert_int_equal(dynhc_resolver_set_config_file(f->r, path), DYNHC_OK);
    return path;
}

/* ---- error paths first ---------------------------------------------------- */

static void missing_config_file_is_an_error_with_its_path(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_config_file(f->r, "/nonexistent/dynhc.yaml"), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_ERR_CONFIG);
    assert_null(dynhc_result_text(res));
    assert_null(dynhc_result_payload(res));
    const dynhc_diag *d = diag_with(res, "No such file");
    assert_diag_at(d, DYNHC_SEVERITY_ERROR, "/nonexistent/dynhc.yaml", 0, 0);
}

static void config_file_with_duplicate_keys_is_an_error_at_the_second_key(void **state)
{
    fixture *f = *state;
    char *path = config_file(f, "dup.yaml", "model: a\nhealth_check_level: standard\nmodel: b\n");
    const dynhc_result *res = resolve(f, DYNHC_ERR_CONFIG);
    assert_diag_at(diag_with(res, "duplicate key"), DYNHC_SEVERITY_ERROR, path, 3, 1);
    free(path);
}

static void config_file_that_is_not_a_mapping_is_an_error(void **state)
{
    fixture *f = *state;
    free(config_file(f, "list.yaml", "- a\n- b\n"));
    const dynhc_result *res = resolve(f, DYNHC_ERR_CONFIG);
    assert_non_null(diag_with(res, "mapping"));
}

static void invalid_env_json_warns_at_its_position_and_falls_through_to_config(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\": \"x\",,}");
    free(config_file(f, "c.yaml", "health_check_payload:\n  prompt: from config\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_CONFIG);
    assert_json_equal("{\"prompt\":\"from config\",\"_health_check\":true}",
                      dynhc_result_text(res));
    const dynhc_diag *d = diag_with(res, "payload ignored");
    assert_diag_at(d, DYNHC_SEVERITY_WARNING, "DYN_HEALTH_CHECK_PAYLOAD", 1, 16);
}

static void env_json_positions_count_from_the_untrimmed_value(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "\n  {\"prompt\": tru}");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_diag_at(diag_with(res, "payload ignored"), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_PAYLOAD", 2, 17);
}

static void env_payload_that_is_not_an_object_is_skipped(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "[1, 2]");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_diag_at(diag_with(res, "must be a JSON object, not an array"), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_PAYLOAD", 1, 1);
}

/* A file that cannot be read is reported by what referred to it: the
 * variable, the config key, the runtime. */
static void env_at_file_that_is_missing_warns_with_the_variable_and_the_path(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "@/nonexistent/payload.json");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    const dynhc_diag *d = diag_with(res, "payload ignored");
    assert_diag_at(d, DYNHC_SEVERITY_WARNING, "DYN_HEALTH_CHECK_PAYLOAD", 0, 0);
    assert_string_equal(d->message, "cannot read @/nonexistent/payload.json: No such file or "
                                    "directory; payload ignored");

    char value[300];
    snprintf(value, sizeof(value), "@ %s ", f->dir);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", value);
    d = diag_with(resolve(f, DYNHC_OK), "payload ignored");
    assert_diag_at(d, DYNHC_SEVERITY_WARNING, "DYN_HEALTH_CHECK_PAYLOAD", 0, 0);
    char expected[400];
    snprintf(expected, sizeof(expected),
             "cannot read @%s: not a regular file (a directory); payload ignored", f->dir);
    assert_string_equal(d->message, expected);
}

static void config_and_runtime_payload_files_that_are_missing_name_who_asked(void **state)
{
    fixture *f = *state;
    char *path = config_file(f, "c.yaml", "model: m\nhealth_check_payload: '@missing.json'\n");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    const dynhc_diag *d = diag_with(res, "payload ignored");
    assert_diag_at(d, DYNHC_SEVERITY_WARNING, path, 2, 23);
    char expected[400];
    snprintf(expected, sizeof(expected),
             "health_check_payload: cannot read @missing.json (%s/missing.json): No such file or "
             "directory; payload ignored",
             f->dir);
    assert_string_equal(d->message, expected);
    free(path);

    assert_int_equal(dynhc_resolver_set_payload_file(f->r, "/nonexistent/p.json"), DYNHC_OK);
    d = diag_from(resolve(f, DYNHC_OK), "<runtime>");
    assert_int_equal(d->line, 0);
    assert_string_equal(d->message, "cannot read the payload file /nonexistent/p.json: No such "
                                    "file or directory; payload ignored");
}

static void env_at_file_with_bad_json_warns_at_file_position(void **state)
{
    fixture *f = *state;
    char *path = temp_file(f->dir, "p.json", "{\n  \"prompt\": \"x\"\n  \"max_tokens\": 1\n}\n");
    char value[300];
    snprintf(value, sizeof(value), "@%s", path);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", value);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_diag_at(diag_with(res, "payload ignored"), DYNHC_SEVERITY_WARNING, path, 3, 3);
    free(path);
}

static void bad_runtime_payload_warns_as_runtime_and_falls_through(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":"), DYNHC_OK);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\":\"env\"}");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV);
    const dynhc_diag *d = diag_with(res, "payload ignored");
    assert_string_equal(d->source, "<runtime>");
    assert_int_equal(d->line, 1);
}

static void invalid_env_settings_warn_name_the_variable_and_count_as_unset(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "maximal");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "maybe");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", "30x");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "-1");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_ENABLED", "2");
    free(config_file(f, "c.yaml", "health_check_level: standard\nhealth_check_interval: 20\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_level(res), DYNHC_LEVEL_STANDARD);
    assert_true(dynhc_result_interval_ns(res) == 20000000000ull);
    assert_true(dynhc_result_timeout_ns(res) == 3000000000ull);
    assert_int_equal(dynhc_result_enabled(res), 1);
    assert_diag_at(diag_with(res, "\"maximal\""), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_LEVEL", 0, 0);
    assert_diag_at(diag_with(res, "\"maybe\""), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", 0, 0);
    assert_diag_at(diag_with(res, "\"30x\""), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_INTERVAL", 0, 0);
    assert_diag_at(diag_with(res, "\"-1\""), DYNHC_SEVERITY_WARNING,
                   "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", 0, 0);
    assert_diag_at(diag_with(res, "\"2\""), DYNHC_SEVERITY_WARNING, "DYN_HEALTH_CHECK_ENABLED",
                   0, 0);
}

static void invalid_config_settings_warn_at_their_position(void **state)
{
    fixture *f = *state;
    char *path = config_file(f, "c.yaml",
                             "model_type: llama\n"
                             "health_check_level: [a]\n"
                             "health_check_timeout: 0\n"
                             "health_check_enabled: sometimes\n"
                             "model: 42\n");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_model_type(res), DYNHC_MODEL_GENERATE);
    assert_diag_at(diag_with(res, "model_type: invalid model type \"llama\""),
                   DYNHC_SEVERITY_WARNING, path, 1, 13);
    assert_diag_at(diag_with(res, "health_check_level: invalid level (a list)"),
                   DYNHC_SEVERITY_WARNING, path, 2, 21);
    assert_diag_at(diag_with(res, "health_check_timeout"), DYNHC_SEVERITY_WARNING, path, 3, 23);
    assert_diag_at(diag_with(res, "\"sometimes\""), DYNHC_SEVERITY_WARNING, path, 4, 23);
    assert_diag_at(diag_with(res, "model: expected a string"), DYNHC_SEVERITY_WARNING, path, 5,
                   8);
    free(path);
}

static void strict_mode_turns_a_warning_into_a_failure_without_payload(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_strict(f->r, 1), DYNHC_OK);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "loud");
    const dynhc_result *res = resolve(f, DYNHC_ERR_STRICT);
    assert_null(dynhc_result_text(res));
    assert_null(dynhc_result_payload(res));
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_NONE);
    const dynhc_diag *d = diag_with(res, "\"loud\"");
    assert_int_equal(d->severity, DYNHC_SEVERITY_ERROR);
    /* Nothing is skipped when resolution fails: the text does not say so. */
    assert_null(strstr(d->message, "ignored"));
    assert_int_equal(dynhc_resolver_set_strict(f->r, 0), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_non_null(strstr(diag_with(res, "\"loud\"")->message, "; ignored"));
}

static void strict_mode_fails_on_a_payload_check(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_strict(f->r, 1), DYNHC_OK);
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":\"x\",\"temperature\":3}"),
                     DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_ERR_STRICT);
    assert_diag_at(diag_with(res, "\"temperature\" is 3"), DYNHC_SEVERITY_ERROR, "<runtime>", 1,
                   29);
}

static void payload_checks_warn_at_the_value_but_keep_the_payload(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_model_type(f->r, "chat"), DYNHC_OK);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD",
                 "{\"messages\":[],\"max_tokens\":300,\"top_p\":0,\"stream\":\"no\","
                 "\"presence_penalty\":-3,\"frequency_penalty\":\"x\",\"max_completion_tokens\":0}");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV);
    const char *var = "DYN_HEALTH_CHECK_PAYLOAD";
    assert_diag_at(diag_with(res, "non-empty \"messages\""), DYNHC_SEVERITY_WARNING, var, 1, 13);
    assert_diag_at(diag_with(res, "large budget"), DYNHC_SEVERITY_WARNING, var, 1, 29);
    assert_diag_at(diag_with(res, "\"top_p\""), DYNHC_SEVERITY_WARNING, var, 1, 41);
    assert_non_null(diag_with(res, "\"stream\" is the string \"no\": expected true or false"));
    assert_non_null(diag_with(res, "\"presence_penalty\" is -3"));
    assert_non_null(diag_with(res, "\"frequency_penalty\" is the string \"x\": expected a number in [-2, 2]"));
    assert_non_null(diag_with(res, "\"max_completion_tokens\" is 0: expected a positive integer"));
    assert_int_equal(dynhc_result_token_budget(res), 300);
}

static void shape_checks_follow_the_model_type(void **state)
{
    fixture *f = *state;
    const struct {
        const char *type;
        const char *payload;
        const char *message;
    } cases[] = {
        {"generate", "{\"max_tokens\":1}", "needs \"prompt\" or \"token_ids\""},
        {"generate", "{\"prompt\":5}", "\"prompt\" must be"},
        {"generate", "{\"token_ids\":[1,-2]}", "non-negative integers"},
        {"chat", "{\"messages\":[{\"role\":\"user\"}]}", "\"role\" and a \"content\""},
        {"chat", "{\"messages\":\"hi\"}", "non-empty \"messages\""},
        {"embedding", "{\"prompt\":\"x\"}", "needs \"input\""},
        {"embedding", "{\"input\":[]}", "\"input\" must be"},
        {"tokens", "{\"prompt\":\"x\"}", "needs \"token_ids\""},
        {"tokens", "{\"token_ids\":[]}", "non-empty array of token ids"},
        {"tokens", "{\"token_ids\":[1],\"sampling_options\":{\"temperature\":9}}",
         "\"temperature\" is 9"},
        {"tokens", "{\"token_ids\":[1],\"stop_conditions\":{\"max_tokens\":1.5}}",
         "\"max_tokens\" is 1.5: expected a positive integer"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(dynhc_resolver_set_model_type(f->r, cases[i].type), DYNHC_OK);
        assert_int_equal(dynhc_resolver_set_payload(f->r, cases[i].payload), DYNHC_OK);
        const dynhc_result *res = resolve(f, DYNHC_OK);
        assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_RUNTIME);
        assert_string_equal(diag_with(res, cases[i].message)->source, "<runtime>");
    }
}

static void empty_object_payload_wins_with_a_warning(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "{}");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV);
    assert_json_equal("{\"_health_check\":true}", dynhc_result_text(res));
    assert_int_equal(dynhc_result_diag_count(res), 1);
    assert_non_null(diag_with(res, "empty object"));
}

static void check_all_reports_bad_system_settings(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_SYSTEM_PORT", "70000");
    fake_env_set(&f->env, "DYN_SYSTEM_HEALTH_PATH", "health");
    fake_env_set(&f->env, "DYN_SYSTEM_LIVE_PATH", "/live?x");
    fake_env_set(&f->env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "up");
    fake_env_set(&f->env, "DYN_SYSTEM_HOST", "my host");
    fake_env_set(&f->env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"generate\", 3]");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_diag_count(res), 0);
    assert_int_equal(dynhc_resolver_set_check_all(f->r, 1), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_diag_count(res), 6);
    assert_string_equal(diag_with(res, "\"70000\"")->source, "DYN_SYSTEM_PORT");
    assert_string_equal(diag_with(res, "\"health\"")->source, "DYN_SYSTEM_HEALTH_PATH");
    assert_string_equal(diag_with(res, "\"/live?x\"")->source, "DYN_SYSTEM_LIVE_PATH");
    assert_string_equal(diag_with(res, "\"up\"")->source, "DYN_SYSTEM_STARTING_HEALTH_STATUS");
    assert_string_equal(diag_with(res, "\"my host\"")->source, "DYN_SYSTEM_HOST");
    assert_diag_at(diag_with(res, "non-empty strings"), DYNHC_SEVERITY_WARNING,
                   "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", 1, 14);
}

static void setters_reject_bad_arguments_and_null_resolvers(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_model_type(f->r, "llama"), DYNHC_ERR_UNKNOWN_MODEL_TYPE);
    assert_int_equal(dynhc_resolver_set_level(f->r, "max"), DYNHC_ERR_UNKNOWN_LEVEL);
    assert_int_equal(dynhc_resolver_set_bos_token_id(f->r, -1), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_resolver_set_disabled(f->r, 2), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_resolver_set_custom_default(f->r, "[1]"), DYNHC_ERR_JSON);
    assert_int_equal(dynhc_resolver_set_custom_default(f->r, "{"), DYNHC_ERR_JSON);
    assert_int_equal(dynhc_resolver_set_interval_ns(f->r, 25ull * 3600 * 1000000000ull),
                     DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_resolver_set_payload(NULL, "{}"), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_resolver_set_strict(NULL, 1), DYNHC_ERR_INVALID_ARG);
    assert_int_equal(dynhc_resolver_resolve(NULL, &f->res), DYNHC_ERR_INVALID_ARG);
    assert_null(f->res);
    assert_int_equal(dynhc_resolver_resolve(f->r, NULL), DYNHC_ERR_INVALID_ARG);
    dynhc_resolver_free(NULL);
    dynhc_result_free(NULL);
    assert_null(dynhc_result_text(NULL));
    assert_int_equal(dynhc_result_diag_count(NULL), 0);
    /* The earlier failures left the settings unchanged. */
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_model_type(res), DYNHC_MODEL_GENERATE);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
}

/* ---- hints where people go wrong -------------------------------------------- */

static void env_payload_that_looks_like_a_path_says_to_write_at(void **state)
{
    fixture *f = *state;
    const struct {
        const char *value;
        unsigned column;
        const char *message;
    } cases[] = {
        {"/etc/hc.json", 1,
         "expected JSON text, found what looks like a file path: to read a file, write "
         "@/etc/hc.json; payload ignored"},
        {"./payload.json", 1,
         "expected JSON text, found what looks like a file path: to read a file, write "
         "@./payload.json; payload ignored"},
        {"  payload.JSON\n", 3,
         "expected JSON text, found what looks like a file path: to read a file, write "
         "@payload.JSON; payload ignored"},
        {"~/hc.json", 1,
         "expected JSON text, found what looks like a file path: to read a file, write @ "
         "and its full path (~ is not expanded); payload ignored"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", cases[i].value);
        const dynhc_result *res = resolve(f, DYNHC_OK);
        assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
        assert_int_equal(dynhc_result_diag_count(res), 1);
        const dynhc_diag *d = dynhc_result_diag(res, 0);
        assert_diag_at(d, DYNHC_SEVERITY_WARNING, "DYN_HEALTH_CHECK_PAYLOAD", 1, cases[i].column);
        assert_string_equal(d->message, cases[i].message);
    }
    /* Text that is no path keeps the reader's message. */
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "hello world");
    assert_string_equal(dynhc_result_diag(resolve(f, DYNHC_OK), 0)->message,
                        "expected a JSON value; payload ignored");
}

static void config_and_runtime_payloads_that_look_like_paths_get_the_hint(void **state)
{
    fixture *f = *state;
    char *path = config_file(f, "c.yaml", "health_check_payload: /etc/hc.json\n");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_diag_at(dynhc_result_diag(res, 0), DYNHC_SEVERITY_WARNING, path, 1, 23);
    assert_string_equal(dynhc_result_diag(res, 0)->message,
                        "health_check_payload: expected JSON text, found what looks like a file "
                        "path: to read a file, write @/etc/hc.json; payload ignored");
    free(path);
    assert_int_equal(dynhc_resolver_set_payload(f->r, " hc.json\n"), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_string_equal(diag_from(res, "<runtime>")->message,
                        "expected JSON text, found what looks like a file path: to read a file, "
                        "write --payload @hc.json (dynhc_resolver_set_payload_file() in the API); "
                        "payload ignored");
}

/* Whether s is well-formed UTF-8 (a message must never pass bad bytes on). */
static int is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                          : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || (n > 1 && *p < 0xC2)) {
            return 0;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return 0;
            }
        }
        p += n;
    }
    return 1;
}

static void settings_that_are_not_utf8_say_so_and_never_echo_bad_bytes(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "\xff");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", "1\xe9s");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "dr\xc3\xa9i");
    fake_env_set(&f->env, "DYN_SYSTEM_HOST", "h\xe9st");
    fake_env_set(&f->env, "DYN_SYSTEM_HEALTH_PATH", "/h\xe9");
    assert_int_equal(dynhc_resolver_set_check_all(f->r, 1), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_string_equal(diag_from(res, "DYN_HEALTH_CHECK_LEVEL")->message,
                        "invalid level \"\\xFF\": invalid UTF-8 (byte 0xFF); ignored");
    assert_string_equal(diag_from(res, "DYN_HEALTH_CHECK_INTERVAL")->message,
                        "invalid duration \"1\\xE9s\": invalid UTF-8 (byte 0xE9); ignored");
    /* Well-formed UTF-8 is quoted as it is. */
    assert_string_equal(diag_from(res, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT")->message,
                        "invalid duration \"dr\xc3\xa9i\": expected a number of seconds (10, 2.5) "
                        "or a number with one unit ms, s, m or h (500ms, 1m); ignored");
    assert_string_equal(diag_from(res, "DYN_SYSTEM_HOST")->message,
                        "invalid value \"h\\xE9st\": invalid UTF-8 (byte 0xE9); ignored");
    assert_string_equal(diag_from(res, "DYN_SYSTEM_HEALTH_PATH")->message,
                        "invalid value \"/h\\xE9\": invalid UTF-8 (byte 0xE9); ignored");
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        assert_true(is_utf8(dynhc_result_diag(res, i)->message));
    }

    dynhc_config config = DYNHC_CONFIG_INIT;
    config.model_type = "ch\xe4t";
    config.model = "caf\xe9";
    assert_int_equal(dynhc_resolver_set_config(f->r, &config), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_null(dynhc_result_model_name(res));
    assert_string_equal(diag_with(res, "model_type")->message,
                        "model_type: invalid model type \"ch\\xE4t\": invalid UTF-8 (byte 0xE4); "
                        "ignored");
    assert_string_equal(diag_with(res, "model:")->message,
                        "model: invalid UTF-8 (byte 0xE9); ignored");
}

/* ---- precedence ---------------------------------------------------------- */

static void builtin_default_is_used_when_nothing_is_set(void **state)
{
    fixture *f = *state;
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_null(dynhc_result_origin(res));
    assert_json_equal("{\"prompt\":\"1\",\"max_tokens\":1,\"temperature\":0.0,\"stream\":false,"
                      "\"_health_check\":true}",
                      dynhc_result_text(res));
    assert_int_equal(dynhc_result_diag_count(res), 0);
    assert_int_equal(dynhc_result_token_budget(res), 1);
    assert_int_equal(dynhc_result_enabled(res), 1);
    assert_true(dynhc_result_interval_ns(res) == 10000000000ull);
    assert_true(dynhc_result_timeout_ns(res) == 3000000000ull);
}

static void runtime_payload_beats_env_which_beats_config(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml", "health_check_payload: {prompt: config}\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_CONFIG);
    assert_json_equal("{\"prompt\":\"config\",\"_health_check\":true}", dynhc_result_text(res));

    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", " {\"prompt\":\"env\"}\n");
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV);
    assert_string_equal(dynhc_result_origin(res), "DYN_HEALTH_CHECK_PAYLOAD");
    assert_json_equal("{\"prompt\":\"env\",\"_health_check\":true}", dynhc_result_text(res));

    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":\"runtime\"}"), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_RUNTIME);
    assert_string_equal(dynhc_result_origin(res), "<runtime>");
    assert_json_equal("{\"prompt\":\"runtime\",\"_health_check\":true}", dynhc_result_text(res));
    assert_int_equal(dynhc_result_diag_count(res), 0);
}

static void runtime_payload_can_come_from_a_file_or_a_cjson_object(void **state)
{
    fixture *f = *state;
    char *path = temp_file(f->dir, "rt.json", "{\"prompt\":\"file\"}");
    assert_int_equal(dynhc_resolver_set_payload_file(f->r, path), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_RUNTIME);
    assert_string_equal(dynhc_result_origin(res), path);
    assert_json_equal("{\"prompt\":\"file\",\"_health_check\":true}", dynhc_result_text(res));

    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "prompt", "object");
    assert_int_equal(dynhc_resolver_set_payload_json(f->r, obj), DYNHC_OK);
    cJSON_Delete(obj);
    res = resolve(f, DYNHC_OK);
    assert_json_equal("{\"prompt\":\"object\",\"_health_check\":true}", dynhc_result_text(res));
    free(path);
}

static void env_at_file_reads_the_payload_from_that_file(void **state)
{
    fixture *f = *state;
    char *path = temp_file(f->dir, "p.json", "\xEF\xBB\xBF{\"prompt\":\"from file\"}\n");
    char value[300];
    snprintf(value, sizeof(value), "@%s", path);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", value);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV_FILE);
    assert_string_equal(dynhc_result_origin(res), path);
    assert_json_equal("{\"prompt\":\"from file\",\"_health_check\":true}",
                      dynhc_result_text(res));
    free(path);
}

static void config_payload_string_is_json_or_a_path_beside_the_config(void **state)
{
    fixture *f = *state;
    free(temp_file(f->dir, "beside.json", "{\"prompt\":\"beside\"}"));
    free(config_file(f, "c.yaml", "health_check_payload: '@beside.json'\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_CONFIG);
    assert_json_equal("{\"prompt\":\"beside\",\"_health_check\":true}", dynhc_result_text(res));

    char *path = config_file(f, "c2.yaml", "health_check_payload: '{\"prompt\": \"text\"}'\n");
    res = resolve(f, DYNHC_OK);
    assert_json_equal("{\"prompt\":\"text\",\"_health_check\":true}", dynhc_result_text(res));

    free(path);
    path = config_file(f, "c3.yaml", "x: 1\nhealth_check_payload: '{\"prompt\": }'\n");
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_diag_at(diag_with(res, "line 1, column 12 of the JSON text"), DYNHC_SEVERITY_WARNING,
                   path, 2, 23);
    free(path);
}

static void json_config_file_is_read_by_extension(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.JSON",
                     "{\"model\":\"gpt2\",\"model_type\":\"embedding\",\"health_check_level\":"
                     "\"standard\",\"unknown_key\":[1,2,3]}"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_string_equal(dynhc_result_model_name(res), "gpt2");
    assert_int_equal(dynhc_result_model_type(res), DYNHC_MODEL_EMBEDDING);
    assert_json_equal("{\"input\":\"The sky is\",\"_health_check\":true}", dynhc_result_text(res));
    assert_int_equal(dynhc_result_token_budget(res), 0);
    assert_int_equal(dynhc_result_diag_count(res), 0);
}

static void custom_default_sits_below_config_and_resolver_one_beats_process_one(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_set_custom_health_check_payload("{\"prompt\":\"process\"}"), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_CUSTOM);
    assert_json_equal("{\"prompt\":\"process\",\"_health_check\":true}", dynhc_result_text(res));

    assert_int_equal(dynhc_resolver_set_custom_default(f->r, "{\"prompt\":\"mine\"}"), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_json_equal("{\"prompt\":\"mine\",\"_health_check\":true}", dynhc_result_text(res));

    free(config_file(f, "c.yaml", "health_check_payload:\n  prompt: config\n"));
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_CONFIG);

    assert_int_equal(dynhc_set_custom_health_check_payload("[]"), DYNHC_ERR_JSON);
    assert_int_equal(dynhc_set_custom_health_check_payload("{bad"), DYNHC_ERR_JSON);
}

/* A custom default is sent as its caller wrote it, like every text source:
 * "0.0" stays "0.0" (a tree printed again said "0"); its warnings point
 * inside its text. */
static void custom_defaults_keep_the_callers_spelling_and_positions(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_set_custom_health_check_payload(
                         "{\"prompt\": \"p\",\n \"temperature\": 0.0, \"top_p\": 1.50e0}"),
                     DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_string_equal(dynhc_result_text(res),
                        "{\"prompt\":\"p\",\"temperature\":0.0,\"top_p\":1.50e0,"
                        "\"_health_check\":true}");
    assert_int_equal(dynhc_result_diag_count(res), 1);
    assert_diag_at(dynhc_result_diag(res, 0), DYNHC_SEVERITY_WARNING,
                   "process-wide custom default", 2, 31);
    assert_int_equal(dynhc_resolver_set_custom_default(f->r, "{\"input\":\"x\",\"n\":1.0}"),
                     DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_string_equal(dynhc_result_text(res), "{\"input\":\"x\",\"n\":1.0,\"_health_check\":true}");
    assert_int_equal(dynhc_set_custom_health_check_payload(NULL), DYNHC_OK);
}

static void level_comes_from_runtime_then_env_then_config(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml", "health_check_level: comprehensive\n"));
    assert_int_equal(dynhc_result_level(resolve(f, DYNHC_OK)), DYNHC_LEVEL_COMPREHENSIVE);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "\tStandard ");
    assert_int_equal(dynhc_result_level(resolve(f, DYNHC_OK)), DYNHC_LEVEL_STANDARD);
    assert_int_equal(dynhc_resolver_set_level(f->r, "MINIMAL"), DYNHC_OK);
    assert_int_equal(dynhc_result_level(resolve(f, DYNHC_OK)), DYNHC_LEVEL_MINIMAL);
}

static void model_type_comes_from_runtime_then_config(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml", "model_type: Chat-Completions\n"));
    assert_int_equal(dynhc_result_model_type(resolve(f, DYNHC_OK)), DYNHC_MODEL_CHAT);
    assert_int_equal(dynhc_resolver_set_model_type(f->r, "embed"), DYNHC_OK);
    assert_int_equal(dynhc_result_model_type(resolve(f, DYNHC_OK)), DYNHC_MODEL_EMBEDDING);
    assert_int_equal(dynhc_resolver_set_model_type(f->r, NULL), DYNHC_OK);
    assert_int_equal(dynhc_result_model_type(resolve(f, DYNHC_OK)), DYNHC_MODEL_CHAT);
}

static void blank_env_values_count_as_unset(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", " \t\n");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "  ");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_DEFAULT);
    assert_int_equal(dynhc_result_diag_count(res), 0);
}

static void disabled_flag_follows_precedence_and_beats_a_runtime_payload(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml", "health_check_payload_disabled: true\n"));
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":\"x\"}"), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_DISABLED);
    assert_null(dynhc_result_text(res));
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_NONE);

    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "off");
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_RUNTIME);

    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "YES");
    resolve(f, DYNHC_DISABLED);
    assert_int_equal(dynhc_resolver_set_disabled(f->r, 0), DYNHC_OK);
    resolve(f, DYNHC_OK);
}

static void scheduler_settings_follow_the_same_precedence(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml",
                     "health_check_enabled: false\nhealth_check_interval: 2.5\n"
                     "health_check_timeout: 500ms\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_enabled(res), 0);
    assert_true(dynhc_result_interval_ns(res) == 2500000000ull);
    assert_true(dynhc_result_timeout_ns(res) == 500000000ull);

    fake_env_set(&f->env, "DYN_CANARY_WAIT_TIME", "7");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_ENABLED", "on");
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_enabled(res), 1);
    assert_true(dynhc_result_interval_ns(res) == 7000000000ull);

    fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", "1m");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "4");
    res = resolve(f, DYNHC_OK);
    assert_true(dynhc_result_interval_ns(res) == 60000000000ull);
    assert_true(dynhc_result_timeout_ns(res) == 4000000000ull);

    assert_int_equal(dynhc_resolver_set_interval_ns(f->r, 5), DYNHC_OK);
    assert_int_equal(dynhc_resolver_set_enabled(f->r, 0), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_true(dynhc_result_interval_ns(res) == 5);
    assert_int_equal(dynhc_result_enabled(res), 0);
}

static void enabled_default_is_the_callers_choice(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_enabled_default(f->r, 0), DYNHC_OK);
    assert_int_equal(dynhc_result_enabled(resolve(f, DYNHC_OK)), 0);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_ENABLED", "true");
    assert_int_equal(dynhc_result_enabled(resolve(f, DYNHC_OK)), 1);
}

/* ---- marker, merge, token budget ----------------------------------------- */

static void marker_is_added_kept_renamed_or_turned_off(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":\"x\",\"_health_check\":false}"),
                     DYNHC_OK);
    assert_json_equal("{\"prompt\":\"x\",\"_health_check\":false}",
                      dynhc_result_text(resolve(f, DYNHC_OK)));
    assert_int_equal(dynhc_resolver_set_marker_key(f->r, "_HEALTH_CHECK"), DYNHC_OK);
    assert_json_equal("{\"prompt\":\"x\",\"_health_check\":false,\"_HEALTH_CHECK\":true}",
                      dynhc_result_text(resolve(f, DYNHC_OK)));
    assert_int_equal(dynhc_resolver_set_marker_key(f->r, NULL), DYNHC_OK);
    assert_json_equal("{\"prompt\":\"x\",\"_health_check\":false}",
                      dynhc_result_text(resolve(f, DYNHC_OK)));
}

static void merge_mode_patches_each_source_over_the_ones_below(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_merge(f->r, 1), DYNHC_OK);
    free(config_file(f, "c.yaml", "health_check_payload:\n  max_tokens: 2\n  stream: null\n"));
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\":\"env\"}");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_ENV);
    assert_json_equal("{\"prompt\":\"env\",\"max_tokens\":2,\"temperature\":0.0,"
                      "\"_health_check\":true}",
                      dynhc_result_text(res));
    assert_int_equal(dynhc_result_token_budget(res), 2);
    char *explain = dynhc_result_explain(res);
    assert_non_null(strstr(explain, "merged"));
    dynhc_free(explain);
}

static void token_budget_reads_each_model_types_field(void **state)
{
    fixture *f = *state;
    const struct {
        const char *type;
        const char *payload;
        long long budget;
    } cases[] = {
        {"generate", "{\"prompt\":\"x\",\"max_completion_tokens\":7}", 7},
        {"chat", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3}", 3},
        {"embedding", "{\"input\":\"x\",\"max_tokens\":3}", 0},
        {"tokens", "{\"token_ids\":[1],\"stop_conditions\":{\"max_tokens\":9}}", 9},
        {"generate", "{\"prompt\":\"x\"}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(dynhc_resolver_set_model_type(f->r, cases[i].type), DYNHC_OK);
        assert_int_equal(dynhc_resolver_set_payload(f->r, cases[i].payload), DYNHC_OK);
        assert_int_equal(dynhc_result_token_budget(resolve(f, DYNHC_OK)), cases[i].budget);
    }
}

static void explain_names_every_setting_and_its_origin(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "standard");
    assert_int_equal(dynhc_resolver_set_model_type(f->r, "chat"), DYNHC_OK);
    char *explain = dynhc_result_explain(resolve(f, DYNHC_OK));
    assert_non_null(explain);
    assert_non_null(strstr(explain, "payload: built-in default for chat at level standard"));
    assert_non_null(strstr(explain, "model type: chat (from runtime)"));
    assert_non_null(strstr(explain, "level: standard (from environment DYN_HEALTH_CHECK_LEVEL)"));
    assert_non_null(strstr(explain, "token budget: 5"));
    assert_non_null(strstr(explain, "interval: 10s (from default)"));
    dynhc_free(explain);
}

static void setting_origin_names_the_kind_and_the_source_of_each_setting(void **state)
{
    fixture *f = *state;
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "yes");
    char *path = config_file(f, "c.yaml", "health_check_level: standard\n");
    assert_int_equal(dynhc_resolver_set_model_type(f->r, "chat"), DYNHC_OK);
    const dynhc_result *res = resolve(f, DYNHC_DISABLED);
    assert_string_equal(dynhc_result_setting_kind(res, DYNHC_SETTING_DISABLED), "environment");
    assert_string_equal(dynhc_result_setting_origin(res, DYNHC_SETTING_DISABLED),
                        "DYN_HEALTH_CHECK_PAYLOAD_DISABLED");
    assert_string_equal(dynhc_result_setting_kind(res, DYNHC_SETTING_LEVEL), "config");
    assert_string_equal(dynhc_result_setting_origin(res, DYNHC_SETTING_LEVEL), path);
    assert_string_equal(dynhc_result_setting_kind(res, DYNHC_SETTING_MODEL_TYPE), "runtime");
    assert_null(dynhc_result_setting_origin(res, DYNHC_SETTING_MODEL_TYPE));
    assert_string_equal(dynhc_result_setting_kind(res, DYNHC_SETTING_TIMEOUT), "default");
    assert_null(dynhc_result_setting_origin(res, DYNHC_SETTING_TIMEOUT));
    /* Outside the enum, and without a result: nothing, never a crash. */
    assert_null(dynhc_result_setting_kind(res, (dynhc_setting)-1));
    assert_null(dynhc_result_setting_kind(res, (dynhc_setting)(DYNHC_SETTING_TIMEOUT + 1)));
    assert_null(dynhc_result_setting_origin(res, (dynhc_setting)99));
    assert_null(dynhc_result_setting_kind(NULL, DYNHC_SETTING_LEVEL));
    free(path);
}

/* ---- numbers people read ---------------------------------------------------- */

/* The explanation's line for name ("interval"), without its end. */
static void assert_explain_line(const dynhc_result *res, const char *line)
{
    char *explain = dynhc_result_explain(res);
    assert_non_null(explain);
    if (strstr(explain, line) == NULL) {
        fail_msg("no \"%s\" in:\n%s", line, explain);
    }
    dynhc_free(explain);
}

static void explain_prints_durations_as_exact_decimals(void **state)
{
    fixture *f = *state;
    const struct {
        const char *value;
        const char *line;
    } cases[] = {
        {"3599", "interval: 3599s (from environment DYN_HEALTH_CHECK_INTERVAL)"},
        {"1000", "interval: 1000s ("},
        {"2.5", "interval: 2.5s ("},
        {"250ms", "interval: 0.25s ("},
        {"1.000000001", "interval: 1.000000001s ("},
        {"24h", "interval: 86400s ("},
        {"1.5m", "interval: 90s ("},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", cases[i].value);
        assert_explain_line(resolve(f, DYNHC_OK), cases[i].line);
    }
    assert_int_equal(dynhc_resolver_set_timeout_ns(f->r, 1), DYNHC_OK);
    assert_explain_line(resolve(f, DYNHC_OK), "timeout: 0.000000001s (from runtime)");
}

/* A host that adopts a locale with a decimal comma (setlocale(LC_ALL, ""))
 * still reads '.' in every number dynhc prints. */
static void numbers_people_read_ignore_a_comma_decimal_locale(void **state)
{
    fixture *f = *state;
    if (setlocale(LC_ALL, "de_DE.UTF-8") == NULL && setlocale(LC_ALL, "de_DE.utf8") == NULL) {
        skip(); /* no locale with a decimal comma on this machine */
    }
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", "2.5");
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{\"prompt\":\"x\",\"temperature\":2.0000001,"
                                                      "\"top_p\":1.5}"),
                     DYNHC_OK);
    free(config_file(f, "c.yaml", "health_check_timeout: -0.5\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    char *explain = dynhc_result_explain(res);
    const char *temperature = diag_with(res, "\"temperature\"")->message;
    const char *top_p = diag_with(res, "\"top_p\"")->message;
    const char *timeout = diag_with(res, "health_check_timeout")->message;
    char copy[4][300];
    snprintf(copy[0], sizeof(copy[0]), "%s", explain != NULL ? explain : "");
    snprintf(copy[1], sizeof(copy[1]), "%s", temperature);
    snprintf(copy[2], sizeof(copy[2]), "%s", top_p);
    snprintf(copy[3], sizeof(copy[3]), "%s", timeout);
    dynhc_free(explain);
    setlocale(LC_ALL, "C");
    assert_non_null(strstr(copy[0], "interval: 2.5s ("));
    assert_string_equal(copy[1], "\"temperature\" is 2.0000001: expected a number in [0, 2]");
    assert_string_equal(copy[2], "\"top_p\" is 1.5: expected a number in (0, 1]");
    assert_string_equal(copy[3], "health_check_timeout: invalid duration -0.5: must be greater "
                                 "than zero; ignored");
}

static int restore_c_locale(void **state)
{
    setlocale(LC_ALL, "C");
    return teardown(state);
}

static void config_setting_warnings_quote_the_rejected_value(void **state)
{
    fixture *f = *state;
    char *path = config_file(f, "c.yaml",
                             "health_check_timeout: 0\n"
                             "health_check_interval: 90000.5\n"
                             "health_check_enabled: 7\n"
                             "health_check_level: {a: 1}\n");
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_string_equal(diag_with(res, "health_check_timeout")->message,
                        "health_check_timeout: invalid duration 0: must be greater than zero; "
                        "ignored");
    assert_string_equal(diag_with(res, "health_check_interval")->message,
                        "health_check_interval: invalid duration 90000.5: above the 24 h limit; "
                        "ignored");
    assert_string_equal(diag_with(res, "health_check_enabled")->message,
                        "health_check_enabled: invalid boolean 7: expected a boolean; ignored");
    assert_string_equal(diag_with(res, "health_check_level")->message,
                        "health_check_level: invalid level (a mapping): expected a string; "
                        "ignored");
    free(path);
    path = config_file(f, "c.json", "{\"health_check_interval\": -1e-3, "
                                    "\"health_check_timeout\": true}");
    res = resolve(f, DYNHC_OK);
    assert_string_equal(diag_with(res, "health_check_interval")->message,
                        "health_check_interval: invalid duration -1e-3: must be greater than "
                        "zero; ignored");
    assert_string_equal(diag_with(res, "health_check_timeout")->message,
                        "health_check_timeout: invalid duration true: expected a number of "
                        "seconds or a duration string; ignored");
    free(path);
}

/* A number of seconds in a config file is as exact as the same text in the
 * environment: 4.1 is 4.1 s, not the 4.099999999 s of 4.1 * 1e9 in doubles. */
static void config_durations_given_as_numbers_are_exact(void **state)
{
    fixture *f = *state;
    free(config_file(f, "c.yaml",
                     "health_check_interval: 4.1\nhealth_check_timeout: 0x10\n"));
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_true(dynhc_result_interval_ns(res) == 4100000000ull);
    assert_true(dynhc_result_timeout_ns(res) == 16000000000ull);
    assert_explain_line(res, "interval: 4.1s (from config");
    free(config_file(f, "c.json", "{\"health_check_interval\": 1.000000007,"
                                  "\"health_check_timeout\": 2.5e1}"));
    res = resolve(f, DYNHC_OK);
    assert_true(dynhc_result_interval_ns(res) == 1000000007ull);
    assert_true(dynhc_result_timeout_ns(res) == 25000000000ull);
}

static void range_warnings_print_the_number_as_written(void **state)
{
    fixture *f = *state;
    const struct {
        const char *payload;
        const char *message;
    } cases[] = {
        {"{\"prompt\":\"x\",\"temperature\":2.0000001}",
         "\"temperature\" is 2.0000001: expected a number in [0, 2]"},
        {"{\"prompt\":\"x\",\"temperature\":2.50}",
         "\"temperature\" is 2.50: expected a number in [0, 2]"},
        {"{\"prompt\":\"x\",\"top_p\":1e-400}", "\"top_p\" is 1e-400: expected a number in (0, 1]"},
        {"{\"prompt\":\"x\",\"presence_penalty\":-2.000000000000001}",
         "\"presence_penalty\" is -2.000000000000001: expected a number in [-2, 2]"},
        {"{\"prompt\":\"x\",\"max_tokens\":1E3}",
         "\"max_tokens\" is 1E3: a large budget for a health check (above 256)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(dynhc_resolver_set_payload(f->r, cases[i].payload), DYNHC_OK);
        const dynhc_result *res = resolve(f, DYNHC_OK);
        assert_int_equal(dynhc_result_diag_count(res), 1);
        assert_string_equal(dynhc_result_diag(res, 0)->message, cases[i].message);
    }
    /* A YAML config keeps the number's text too. */
    assert_int_equal(dynhc_resolver_set_payload(f->r, NULL), DYNHC_OK);
    free(config_file(f, "c.yaml", "health_check_payload:\n  prompt: x\n  temperature: 2.0000001\n"));
    assert_non_null(diag_with(resolve(f, DYNHC_OK), "\"temperature\" is 2.0000001: expected"));
    /* Without the text (a payload built as a tree, or merged), the shortest
     * spelling that reads back as the same double. */
    cJSON *tree = cJSON_Parse("{\"prompt\":\"x\",\"temperature\":3.0000000000000004,"
                              "\"top_p\":-0.1}");
    assert_non_null(tree);
    assert_int_equal(dynhc_resolver_set_payload_json(f->r, tree), DYNHC_OK);
    cJSON_Delete(tree);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_non_null(diag_with(res, "\"temperature\" is 3.0000000000000004: expected"));
    assert_non_null(diag_with(res, "\"top_p\" is -0.1: expected"));
}

/* ---- the order of diagnostics ---------------------------------------------- */

typedef struct expected_diag {
    const char *source;
    unsigned line;
    unsigned column;
    const char *start; /* how the message starts */
} expected_diag;

/* Fails unless the diagnostics are exactly these, in this order. */
static void assert_diag_order(const dynhc_result *res, const expected_diag *want, size_t n)
{
    size_t count = dynhc_result_diag_count(res);
    for (size_t i = 0; i < count || i < n; i++) {
        const dynhc_diag *d = dynhc_result_diag(res, i);
        if (i < n && d != NULL && strcmp(d->source, want[i].source) == 0 &&
            d->line == want[i].line && d->column == want[i].column &&
            strncmp(d->message, want[i].start, strlen(want[i].start)) == 0) {
            continue;
        }
        for (size_t k = 0; k < count; k++) {
            const dynhc_diag *e = dynhc_result_diag(res, k);
            print_message("  %s:%u:%u: %s\n", e->source, e->line, e->column, e->message);
        }
        if (i < n) {
            fail_msg("diagnostic %zu: expected %s:%u:%u: %s...", i, want[i].source, want[i].line,
                     want[i].column, want[i].start);
        }
        fail_msg("diagnostic %zu was not expected", i);
    }
}

/* Sources in precedence order (runtime, environment, config file); the
 * environment's variables in the order of SPEC 1.2's table; inside a text
 * or file, the order of their positions. */
static void diagnostics_come_in_source_order(void **state)
{
    fixture *f = *state;
    assert_int_equal(dynhc_resolver_set_payload(f->r, "{"), DYNHC_OK);
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_INTERVAL", "30x");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_LEVEL", "loud");
    fake_env_set(&f->env, "DYN_HEALTH_CHECK_PAYLOAD", "@missing.json");
    char *path = config_file(f, "c.yaml",
                             "health_check_timeout: 0\n"
                             "model: 5\n"
                             "health_check_level: loud\n"
                             "model_type: llama\n"
                             "health_check_payload_disabled: maybe\n"
                             "health_check_payload:\n"
                             "  stream: \"no\"\n"
                             "  max_tokens: 0\n"
                             "  prompt: 5\n");
    const expected_diag want[] = {
        {"<runtime>", 1, 2, "unexpected end of text"},
        {"DYN_HEALTH_CHECK_PAYLOAD", 0, 0, "cannot read @missing.json"},
        {"DYN_HEALTH_CHECK_LEVEL", 0, 0, "invalid level"},
        {"DYN_HEALTH_CHECK_INTERVAL", 0, 0, "invalid duration"},
        {path, 1, 23, "health_check_timeout:"},
        {path, 2, 8, "model:"},
        {path, 3, 21, "health_check_level:"},
        {path, 4, 13, "model_type:"},
        {path, 5, 32, "health_check_payload_disabled:"},
        {path, 7, 11, "\"stream\""},
        {path, 8, 15, "\"max_tokens\""},
        {path, 9, 11, "\"prompt\""},
    };
    assert_diag_order(resolve(f, DYNHC_OK), want, sizeof(want) / sizeof(want[0]));
    free(path);
}

/* A payload file named in the config file reports at its own lines, but
 * comes where the config file names it. */
static void payload_file_diagnostics_come_where_the_file_is_named(void **state)
{
    fixture *f = *state;
    char *payload = temp_file(f->dir, "p.json", "{\"stream\": 1,\n \"prompt\": 5}");
    char *path = config_file(f, "c.yaml",
                             "model: 5\nhealth_check_payload: '@p.json'\nhealth_check_level: 1\n");
    const expected_diag want[] = {
        {path, 1, 8, "model:"},
        {payload, 1, 12, "\"stream\""},
        {payload, 2, 12, "\"prompt\""},
        {path, 3, 21, "health_check_level:"},
    };
    assert_diag_order(resolve(f, DYNHC_OK), want, sizeof(want) / sizeof(want[0]));
    free(payload);
    free(path);
}

/* ---- seed entry points ---------------------------------------------------- */

static void get_health_check_payload_uses_config_struct_and_model_type(void **state)
{
    (void)state;
    dynhc_config config = DYNHC_CONFIG_INIT;
    config.health_check_level = "standard";
    char *text = dynhc_get_health_check_payload(&config, "embedding");
    assert_json_equal("{\"input\":\"The sky is\",\"_health_check\":true}", text);
    dynhc_free(text);

    config.model_type = "chat";
    config.health_check_payload = "{\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}";
    text = dynhc_get_health_check_payload(&config, NULL);
    assert_json_equal("{\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],"
                      "\"_health_check\":true}",
                      text);
    dynhc_free(text);

    config.health_check_payload_disabled = "true";
    assert_null(dynhc_get_health_check_payload(&config, NULL));
    assert_null(dynhc_get_health_check_payload(NULL, "no-such-type"));
}

/* A dynhc_config as a program built against a later header would pass it: one
 * more field at the end, and its size. */
typedef struct later_config {
    dynhc_config config;
    const char *health_check_future_setting;
} later_config;

static void config_struct_needs_its_size_and_refuses_settings_it_does_not_know(void **state)
{
    fixture *f = *state;
    dynhc_config config = DYNHC_CONFIG_INIT;
    assert_int_equal(config.size, sizeof(dynhc_config));
    config.health_check_level = "standard";
    assert_int_equal(dynhc_resolver_set_config(f->r, &config), DYNHC_OK);

    /* A size of 0 (the initialiser forgotten) or below the first version's:
     * refused, and the config set before stays. */
    dynhc_config zero = {0};
    zero.health_check_level = "comprehensive";
    assert_int_equal(dynhc_resolver_set_config(f->r, &zero), DYNHC_ERR_INVALID_ARG);
    zero.size = sizeof(dynhc_config) - sizeof(const char *);
    assert_int_equal(dynhc_resolver_set_config(f->r, &zero), DYNHC_ERR_INVALID_ARG);
    const dynhc_result *res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_level(res), DYNHC_LEVEL_STANDARD);
    assert_null(dynhc_get_health_check_payload(&zero, NULL));

    /* A later caller's struct: its unknown field left NULL is fine, set to
     * something it is refused (it would be ignored silently otherwise). */
    later_config later = {DYNHC_CONFIG_INIT, NULL};
    later.config.size = sizeof(later);
    later.config.health_check_level = "comprehensive";
    assert_int_equal(dynhc_resolver_set_config(f->r, &later.config), DYNHC_OK);
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_level(res), DYNHC_LEVEL_COMPREHENSIVE);
    later.health_check_future_setting = "on";
    later.config.health_check_level = "minimal";
    assert_int_equal(dynhc_resolver_set_config(f->r, &later.config), DYNHC_ERR_INVALID_ARG);
    res = resolve(f, DYNHC_OK);
    assert_int_equal(dynhc_result_level(res), DYNHC_LEVEL_COMPREHENSIVE);
}

static void get_health_check_payload_without_config_gives_the_default(void **state)
{
    (void)state;
    char *text = dynhc_get_health_check_payload(NULL, NULL);
    assert_json_equal("{\"prompt\":\"1\",\"max_tokens\":1,\"temperature\":0.0,\"stream\":false,"
                      "\"_health_check\":true}",
                      text);
    dynhc_free(text);
}

static void version_macros_and_runtime_version_agree(void **state)
{
    (void)state;
    char expected[32];
    snprintf(expected, sizeof(expected), "%d.%d.%d", DYNHC_VERSION_MAJOR, DYNHC_VERSION_MINOR,
             DYNHC_VERSION_PATCH);
    assert_string_equal(dynhc_version(), expected);
    assert_int_equal(dynhc_version_number(), DYNHC_VERSION_NUMBER);
    assert_string_equal(dynhc_strerror(DYNHC_ERR_CONFIG), "config file cannot be read or parsed");
    assert_string_equal(dynhc_strerror(12345), "unknown status");
}

static void diag_format_follows_the_gnu_style(void **state)
{
    (void)state;
    dynhc_diag d = {DYNHC_SEVERITY_WARNING, "cfg.yaml", 3, 7, "bad"};
    char buf[64];
    assert_int_equal(dynhc_diag_format(&d, buf, sizeof(buf)), 26);
    assert_string_equal(buf, "cfg.yaml:3:7: warning: bad");
    d.line = 0;
    d.severity = DYNHC_SEVERITY_ERROR;
    dynhc_diag_format(&d, buf, sizeof(buf));
    assert_string_equal(buf, "cfg.yaml: error: bad");
    assert_int_equal(dynhc_diag_format(&d, NULL, 0), 20);
    assert_int_equal(dynhc_diag_format(NULL, buf, sizeof(buf)), -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(missing_config_file_is_an_error_with_its_path),
        T(config_file_with_duplicate_keys_is_an_error_at_the_second_key),
        T(config_file_that_is_not_a_mapping_is_an_error),
        T(invalid_env_json_warns_at_its_position_and_falls_through_to_config),
        T(env_json_positions_count_from_the_untrimmed_value),
        T(env_payload_that_is_not_an_object_is_skipped),
        T(env_at_file_that_is_missing_warns_with_the_variable_and_the_path),
        T(config_and_runtime_payload_files_that_are_missing_name_who_asked),
        T(env_at_file_with_bad_json_warns_at_file_position),
        T(bad_runtime_payload_warns_as_runtime_and_falls_through),
        T(invalid_env_settings_warn_name_the_variable_and_count_as_unset),
        T(invalid_config_settings_warn_at_their_position),
        T(strict_mode_turns_a_warning_into_a_failure_without_payload),
        T(strict_mode_fails_on_a_payload_check),
        T(payload_checks_warn_at_the_value_but_keep_the_payload),
        T(shape_checks_follow_the_model_type),
        T(empty_object_payload_wins_with_a_warning),
        T(check_all_reports_bad_system_settings),
        T(setters_reject_bad_arguments_and_null_resolvers),
        T(env_payload_that_looks_like_a_path_says_to_write_at),
        T(config_and_runtime_payloads_that_look_like_paths_get_the_hint),
        T(settings_that_are_not_utf8_say_so_and_never_echo_bad_bytes),
        T(builtin_default_is_used_when_nothing_is_set),
        T(runtime_payload_beats_env_which_beats_config),
        T(runtime_payload_can_come_from_a_file_or_a_cjson_object),
        T(env_at_file_reads_the_payload_from_that_file),
        T(config_payload_string_is_json_or_a_path_beside_the_config),
        T(json_config_file_is_read_by_extension),
        T(custom_default_sits_below_config_and_resolver_one_beats_process_one),
        T(custom_defaults_keep_the_callers_spelling_and_positions),
        T(level_comes_from_runtime_then_env_then_config),
        T(model_type_comes_from_runtime_then_config),
        T(blank_env_values_count_as_unset),
        T(disabled_flag_follows_precedence_and_beats_a_runtime_payload),
        T(scheduler_settings_follow_the_same_precedence),
        T(enabled_default_is_the_callers_choice),
        T(marker_is_added_kept_renamed_or_turned_off),
        T(merge_mode_patches_each_source_over_the_ones_below),
        T(token_budget_reads_each_model_types_field),
        T(explain_names_every_setting_and_its_origin),
        T(setting_origin_names_the_kind_and_the_source_of_each_setting),
        T(explain_prints_durations_as_exact_decimals),
        cmocka_unit_test_setup_teardown(numbers_people_read_ignore_a_comma_decimal_locale, setup,
                                        restore_c_locale),
        T(range_warnings_print_the_number_as_written),
        T(config_setting_warnings_quote_the_rejected_value),
        T(config_durations_given_as_numbers_are_exact),
        T(diagnostics_come_in_source_order),
        T(payload_file_diagnostics_come_where_the_file_is_named),
        cmocka_unit_test(get_health_check_payload_uses_config_struct_and_model_type),
        T(config_struct_needs_its_size_and_refuses_settings_it_does_not_know),
        cmocka_unit_test(get_health_check_payload_without_config_gives_the_default),
        cmocka_unit_test(version_macros_and_runtime_version_agree),
        cmocka_unit_test(diag_format_follows_the_gnu_style),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
