/* test_alloc_fail.c: allocation failure in the resolver (SPEC 3, "Allocation
 * failure"): for every source and path, the Nth allocation fails for N = 1,
 * 2, ... until a run completes; each run must answer DYNHC_ERR_NOMEM (or NULL
 * where documented) or the very result a clean run gives, leak nothing, and
 * leave the resolver able to resolve again. Both failure modes run: only the
 * Nth allocation, and the Nth with every later one. See alloc_fail.h. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dynhc/cjson.h>
#include <dynhc/dynhc.h>

#include "alloc_fail.h"
#include "support.h"

static const alloc_fail_mode modes[] = {ALLOC_FAIL_ONCE, ALLOC_FAIL_FROM};
#define MODE_COUNT (sizeof(modes) / sizeof(modes[0]))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- files the cases read, written once ----------------------------------- */

static char *dir;
static char *payload_file;        /* a runtime payload file */
static char *env_payload_file;    /* the target of DYN_HEALTH_CHECK_PAYLOAD=@... */
static char env_at_value[320];    /* "@" + env_payload_file */
static char *yaml_mapping;        /* config: every setting, the payload as a mapping */
static char *yaml_string;         /* config: the payload as JSON text */
static char *yaml_at;             /* config: the payload as @PATH beside it */
static char *json_mapping;        /* JSON config, many members */
static char *json_string;         /* JSON config, the payload as JSON text */
static char *yaml_warnings;       /* config: bad values, bad payload */
static char *yaml_bad_string;     /* config: the payload as JSON text that does not parse */
static char *yaml_keys;           /* config: anchors on keys, aliases as keys, numbers as written */
static char *yaml_at_nothing;     /* config: the payload as "@" and no path */
static char *yaml_invalid;        /* config that does not parse */
static char *yaml_list;           /* config that is not a mapping */
static char *json_invalid;        /* JSON config that does not parse */
static char *stderr_file;         /* where the seed entry point's stderr goes */

static int group_setup(void **state)
{
    (void)state;
    dir = temp_dir_create();
    payload_file = temp_file(dir, "payload.json",
                             "{\n  \"prompt\": \"from a file\",\n  \"max_tokens\": 2,\n"
                             "  \"stop\": [\"\\n\", \"\\u00e9\\ud83d\\ude00\"]\n}\n");
    env_payload_file = temp_file(dir, "env-payload.json",
                                 "\xEF\xBB\xBF{\"prompt\": \"from the env file\", "
                                 "\"temperature\": 0.25, \"max_tokens\": 3}\n");
    snprintf(env_at_value, sizeof(env_at_value), " @%s ", env_payload_file);
    yaml_mapping = temp_file(dir, "mapping.yaml",
                             "# the serving runtime's own config\n"
                             "model: my-model\n"
                             "model_type: generate\n"
                             "health_check_level: standard\n"
                             "health_check_payload_disabled: false\n"
                             "health_check_enabled: \"yes\"\n"
                             "health_check_interval: 2.5\n"
                             "health_check_timeout: 500ms\n"
                             "health_check_payload:\n"
                             "  prompt: from the config\n"
                             "  max_tokens: 4\n"
                             "  temperature: 0.5\n"
                             "  stream: false\n"
                             "  stop: [\"a\", 'b', !!str 3]\n"
                             "  n: 0x10\n"
                             "base: &base {x: [1, 2.5e3, {y: ~}], z: true}\n"
                             "copy: *base\n"
                             "unknown_key: [1, 2, 3]\n"
                             "wide: {k01: 1, k02: 2, k03: 3, k04: 4, k05: 5, k06: 6, k07: 7,\n"
                             "  k08: 8, k09: 9, k10: 10, k11: 11, k12: 12, k13: 13, k14: 14,\n"
                             "  k15: 15, k16: 16, k17: 17, k18: 18, k19: 19, k20: 20, k21: 21,\n"
                             "  k22: 22, k23: 23, k24: 24, k25: 25, k26: 26, k27: 27, k28: 28,\n"
                             "  k29: 29, k30: 30, k31: 31, k32: 32, k33: 33, k34: 34}\n");
    yaml_string = temp_file(dir, "string.yaml",
                            "model_type: embedding\n"
                            "health_check_payload: '{\"input\": [\"a\", \"b\"], "
                            "\"encoding_format\": \"float\"}'\n");
    free(temp_file(dir, "beside.json", "{\"prompt\": \"beside the config\", \"max_tokens\": 6}"));
    yaml_at = temp_file(dir, "at.yaml", "health_check_payload: \"@beside.json\"\n");
    json_mapping = temp_file(dir, "mapping.json",
                             "{\"model\": \"gpt2\", \"model_type\": \"chat\",\n"
                             " \"health_check_timeout\": \"2s\", \"health_check_enabled\": false,\n"
                             " \"health_check_payload\": {\"messages\": [{\"role\": \"user\", "
                             "\"content\": \"hi\"}], \"max_tokens\": 1, \"temperature\": 0},\n"
                             " \"wide\": {\"k01\": 1, \"k02\": 2, \"k03\": 3, \"k04\": 4, "
                             "\"k05\": 5, \"k06\": 6, \"k07\": 7, \"k08\": 8, \"k09\": 9, "
                             "\"k10\": 10, \"k11\": 11, \"k12\": 12, \"k13\": 13, \"k14\": 14, "
                             "\"k15\": 15, \"k16\": 16, \"k17\": 17, \"k18\": 18, \"k19\": 19, "
                             "\"k20\": 20, \"k21\": 21, \"k22\": 22, \"k23\": 23, \"k24\": 24, "
                             "\"k25\": 25, \"k26\": 26, \"k27\": 27, \"k28\": 28, \"k29\": 29, "
                             "\"k30\": 30, \"k31\": 31, \"k32\": 32, \"k33\": 33, \"k34\": 34, "
                             "\"k35\": 35}}\n");
    json_string = temp_file(dir, "string.json",
                            "{\"model_type\": \"tokens\", \"health_check_payload\": "
                            "\"{\\\"token_ids\\\": [1, 2, 3], \\\"stop_conditions\\\": "
                            "{\\\"max_tokens\\\": 2}}\"}");
    yaml_warnings = temp_file(dir, "warnings.yaml",
                              "model: [not, a, string]\n"
                              "model_type: llama\n"
                              "health_check_level: maximal\n"
                              "health_check_enabled: maybe\n"
                              "health_check_interval: -1\n"
                              "health_check_timeout: 30x\n"
                              "health_check_payload:\n"
                              "  prompt: 3\n"
                              "  max_tokens: 0\n"
                              "  temperature: 9\n"
                              "  top_p: 0\n"
                              "  frequency_penalty: 3\n"
                              "  presence_penalty: -3\n"
                              "  stream: \"no\"\n");
    yaml_bad_string = temp_file(dir, "bad-string.yaml",
                                "model: m\nhealth_check_payload: '{\"prompt\": [1, }'\n");
    yaml_keys = temp_file(dir, "keys.yaml",
                          "engine:\n"
                          "  &tp tensor_parallel_size: 2\n"
                          "  pipeline: &name default\n"
                          "  again: *tp\n"
                          "routes:\n"
                          "  *name : /v1\n"
                          "  *tp : 4\n"
                          "health_check_interval: 4.1\n"
                          "health_check_timeout: 0\n"
                          "health_check_payload:\n"
                          "  prompt: from anchored keys\n"
                          "  temperature: 2.50\n"
                          "...  # the end\n");
    yaml_at_nothing = temp_file(dir, "at-nothing.yaml", "health_check_payload: \"@ \"\n");
    yaml_invalid = temp_file(dir, "invalid.yaml", "model: a\nhealth_check_payload: {prompt: [1, 2\n");
    yaml_list = temp_file(dir, "list.yaml", "- model: a\n- model: b\n");
    json_invalid = temp_file(dir, "invalid.json", "{\"model\": \"a\", \"model\": \"b\"}");
    stderr_file = temp_file(dir, "stderr.txt", "");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char **paths[] = {&payload_file, &env_payload_file, &yaml_mapping, &yaml_string, &yaml_at,
                      &json_mapping, &json_string, &yaml_warnings, &yaml_bad_string, &yaml_keys,
                      &yaml_at_nothing, &yaml_invalid, &yaml_list,
                      &json_invalid, &stderr_file};
    for (size_t i = 0; i < COUNT(paths); i++) {
        free(*paths[i]);
        *paths[i] = NULL;
    }
    temp_dir_remove(dir);
    dir = NULL;
    return 0;
}

/* ---- what a result says, as one text to compare --------------------------- */

static void fail_if_out_of_memory_is_a_diagnostic(const dynhc_result *res, const char *context)
{
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        const dynhc_diag *d = dynhc_result_diag(res, i);
        if (strstr(d->message, "out of memory") != NULL) {
            fail_msg("%s: out of memory reported as a diagnostic: %s: %s", context, d->source,
                     d->message);
        }
    }
}

/* Everything a caller can read from a result (run unarmed: the payload is
 * printed and the explanation made here). context names the run for
 * failure messages. Caller frees with free(). */
static char *describe(int status, const dynhc_result *res, const char *context)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    fprintf(f, "returned %d (%s)\n", status, dynhc_strerror(status));
    if (res != NULL) {
        const char *payload_text = dynhc_result_text(res);
        const cJSON *payload = dynhc_result_payload(res);
        assert_true((payload_text == NULL) == (payload == NULL));
        if (payload != NULL) {
            /* The text and the tree are the same payload. */
            cJSON *parsed = cJSON_Parse(payload_text);
            assert_non_null(parsed);
            if (!cJSON_Compare(parsed, payload, 1)) {
                char *printed = cJSON_PrintUnformatted(payload);
                fail_msg("%s: the payload text %s is not the payload tree %s", context,
                         payload_text, printed ? printed : "?");
            }
            cJSON_Delete(parsed);
        }
        fprintf(f, "status %d\ntext %s\nsource %s\norigin %s\nmodel type %s\nlevel %s\n"
                   "token budget %lld\nmodel %s\nenabled %d\ninterval %llu\ntimeout %llu\n",
                dynhc_result_status(res), payload_text ? payload_text : "(none)",
                dynhc_source_name(dynhc_result_source(res)),
                dynhc_result_origin(res) ? dynhc_result_origin(res) : "(none)",
                dynhc_model_type_name(dynhc_result_model_type(res)),
                dynhc_level_name(dynhc_result_level(res)), dynhc_result_token_budget(res),
                dynhc_result_model_name(res) ? dynhc_result_model_name(res) : "(none)",
                dynhc_result_enabled(res), (unsigned long long)dynhc_result_interval_ns(res),
                (unsigned long long)dynhc_result_timeout_ns(res));
        for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
            char line[1024];
            dynhc_diag_format(dynhc_result_diag(res, i), line, sizeof(line));
            fprintf(f, "diagnostic %s\n", line);
        }
        char *explain = dynhc_result_explain(res);
        assert_non_null(explain);
        fprintf(f, "explain:\n%s", explain);
        dynhc_free(explain);
    }
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Resolves unarmed and describes the outcome. */
static char *resolve_described(dynhc_resolver *r, const char *context)
{
    dynhc_result *res = NULL;
    int status = dynhc_resolver_resolve(r, &res);
    char *text = describe(status, res, context);
    dynhc_result_free(res);
    return text;
}

static void assert_same(const char *expected, const char *actual, const char *what)
{
    if (strcmp(expected, actual) != 0) {
        fail_msg("%s: %s differs from a clean run\n--- clean run:\n%s--- this run:\n%s",
                 alloc_fail_where(), what, expected, actual);
    }
}

/* The outcome of one armed call that returns a status: DYNHC_ERR_NOMEM after
 * an injected failure, or exactly what a clean run gives. */
static void check_outcome(int status, const dynhc_result *res, unsigned long injected,
                          const char *reference)
{
    if (status == DYNHC_ERR_NOMEM) {
        if (injected == 0) {
            fail_msg("%s: DYNHC_ERR_NOMEM with no failed allocation", alloc_fail_where());
        }
        if (res != NULL) {
            fail_msg("%s: DYNHC_ERR_NOMEM with a result", alloc_fail_where());
        }
        return;
    }
    fail_if_out_of_memory_is_a_diagnostic(res, alloc_fail_where());
    char *actual = describe(status, res, alloc_fail_where());
    assert_same(reference, actual, "the result");
    free(actual);
}

/* ---- resolution: one case per source and path ------------------------------ */

typedef struct resolution_case {
    const char *name;
    /* Sets the resolver and the fake environment up (unarmed). */
    void (*configure)(dynhc_resolver *r, fake_env *env);
    int status;          /* what a clean run returns */
    dynhc_source source; /* and where its payload comes from */
    /* What the clean run's payload text contains (NULL: nothing checked). */
    const char *contains;
} resolution_case;

static void ok(int status)
{
    assert_int_equal(status, DYNHC_OK);
}

#define DEFAULT_CASE(fn, type, level)                          \
    static void fn(dynhc_resolver *r, fake_env *env)           \
    {                                                          \
        (void)env;                                             \
        ok(dynhc_resolver_set_model_type(r, type));            \
        ok(dynhc_resolver_set_level(r, level));                \
        ok(dynhc_resolver_set_bos_token_id(r, 128000));        \
    }

DEFAULT_CASE(generate_minimal, "generate", "minimal")
DEFAULT_CASE(generate_standard, "completions", "standard")
DEFAULT_CASE(generate_comprehensive, "text", "comprehensive")
DEFAULT_CASE(chat_minimal, "chat", "minimal")
DEFAULT_CASE(chat_standard, "chat-completions", "standard")
DEFAULT_CASE(chat_comprehensive, "chat", "comprehensive")
DEFAULT_CASE(embedding_minimal, "embedding", "minimal")
DEFAULT_CASE(embedding_standard, "embeddings", "standard")
DEFAULT_CASE(embedding_comprehensive, "embed", "comprehensive")
DEFAULT_CASE(tokens_minimal, "tokens", "minimal")
DEFAULT_CASE(tokens_standard, "tokens", "standard")
DEFAULT_CASE(tokens_comprehensive, "tokens", "comprehensive")

static void level_from_env_and_marker_renamed(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_LEVEL", " Standard\n");
    ok(dynhc_resolver_set_marker_key(r, "_HEALTH_\"CHECK\"\x01"));
}

static void no_marker(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_marker_key(r, NULL));
    ok(dynhc_resolver_set_model_type(r, "chat"));
}

static void resolver_custom_default(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_custom_default(r, "{\"prompt\": \"mine\", \"max_tokens\": 2}"));
    ok(dynhc_set_custom_health_check_payload("{\"prompt\": \"process-wide\"}"));
}

static void process_custom_default(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    (void)env;
    ok(dynhc_set_custom_health_check_payload(
        "{\"prompt\": \"process-wide\", \"max_tokens\": 1, \"_health_check\": \"kept\"}"));
}

static void runtime_text(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    /* More than 16 members (a key index), escapes, and a number too long
     * for the parser's stack buffer. */
    ok(dynhc_resolver_set_payload(
        r, "{\n  \"prompt\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\",\n  \"max_tokens\": 3,\n"
           "  \"temperature\": 1.000000000000000000000000000000000000000000000000000000000000"
           "00000000000000001e-1,\n"
           "  \"a01\": 1, \"a02\": 2, \"a03\": 3, \"a04\": 4, \"a05\": 5, \"a06\": 6,\n"
           "  \"a07\": 7, \"a08\": 8, \"a09\": 9, \"a10\": 10, \"a11\": 11, \"a12\": 12,\n"
           "  \"a13\": 13, \"a14\": 14, \"a15\": 15, \"a16\": 16, \"a17\": 17, \"a18\": 18,\n"
           "  \"a19\": [true, false, null, {\"x\": []}], \"a20\": -0.5e+2\n}"));
}

static void runtime_text_with_warnings(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    /* A check warning makes the resolver read the text again with positions. */
    ok(dynhc_resolver_set_payload(r, "{\"prompt\": \"x\",\n \"max_tokens\": 1000,\n"
                                     " \"temperature\": -1, \"stream\": 1}"));
}

static void runtime_file(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_payload_file(r, payload_file));
}

static void runtime_json(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    cJSON *obj = cJSON_Parse("{\"prompt\": \"a cJSON object\", \"max_tokens\": 2, "
                             "\"nested\": {\"list\": [1, 2, 3]}}");
    assert_non_null(obj);
    ok(dynhc_resolver_set_payload_json(r, obj));
    cJSON_Delete(obj);
}

static void env_json(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD",
                 "\n  {\"prompt\": \"from the env\",\n   \"max_tokens\": 2, \"top_p\": 0.5}\n");
    fake_env_set(env, "DYN_HEALTH_CHECK_INTERVAL", "1m");
    fake_env_set(env, "DYN_CANARY_WAIT_TIME", "7");
    fake_env_set(env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "250ms");
    fake_env_set(env, "DYN_HEALTH_CHECK_ENABLED", "off");
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "no");
}

static void env_file(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD", env_at_value);
}

static void env_not_an_object_falls_through_to_config(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD", "[1, 2]");
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
}

static void env_bad_json_and_missing_file(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\": \"x\",,}");
    ok(dynhc_resolver_set_payload_file(r, "/nonexistent/dynhc-payload.json"));
}

static void config_yaml_mapping(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
}

static void config_yaml_string(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_string));
}

static void config_yaml_at_path(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_at));
}

static void config_json_mapping(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, json_mapping));
}

static void config_json_string(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, json_string));
}

static void config_struct(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    dynhc_config config = DYNHC_CONFIG_INIT;
    config.model = "struct-model";
    config.model_type = "completion";
    config.health_check_level = "comprehensive";
    config.health_check_payload = " {\"prompt\": \"from the struct\", \"max_tokens\": 9} ";
    config.health_check_payload_disabled = "false";
    config.health_check_enabled = "1";
    config.health_check_interval = "30";
    config.health_check_timeout = "1.5s";
    ok(dynhc_resolver_set_config(r, &config));
}

static void config_struct_at_path(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    char value[320];
    snprintf(value, sizeof(value), "@%s", payload_file);
    dynhc_config config = DYNHC_CONFIG_INIT;
    config.health_check_payload = value;
    ok(dynhc_resolver_set_config(r, &config));
}

static void config_warnings(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_warnings));
}

static void config_bad_string(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_bad_string));
}

static void config_keys_and_numbers_as_written(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_keys));
}

static void config_at_nothing(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_at_nothing));
}

static void env_at_nothing(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD", "@\t");
}

static void many_diagnostics(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_LEVEL", "maximal");
    fake_env_set(env, "DYN_HEALTH_CHECK_ENABLED", "perhaps");
    fake_env_set(env, "DYN_HEALTH_CHECK_INTERVAL", "0");
    fake_env_set(env, "DYN_CANARY_WAIT_TIME", "soon");
    fake_env_set(env, "DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "25h");
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "nope");
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD", "{\"prompt\": tru}");
    ok(dynhc_resolver_set_payload(r, "{\"prompt\": \"x\", \"max_tokens\": -1}"));
    ok(dynhc_resolver_set_config_file(r, yaml_warnings));
}

static void strict_with_warnings(dynhc_resolver *r, fake_env *env)
{
    many_diagnostics(r, env);
    ok(dynhc_resolver_set_strict(r, 1));
}

static void strict_clean(dynhc_resolver *r, fake_env *env)
{
    env_json(r, env);
    ok(dynhc_resolver_set_strict(r, 1));
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
}

static void merge_every_source(dynhc_resolver *r, fake_env *env)
{
    ok(dynhc_resolver_set_merge(r, 1));
    ok(dynhc_resolver_set_payload(r, "{\"prompt\": \"runtime\", \"extra\": {\"a\": {\"b\": 1}}}"));
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD",
                 "{\"max_tokens\": 3, \"stream\": null, \"extra\": 5}");
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
    ok(dynhc_resolver_set_custom_default(r, "{\"custom\": true, \"extra\": [1], \"n\": null}"));
}

static void merge_with_process_custom_default(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_merge(r, 1));
    ok(dynhc_resolver_set_payload_json(r, NULL));
    ok(dynhc_set_custom_health_check_payload("{\"prompt\": \"process\", \"top_p\": 0.9}"));
    ok(dynhc_resolver_set_model_type(r, "tokens"));
}

static void disabled_by_env(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_PAYLOAD_DISABLED", "TRUE");
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
}

static void disabled_at_runtime(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_disabled(r, 1));
    ok(dynhc_resolver_set_payload(r, "{\"prompt\": \"x\"}"));
}

static void check_all_settings(dynhc_resolver *r, fake_env *env)
{
    ok(dynhc_resolver_set_check_all(r, 1));
    fake_env_set(env, "DYN_SYSTEM_PORT", "70000");
    fake_env_set(env, "DYN_SYSTEM_HEALTH_PATH", "health");
    fake_env_set(env, "DYN_SYSTEM_LIVE_PATH", "/live");
    fake_env_set(env, "DYN_SYSTEM_STARTING_HEALTH_STATUS", "up");
    fake_env_set(env, "DYN_SYSTEM_HOST", "my host");
    fake_env_set(env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"generate\", \"chat\", 3]");
}

static void check_all_good_endpoint_list(dynhc_resolver *r, fake_env *env)
{
    ok(dynhc_resolver_set_check_all(r, 1));
    fake_env_set(env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", " [\"generate\", \"chat\"] ");
}

static void check_all_endpoint_list_that_does_not_parse(dynhc_resolver *r, fake_env *env)
{
    ok(dynhc_resolver_set_check_all(r, 1));
    fake_env_set(env, "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[\"generate\", \"chat\", ");
}

static void config_missing(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, "/nonexistent/dynhc.yaml"));
}

static void config_invalid_yaml(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_invalid));
}

static void config_not_a_mapping(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, yaml_list));
}

static void config_invalid_json(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_config_file(r, json_invalid));
}

static const resolution_case default_cases[] = {
    {"generate minimal", generate_minimal, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "\"prompt\":\"1\""},
    {"generate standard", generate_standard, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "The sky is"},
    {"generate comprehensive", generate_comprehensive, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "haiku"},
    {"chat minimal", chat_minimal, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "\"content\":\"Hi\""},
    {"chat standard", chat_standard, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "The sky is"},
    {"chat comprehensive", chat_comprehensive, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "haiku"},
    {"embedding minimal", embedding_minimal, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "\"test\""},
    {"embedding standard", embedding_standard, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "The sky is"},
    {"embedding comprehensive", embedding_comprehensive, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "haiku"},
    {"tokens minimal", tokens_minimal, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "[128000]"},
    {"tokens standard", tokens_standard, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "0.7"},
    {"tokens comprehensive", tokens_comprehensive, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "top_p"},
    {"level from env, marker renamed", level_from_env_and_marker_renamed, DYNHC_OK,
     DYNHC_SOURCE_DEFAULT, "\"_HEALTH_\\\"CHECK\\\"\\u0001\":true"},
    {"no marker", no_marker, DYNHC_OK, DYNHC_SOURCE_DEFAULT, "\"stream\":false}"},
};

static const resolution_case custom_cases[] = {
    {"resolver custom default", resolver_custom_default, DYNHC_OK, DYNHC_SOURCE_CUSTOM, "mine"},
    {"process-wide custom default", process_custom_default, DYNHC_OK, DYNHC_SOURCE_CUSTOM,
     "\"_health_check\":\"kept\""},
};

static const resolution_case runtime_cases[] = {
    {"runtime text", runtime_text, DYNHC_OK, DYNHC_SOURCE_RUNTIME, "\"a20\":-0.5e+2"},
    {"runtime text with warnings", runtime_text_with_warnings, DYNHC_OK, DYNHC_SOURCE_RUNTIME,
     "1000"},
    {"runtime file", runtime_file, DYNHC_OK, DYNHC_SOURCE_RUNTIME, "from a file"},
    {"runtime cJSON object", runtime_json, DYNHC_OK, DYNHC_SOURCE_RUNTIME, "a cJSON object"},
};

static const resolution_case env_cases[] = {
    {"env JSON", env_json, DYNHC_OK, DYNHC_SOURCE_ENV, "from the env"},
    {"env @file", env_file, DYNHC_OK, DYNHC_SOURCE_ENV_FILE, "from the env file"},
    {"env not an object", env_not_an_object_falls_through_to_config, DYNHC_OK,
     DYNHC_SOURCE_CONFIG, "from the config"},
    {"env bad JSON, missing runtime file", env_bad_json_and_missing_file, DYNHC_OK,
     DYNHC_SOURCE_DEFAULT, NULL},
    {"env @ and no path", env_at_nothing, DYNHC_OK, DYNHC_SOURCE_DEFAULT, NULL},
};

static const resolution_case config_cases[] = {
    {"config YAML mapping", config_yaml_mapping, DYNHC_OK, DYNHC_SOURCE_CONFIG,
     "from the config"},
    {"config YAML JSON string", config_yaml_string, DYNHC_OK, DYNHC_SOURCE_CONFIG, "float"},
    {"config YAML @PATH", config_yaml_at_path, DYNHC_OK, DYNHC_SOURCE_CONFIG, "beside the config"},
    {"config JSON mapping", config_json_mapping, DYNHC_OK, DYNHC_SOURCE_CONFIG, "\"hi\""},
    {"config JSON string", config_json_string, DYNHC_OK, DYNHC_SOURCE_CONFIG, "[1,2,3]"},
    {"config struct", config_struct, DYNHC_OK, DYNHC_SOURCE_CONFIG, "from the struct"},
    {"config struct @PATH", config_struct_at_path, DYNHC_OK, DYNHC_SOURCE_CONFIG, "from a file"},
    {"config with bad values", config_warnings, DYNHC_OK, DYNHC_SOURCE_CONFIG, NULL},
    {"config JSON string that does not parse", config_bad_string, DYNHC_OK,
     DYNHC_SOURCE_DEFAULT, NULL},
    {"config with key anchors, alias keys, numbers as written",
     config_keys_and_numbers_as_written, DYNHC_OK, DYNHC_SOURCE_CONFIG, "from anchored keys"},
    {"config @ and no path", config_at_nothing, DYNHC_OK, DYNHC_SOURCE_DEFAULT, NULL},
    {"config file missing", config_missing, DYNHC_ERR_CONFIG, DYNHC_SOURCE_NONE, NULL},
    {"config YAML invalid", config_invalid_yaml, DYNHC_ERR_CONFIG, DYNHC_SOURCE_NONE, NULL},
    {"config YAML not a mapping", config_not_a_mapping, DYNHC_ERR_CONFIG, DYNHC_SOURCE_NONE, NULL},
    {"config JSON invalid", config_invalid_json, DYNHC_ERR_CONFIG, DYNHC_SOURCE_NONE, NULL},
};

static const resolution_case mode_cases[] = {
    {"many diagnostics", many_diagnostics, DYNHC_OK, DYNHC_SOURCE_RUNTIME, "-1"},
    {"strict with warnings", strict_with_warnings, DYNHC_ERR_STRICT, DYNHC_SOURCE_NONE, NULL},
    {"strict and clean", strict_clean, DYNHC_OK, DYNHC_SOURCE_ENV, "from the env"},
    {"merge of every source", merge_every_source, DYNHC_OK, DYNHC_SOURCE_RUNTIME, "custom"},
    {"merge over the process-wide default", merge_with_process_custom_default, DYNHC_OK,
     DYNHC_SOURCE_CUSTOM, "token_ids"},
    {"disabled by env", disabled_by_env, DYNHC_DISABLED, DYNHC_SOURCE_NONE, NULL},
    {"disabled at runtime", disabled_at_runtime, DYNHC_DISABLED, DYNHC_SOURCE_NONE, NULL},
    {"check all settings", check_all_settings, DYNHC_OK, DYNHC_SOURCE_DEFAULT, NULL},
    {"check all, good endpoint list", check_all_good_endpoint_list, DYNHC_OK,
     DYNHC_SOURCE_DEFAULT, NULL},
    {"check all, endpoint list that does not parse", check_all_endpoint_list_that_does_not_parse,
     DYNHC_OK, DYNHC_SOURCE_DEFAULT, NULL},
};

typedef struct resolution_run {
    const resolution_case *c;
    char *reference;
} resolution_run;

static dynhc_resolver *make_resolver(const resolution_case *c, fake_env *env)
{
    memset(env, 0, sizeof(*env));
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    ok(dynhc_resolver_set_getenv(r, fake_env_get, env));
    c->configure(r, env);
    return r;
}

static unsigned long resolution_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    resolution_run *run = user;
    fake_env env;
    dynhc_resolver *r = make_resolver(run->c, &env);
    dynhc_result *res = NULL;

    alloc_fail_start(n, mode);
    int status = dynhc_resolver_resolve(r, &res);
    unsigned long injected = alloc_fail_stop();
    check_outcome(status, res, injected, run->reference);
    dynhc_result_free(res);

    /* The same resolver resolves again once memory is back. */
    char *again = resolve_described(r, alloc_fail_where());
    assert_same(run->reference, again, "resolving again");
    free(again);
    dynhc_resolver_free(r);
    ok(dynhc_set_custom_health_check_payload(NULL));
    return injected;
}

static void torture_resolution(const resolution_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const resolution_case *c = &cases[i];
        fake_env env;
        dynhc_resolver *r = make_resolver(c, &env);
        dynhc_result *res = NULL;
        int status = dynhc_resolver_resolve(r, &res);
        char context[160];
        snprintf(context, sizeof(context), "%s: the clean run", c->name);
        fail_if_out_of_memory_is_a_diagnostic(res, context);
        resolution_run run = {c, describe(status, res, context)};
        if (status != c->status || dynhc_result_source(res) != c->source ||
            (c->contains != NULL && strstr(dynhc_result_text(res), c->contains) == NULL)) {
            fail_msg("%s is not what the case expects:\n%s", context, run.reference);
        }
        dynhc_result_free(res);
        dynhc_resolver_free(r);
        ok(dynhc_set_custom_health_check_payload(NULL));

        for (size_t m = 0; m < MODE_COUNT; m++) {
            unsigned long allocations = alloc_fail_loop(c->name, modes[m], resolution_body, &run);
            assert_true(allocations > 0);
        }
        free(run.reference);
    }
}

static void resolution_of_builtin_defaults_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(default_cases, COUNT(default_cases));
}

static void resolution_of_custom_defaults_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(custom_cases, COUNT(custom_cases));
}

static void resolution_of_runtime_payloads_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(runtime_cases, COUNT(runtime_cases));
}

static void resolution_of_env_payloads_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(env_cases, COUNT(env_cases));
}

/* Out of memory while reading the config is DYNHC_ERR_NOMEM, never
 * DYNHC_ERR_CONFIG: check_outcome accepts only NOMEM or the clean result. */
static void resolution_of_config_files_survives_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(config_cases, COUNT(config_cases));
}

static void strict_merge_disabled_and_check_all_survive_every_failed_allocation(void **state)
{
    (void)state;
    torture_resolution(mode_cases, COUNT(mode_cases));
}

/* ---- setters --------------------------------------------------------------- */

typedef struct setter_case {
    const char *name;
    void (*before)(dynhc_resolver *r, fake_env *env); /* unarmed */
    int (*apply)(dynhc_resolver *r);                  /* armed */
} setter_case;

static void set_up_sources(dynhc_resolver *r, fake_env *env)
{
    fake_env_set(env, "DYN_HEALTH_CHECK_LEVEL", "standard");
    ok(dynhc_resolver_set_payload(r, "{\"prompt\": \"old runtime\"}"));
    ok(dynhc_resolver_set_config_file(r, yaml_mapping));
    ok(dynhc_resolver_set_custom_default(r, "{\"prompt\": \"old custom\"}"));
    ok(dynhc_set_custom_health_check_payload("{\"prompt\": \"old process-wide\"}"));
}

/* Only the custom defaults, so that a change to them shows. */
static void set_up_custom_defaults(dynhc_resolver *r, fake_env *env)
{
    (void)env;
    ok(dynhc_resolver_set_custom_default(r, "{\"prompt\": \"old custom\"}"));
    ok(dynhc_set_custom_health_check_payload("{\"prompt\": \"old process-wide\"}"));
}

static void set_up_process_custom_default(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    (void)env;
    ok(dynhc_set_custom_health_check_payload("{\"prompt\": \"old process-wide\"}"));
}

static void set_up_nothing(dynhc_resolver *r, fake_env *env)
{
    (void)r;
    (void)env;
}

static int apply_payload(dynhc_resolver *r)
{
    return dynhc_resolver_set_payload(r, "{\"prompt\": \"new runtime\", \"max_tokens\": 2}");
}

static int apply_payload_null(dynhc_resolver *r)
{
    return dynhc_resolver_set_payload(r, NULL);
}

static int apply_payload_file(dynhc_resolver *r)
{
    return dynhc_resolver_set_payload_file(r, payload_file);
}

/* Made unarmed before the loops: what is tested is the copy. */
static cJSON *payload_object;

static int apply_payload_json(dynhc_resolver *r)
{
    return dynhc_resolver_set_payload_json(r, payload_object);
}

static int apply_config_file(dynhc_resolver *r)
{
    return dynhc_resolver_set_config_file(r, json_mapping);
}

static int apply_config_file_null(dynhc_resolver *r)
{
    return dynhc_resolver_set_config_file(r, NULL);
}

static int apply_config_struct(dynhc_resolver *r)
{
    dynhc_config config = DYNHC_CONFIG_INIT;
    config.model = "m";
    config.model_type = "chat";
    config.health_check_level = "comprehensive";
    config.health_check_payload = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    config.health_check_payload_disabled = "no";
    config.health_check_enabled = "true";
    config.health_check_interval = "3s";
    config.health_check_timeout = "1";
    return dynhc_resolver_set_config(r, &config);
}

static int apply_config_struct_null(dynhc_resolver *r)
{
    return dynhc_resolver_set_config(r, NULL);
}

static int apply_custom_default(dynhc_resolver *r)
{
    return dynhc_resolver_set_custom_default(
        r, "{\"prompt\": \"new custom\", \"list\": [1, {\"a\": \"b\"}], \"max_tokens\": 7}");
}

static int apply_custom_default_null(dynhc_resolver *r)
{
    return dynhc_resolver_set_custom_default(r, NULL);
}

static int apply_process_custom_default(dynhc_resolver *r)
{
    (void)r;
    return dynhc_set_custom_health_check_payload(
        "{\"prompt\": \"new process-wide\", \"temperature\": 0.5}");
}

static int apply_process_custom_default_null(dynhc_resolver *r)
{
    (void)r;
    return dynhc_set_custom_health_check_payload(NULL);
}

static int apply_model_type(dynhc_resolver *r)
{
    return dynhc_resolver_set_model_type(r, "Embeddings");
}

static int apply_level(dynhc_resolver *r)
{
    return dynhc_resolver_set_level(r, "COMPREHENSIVE");
}

static int apply_marker_key(dynhc_resolver *r)
{
    return dynhc_resolver_set_marker_key(r, "_HEALTH_CHECK");
}

static int apply_marker_key_null(dynhc_resolver *r)
{
    return dynhc_resolver_set_marker_key(r, NULL);
}

static int apply_scalars(dynhc_resolver *r)
{
    int status = dynhc_resolver_set_bos_token_id(r, 42);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_strict(r, 1);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_merge(r, 1);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_check_all(r, 1);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_enabled(r, 0);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_enabled_default(r, 0);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_interval_ns(r, 5000000000ull);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_timeout_ns(r, 1000000000ull);
    status = status != DYNHC_OK ? status : dynhc_resolver_set_disabled(r, 0);
    return status;
}

static int apply_getenv_default(dynhc_resolver *r)
{
    return dynhc_resolver_set_getenv(r, NULL, NULL);
}

static const setter_case setter_cases[] = {
    {"set_payload", set_up_sources, apply_payload},
    {"set_payload NULL", set_up_sources, apply_payload_null},
    {"set_payload_file", set_up_sources, apply_payload_file},
    {"set_payload_json", set_up_sources, apply_payload_json},
    {"set_config_file", set_up_sources, apply_config_file},
    {"set_config_file NULL", set_up_sources, apply_config_file_null},
    {"set_config", set_up_sources, apply_config_struct},
    {"set_config NULL", set_up_sources, apply_config_struct_null},
    {"set_custom_default", set_up_custom_defaults, apply_custom_default},
    {"set_custom_default NULL", set_up_custom_defaults, apply_custom_default_null},
    {"dynhc_set_custom_health_check_payload", set_up_process_custom_default,
     apply_process_custom_default},
    {"dynhc_set_custom_health_check_payload NULL", set_up_process_custom_default,
     apply_process_custom_default_null},
    {"set_model_type", set_up_nothing, apply_model_type},
    {"set_level", set_up_nothing, apply_level},
    {"set_marker_key", set_up_sources, apply_marker_key},
    {"set_marker_key NULL", set_up_nothing, apply_marker_key_null},
    {"scalar setters", set_up_sources, apply_scalars},
    {"set_getenv", set_up_nothing, apply_getenv_default},
};

typedef struct setter_run {
    const setter_case *c;
    char *before; /* what the resolver gives with the setting unchanged */
    char *after;  /* and with it changed */
} setter_run;

/* A resolver set up by c->before, with the setting changed when apply is
 * set; its result described. */
static char *setter_outcome(const setter_case *c, int apply)
{
    fake_env env;
    memset(&env, 0, sizeof(env));
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    ok(dynhc_resolver_set_getenv(r, fake_env_get, &env));
    c->before(r, &env);
    if (apply) {
        ok(c->apply(r));
    }
    char *text = resolve_described(r, c->name);
    dynhc_resolver_free(r);
    ok(dynhc_set_custom_health_check_payload(NULL));
    return text;
}

static unsigned long setter_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    setter_run *run = user;
    fake_env env;
    memset(&env, 0, sizeof(env));
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    ok(dynhc_resolver_set_getenv(r, fake_env_get, &env));
    run->c->before(r, &env);

    alloc_fail_start(n, mode);
    int status = run->c->apply(r);
    unsigned long injected = alloc_fail_stop();

    if (status != DYNHC_OK && status != DYNHC_ERR_NOMEM) {
        fail_msg("%s: returned %d (%s)", alloc_fail_where(), status, dynhc_strerror(status));
    }
    if (status == DYNHC_ERR_NOMEM && injected == 0) {
        fail_msg("%s: DYNHC_ERR_NOMEM with no failed allocation", alloc_fail_where());
    }
    /* Success changed the setting; failure left it as it was. */
    char *now = resolve_described(r, alloc_fail_where());
    assert_same(status == DYNHC_OK ? run->after : run->before, now,
                status == DYNHC_OK ? "the setting after success" : "the setting after NOMEM");
    free(now);
    dynhc_resolver_free(r);
    ok(dynhc_set_custom_health_check_payload(NULL));
    return injected;
}

static void resolver_setters_fail_cleanly_and_keep_the_old_setting(void **state)
{
    (void)state;
    payload_object = cJSON_Parse("{\"prompt\": \"new object\", \"list\": [1, 2, {\"k\": null}]}");
    assert_non_null(payload_object);
    for (size_t i = 0; i < COUNT(setter_cases); i++) {
        const setter_case *c = &setter_cases[i];
        setter_run run = {c, setter_outcome(c, 0), setter_outcome(c, 1)};
        for (size_t m = 0; m < MODE_COUNT; m++) {
            alloc_fail_loop(c->name, modes[m], setter_body, &run);
        }
        free(run.before);
        free(run.after);
    }
    cJSON_Delete(payload_object);
    payload_object = NULL;
}

/* ---- constructors, explanation, accessors ---------------------------------- */

static char *default_reference;

static unsigned long resolver_new_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    (void)user;
    alloc_fail_start(n, mode);
    dynhc_resolver *r = dynhc_resolver_new();
    unsigned long injected = alloc_fail_stop();
    if (r == NULL) {
        if (injected == 0) {
            fail_msg("%s: NULL with no failed allocation", alloc_fail_where());
        }
        return injected;
    }
    ok(dynhc_resolver_set_getenv(r, fake_env_get, &(fake_env){0}));
    char *now = resolve_described(r, alloc_fail_where());
    assert_same(default_reference, now, "a new resolver's result");
    free(now);
    dynhc_resolver_free(r);
    return injected;
}

static void resolver_new_answers_null_or_a_working_resolver(void **state)
{
    (void)state;
    dynhc_resolver *r = dynhc_resolver_new();
    ok(dynhc_resolver_set_getenv(r, fake_env_get, &(fake_env){0}));
    default_reference = resolve_described(r, "dynhc_resolver_new: the clean run");
    dynhc_resolver_free(r);
    for (size_t m = 0; m < MODE_COUNT; m++) {
        assert_true(alloc_fail_loop("dynhc_resolver_new", modes[m], resolver_new_body, NULL) > 0);
    }
    free(default_reference);
}

static unsigned long document_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    const char *path = user;
    dynhc_document *doc = NULL;
    dynhc_document_error err;
    alloc_fail_start(n, mode);
    int status = dynhc_document_read(path, &doc, &err);
    unsigned long injected = alloc_fail_stop();
    if (injected > 0) {
        assert_int_equal(status, DYNHC_ERR_NOMEM);
        assert_null(doc);
    } else {
        assert_int_equal(status, DYNHC_OK);
        assert_true(cJSON_IsObject(dynhc_document_root(doc)));
    }
    dynhc_document_free(doc);
    return injected;
}

/* A document (YAML and JSON) is read whole or not at all: DYNHC_ERR_NOMEM,
 * never a parse error, and nothing left behind. */
static void document_read_answers_nomem_or_the_whole_tree(void **state)
{
    (void)state;
    const char *paths[] = {yaml_mapping, payload_file};
    for (size_t p = 0; p < 2; p++) {
        for (size_t m = 0; m < MODE_COUNT; m++) {
            assert_true(alloc_fail_loop("dynhc_document_read", modes[m], document_body,
                                        (void *)(uintptr_t)paths[p]) > 0);
        }
    }
}

static const resolution_case *find_case(const resolution_case *cases, size_t count,
                                        const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(cases[i].name, name) == 0) {
            return &cases[i];
        }
    }
    fail_msg("no case named %s", name);
    return NULL;
}

typedef struct explain_run {
    dynhc_result *res;
    char *reference;
} explain_run;

static unsigned long explain_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    explain_run *run = user;
    alloc_fail_start(n, mode);
    char *text = dynhc_result_explain(run->res);
    unsigned long injected = alloc_fail_stop();
    if (text == NULL) {
        if (injected == 0) {
            fail_msg("%s: NULL with no failed allocation", alloc_fail_where());
        }
        return injected;
    }
    assert_same(run->reference, text, "the explanation");
    dynhc_free(text);
    return injected;
}

static void explain_answers_null_or_the_whole_text(void **state)
{
    (void)state;
    const resolution_case *cases[] = {
        find_case(default_cases, COUNT(default_cases), "generate minimal"),
        find_case(config_cases, COUNT(config_cases), "config YAML mapping"),
        find_case(config_cases, COUNT(config_cases), "config file missing"),
        find_case(mode_cases, COUNT(mode_cases), "merge of every source"),
        find_case(mode_cases, COUNT(mode_cases), "disabled by env"),
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        fake_env env;
        dynhc_resolver *r = make_resolver(cases[i], &env);
        explain_run run = {NULL, NULL};
        int status = dynhc_resolver_resolve(r, &run.res); /* some cases fail */
        assert_non_null(run.res);
        assert_int_equal(dynhc_result_status(run.res), status);
        run.reference = dynhc_result_explain(run.res);
        assert_non_null(run.reference);
        for (size_t m = 0; m < MODE_COUNT; m++) {
            assert_true(alloc_fail_loop(cases[i]->name, modes[m], explain_body, &run) > 0);
        }
        dynhc_free(run.reference);
        dynhc_result_free(run.res);
        dynhc_resolver_free(r);
    }
}

/* Reading a result never allocates, so it cannot fail. */
static void result_accessors_never_allocate(void **state)
{
    (void)state;
    fake_env env;
    dynhc_resolver *r = make_resolver(find_case(mode_cases, COUNT(mode_cases), "many diagnostics"),
                                      &env);
    dynhc_result *res = NULL;
    ok(dynhc_resolver_resolve(r, &res));
    alloc_fail_start(1, ALLOC_FAIL_FROM);
    dynhc_result *ref = dynhc_result_ref(res);
    assert_ptr_equal(ref, res);
    assert_int_equal(dynhc_result_status(res), DYNHC_OK);
    assert_non_null(dynhc_result_text(res));
    assert_non_null(dynhc_result_payload(res));
    assert_int_equal(dynhc_result_source(res), DYNHC_SOURCE_RUNTIME);
    assert_non_null(dynhc_result_origin(res));
    (void)dynhc_result_model_type(res);
    (void)dynhc_result_level(res);
    (void)dynhc_result_token_budget(res);
    (void)dynhc_result_model_name(res);
    (void)dynhc_result_enabled(res);
    (void)dynhc_result_interval_ns(res);
    (void)dynhc_result_timeout_ns(res);
    assert_true(dynhc_result_diag_count(res) > 4);
    char line[1024];
    for (size_t i = 0; i < dynhc_result_diag_count(res); i++) {
        assert_true(dynhc_diag_format(dynhc_result_diag(res, i), line, sizeof(line)) > 0);
    }
    assert_null(dynhc_result_diag(res, dynhc_result_diag_count(res)));
    dynhc_result_free(ref);
    assert_non_null(dynhc_strerror(DYNHC_ERR_NOMEM));
    assert_int_equal(alloc_fail_stop(), 0);
    assert_int_equal(alloc_fail_count(), 0);
    dynhc_result_free(res);
    dynhc_resolver_free(r);
}

/* ---- the seed entry point --------------------------------------------------- */

typedef struct seed_case {
    const char *name;
    dynhc_config config;
    int has_config;
    const char *model_type;
    const char *env_payload; /* DYN_HEALTH_CHECK_PAYLOAD for the call, or NULL */
} seed_case;

typedef struct seed_run {
    const seed_case *c;
    char *reference;        /* NULL when the clean call answers NULL */
    char *reference_stderr; /* what the clean call writes on stderr */
} seed_run;

/* Calls dynhc_get_health_check_payload with stderr sent to a file; returns
 * what it wrote there (free()). */
static char *seed_call(const seed_case *c, char **text, int armed, unsigned long n,
                       alloc_fail_mode mode, unsigned long *injected)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(stderr_file, O_WRONLY | O_TRUNC);
    assert_true(saved >= 0 && fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
    if (c->env_payload != NULL) {
        assert_int_equal(setenv("DYN_HEALTH_CHECK_PAYLOAD", c->env_payload, 1), 0);
    }
    if (armed) {
        alloc_fail_start(n, mode);
    }
    *text = dynhc_get_health_check_payload(c->has_config ? &c->config : NULL, c->model_type);
    if (armed) {
        *injected = alloc_fail_stop();
    }
    unsetenv("DYN_HEALTH_CHECK_PAYLOAD");
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    FILE *f = fopen(stderr_file, "rb");
    assert_non_null(f);
    char *out = calloc(1, 4096);
    assert_non_null(out);
    size_t len = fread(out, 1, 4095, f);
    out[len] = '\0';
    fclose(f);
    return out;
}

static unsigned long seed_body(void *user, unsigned long n, alloc_fail_mode mode)
{
    seed_run *run = user;
    char *text = NULL;
    unsigned long injected = 0;
    char *err = seed_call(run->c, &text, 1, n, mode, &injected);
    if (text != NULL) {
        if (run->reference == NULL) {
            fail_msg("%s: a payload where a clean run gives none: %s", alloc_fail_where(), text);
        }
        assert_same(run->reference, text, "the payload");
        assert_same(run->reference_stderr, err, "what went to stderr");
    } else if (run->reference != NULL || injected > 0) {
        if (injected == 0) {
            fail_msg("%s: NULL with no failed allocation", alloc_fail_where());
        }
        /* NULL for lack of memory: stderr says so, and blames nothing else
         * (every other line is one a clean call writes too). */
        int said = 0;
        for (char *line = strtok(err, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            if (strcmp(line, "dynhc: error: out of memory") == 0) {
                said = 1;
            } else if (strstr(run->reference_stderr, line) == NULL) {
                fail_msg("%s: NULL for lack of memory, but stderr says: %s", alloc_fail_where(),
                         line);
            }
        }
        if (!said) {
            fail_msg("%s: NULL for lack of memory, and stderr does not say so",
                     alloc_fail_where());
        }
    }
    dynhc_free(text);
    free(err);
    return injected;
}

static void get_health_check_payload_answers_null_and_never_blames_the_input(void **state)
{
    (void)state;
    static seed_case cases[] = {
        {"seed: no config", DYNHC_CONFIG_INIT, 0, NULL, NULL},
        {"seed: model type", DYNHC_CONFIG_INIT, 0, "chat", NULL},
        {"seed: config struct", DYNHC_CONFIG_INIT, 1, "embedding", NULL},
        {"seed: env payload", DYNHC_CONFIG_INIT, 1, "generate",
         "{\"prompt\": \"env\", \"max_tokens\": 500}"},
        {"seed: disabled", DYNHC_CONFIG_INIT, 1, NULL, NULL},
    };
    cases[2].config.health_check_level = "standard";
    cases[2].config.model = "gpt2";
    cases[3].config.health_check_payload = "{\"prompt\": \"config\"}";
    cases[4].config.health_check_payload_disabled = "true";
    for (size_t i = 0; i < COUNT(cases); i++) {
        seed_run run = {&cases[i], NULL, NULL};
        run.reference_stderr = seed_call(&cases[i], &run.reference, 0, 0, ALLOC_FAIL_ONCE, NULL);
        if ((run.reference == NULL) != (i == 4)) {
            fail_msg("%s: the clean call gave %s, stderr: %s", cases[i].name,
                     run.reference ? run.reference : "NULL", run.reference_stderr);
        }
        for (size_t m = 0; m < MODE_COUNT; m++) {
            assert_true(alloc_fail_loop(cases[i].name, modes[m], seed_body, &run) > 0);
        }
        dynhc_free(run.reference);
        free(run.reference_stderr);
    }
}

/* The helper itself: counts, fails where asked, and sees cJSON's allocations. */
static void the_counting_allocator_counts_both_libraries(void **state)
{
    (void)state;
    long before = alloc_fail_live();
    alloc_fail_start(0, ALLOC_FAIL_ONCE);
    cJSON *obj = cJSON_CreateObject();
    assert_int_equal(alloc_fail_stop(), 0);
    assert_int_equal(alloc_fail_count(), 1);
    assert_int_equal(alloc_fail_live_cjson() + alloc_fail_live_dynhc(), before + 1);
    cJSON_Delete(obj);
    assert_int_equal(alloc_fail_live(), before);

    alloc_fail_start(2, ALLOC_FAIL_ONCE);
    cJSON *a = cJSON_CreateObject();
    cJSON *b = cJSON_CreateObject();
    cJSON *c = cJSON_CreateObject();
    assert_int_equal(alloc_fail_stop(), 1);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    cJSON_Delete(a);
    cJSON_Delete(c);

    alloc_fail_start(2, ALLOC_FAIL_FROM);
    a = cJSON_CreateObject();
    b = cJSON_CreateObject();
    c = cJSON_CreateObject();
    assert_int_equal(alloc_fail_stop(), 2);
    assert_int_equal(alloc_fail_count(), 3);
    assert_non_null(a);
    assert_null(b);
    assert_null(c);
    cJSON_Delete(a);
    assert_int_equal(alloc_fail_live(), before);
}

int main(void)
{
    /* Before any dynhc or cJSON object exists. */
    alloc_fail_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_counting_allocator_counts_both_libraries),
        cmocka_unit_test(resolution_of_builtin_defaults_survives_every_failed_allocation),
        cmocka_unit_test(resolution_of_custom_defaults_survives_every_failed_allocation),
        cmocka_unit_test(resolution_of_runtime_payloads_survives_every_failed_allocation),
        cmocka_unit_test(resolution_of_env_payloads_survives_every_failed_allocation),
        cmocka_unit_test(resolution_of_config_files_survives_every_failed_allocation),
        cmocka_unit_test(strict_merge_disabled_and_check_all_survive_every_failed_allocation),
        cmocka_unit_test(resolver_setters_fail_cleanly_and_keep_the_old_setting),
        cmocka_unit_test(resolver_new_answers_null_or_a_working_resolver),
        cmocka_unit_test(explain_answers_null_or_the_whole_text),
        cmocka_unit_test(result_accessors_never_allocate),
        cmocka_unit_test(document_read_answers_nomem_or_the_whole_tree),
        cmocka_unit_test(get_health_check_payload_answers_null_and_never_blames_the_input),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
