/* resolve_settings.c: every scalar setting by SPEC 1.1's precedence (runtime >
 * environment > config > default), with its origin and diagnostics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "resolve_internal.h"

typedef enum value_kind { KIND_BOOL, KIND_DURATION, KIND_LEVEL, KIND_MODEL_TYPE } value_kind;

typedef union value {
    int flag;
    uint64_t ns;
    dynhc_level level;
    dynhc_model_type type;
} value;

static const char *const kind_names[] = {"boolean", "duration", "level", "model type"};

static const char *parse_text(value_kind kind, const char *s, size_t len, value *out,
                              dynhcp_parse_error *why_buf)
{
    const char *bad = dynhcp_resolve_utf8_problem(s, len, why_buf);
    if (bad != NULL) {
        return bad;
    }
    switch (kind) {
    case KIND_BOOL:
        return dynhcp_parse_bool(s, len, &out->flag);
    case KIND_DURATION:
        return dynhcp_parse_duration(s, len, &out->ns);
    case KIND_LEVEL:
        return dynhcp_parse_level(s, len, &out->level);
    case KIND_MODEL_TYPE:
        return dynhcp_parse_model_type(s, len, &out->type);
    }
    return "unknown setting";
}

/* A config value keeps its YAML/JSON type, or is a string read like the
 * environment (SPEC 1.5). A number of seconds is read from its text when the
 * map has it and it is a plain decimal, so that 4.1 is exactly 4.1 s; other
 * spellings (1e3, 0x10) go through the double. */
static const char *parse_node(value_kind kind, const cJSON *node, const dynhcp_posmap *map,
                              value *out, dynhcp_parse_error *why_buf)
{
    if (cJSON_IsString(node)) {
        size_t len;
        const char *s = dynhcp_trim(node->valuestring, &len);
        return parse_text(kind, s, len, out, why_buf);
    }
    if (kind == KIND_BOOL && cJSON_IsBool(node)) {
        out->flag = cJSON_IsTrue(node);
        return NULL;
    }
    if (kind == KIND_BOOL && cJSON_IsNumber(node) &&
        (node->valuedouble == 0 || node->valuedouble == 1)) {
        out->flag = node->valuedouble == 1;
        return NULL;
    }
    if (kind == KIND_DURATION && cJSON_IsNumber(node)) {
        const char *token = dynhcp_posmap_token(map, node);
        uint64_t ns;
        if (token != NULL && dynhcp_parse_duration(token, strlen(token), &ns) == NULL) {
            out->ns = ns;
            return NULL;
        }
        return dynhcp_duration_from_seconds(node->valuedouble, &out->ns);
    }
    switch (kind) {
    case KIND_BOOL: return "expected a boolean";
    case KIND_DURATION: return "expected a number of seconds or a duration string";
    case KIND_LEVEL:
    case KIND_MODEL_TYPE: break;
    }
    return "expected a string";
}

/* Quotes a config value for a message: a string in quotes, a number as it
 * was written (else its shortest spelling), true or false; a collection by
 * its kind, "(a list)" or "(a mapping)". */
static const char *node_text(const cJSON *node, const dynhcp_posmap *map, char *buf, size_t size)
{
    if (cJSON_IsString(node)) {
        return dynhcp_quote(buf, size, node->valuestring, strlen(node->valuestring));
    }
    if (cJSON_IsNumber(node)) {
        const char *token = dynhcp_posmap_token(map, node);
        char number[DYNHCP_NUMBER_TEXT_SIZE];
        if (token == NULL) {
            token = dynhcp_format_double(number, node->valuedouble);
        }
        /* A number's text is digits, signs, '.', 'e', 'x' and 'o': quoting
         * only cuts one too long to read. */
        size_t len = strlen(token);
        if (len < size) {
            memcpy(buf, token, len + 1);
            return buf;
        }
        return dynhcp_quote(buf, size, token, len);
    }
    snprintf(buf, size, "%s",
             cJSON_IsTrue(node)    ? "true"
             : cJSON_IsFalse(node) ? "false"
             : cJSON_IsArray(node) ? "(a list)"
                                   : "(a mapping)");
    return buf;
}

/*
 * Looks a setting up in the environment variables env_names (first set one
 * wins; NULL-terminated, may be empty) then the config key. Bad values are
 * warnings and count as unset. Returns 1 when a source set *out.
 */
static int lookup_setting(ctx *c, dynhc_setting which, value_kind kind,
                          const char *const *env_names, const char *config_key, value *out)
{
    char quoted[96];
    dynhcp_parse_error why_buf;
    for (; *env_names != NULL; env_names++) {
        size_t len;
        const char *text = dynhcp_resolve_env_get(c, *env_names, &len);
        if (text == NULL) {
            continue;
        }
        dynhcp_diags_group(c->diags, dynhcp_resolve_env_group(*env_names), dynhcp_no_pos);
        const char *why = parse_text(kind, text, len, out, &why_buf);
        if (why == NULL) {
            dynhcp_resolve_set_origin(c, which, "environment", *env_names);
            return 1;
        }
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, *env_names, dynhcp_no_pos,
                         "invalid %s %s: %s; ignored", kind_names[kind],
                         dynhcp_quote(quoted, sizeof(quoted), text, len), why);
    }
    const cJSON *node = dynhcp_config_get(c->config, config_key);
    if (node != NULL) {
        const dynhcp_posmap *map = &c->config->map;
        dynhcp_diags_group(c->diags, GROUP_CONFIG, dynhcp_no_pos);
        const char *why = parse_node(kind, node, map, out, &why_buf);
        if (why == NULL) {
            dynhcp_resolve_set_origin(c, which, "config", c->res->config_source);
            return 1;
        }
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, c->config->source,
                         dynhcp_posmap_find(map, node), "%s: invalid %s %s: %s; ignored",
                         config_key, kind_names[kind], node_text(node, map, quoted, sizeof(quoted)),
                         why);
    }
    return 0;
}

/* runtime (when runtime_set) > environment > config > fallback. */
static value resolve_setting(ctx *c, dynhc_setting which, value_kind kind, int runtime_set,
                             value runtime, const char *const *env_names, const char *config_key,
                             value fallback)
{
    value v;
    if (runtime_set) {
        dynhcp_resolve_set_origin(c, which, "runtime", NULL);
        return runtime;
    }
    if (lookup_setting(c, which, kind, env_names, config_key, &v)) {
        return v;
    }
    dynhcp_resolve_set_origin(c, which, "default", NULL);
    return fallback;
}

void dynhcp_resolve_settings(ctx *c)
{
    static const char *const no_env[] = {NULL};
    static const char *const disabled_env[] = {"DYN_HEALTH_CHECK_PAYLOAD_DISABLED", NULL};
    static const char *const level_env[] = {"DYN_HEALTH_CHECK_LEVEL", NULL};
    static const char *const enabled_env[] = {"DYN_HEALTH_CHECK_ENABLED", NULL};
    static const char *const interval_env[] = {"DYN_HEALTH_CHECK_INTERVAL", "DYN_CANARY_WAIT_TIME",
                                               NULL};
    static const char *const timeout_env[] = {"DYN_HEALTH_CHECK_REQUEST_TIMEOUT", NULL};
    const dynhc_resolver *r = c->r;
    dynhc_result *res = c->res;

    int disabled = resolve_setting(c, DYNHC_SETTING_DISABLED, KIND_BOOL, r->disabled >= 0,
                                   (value){.flag = r->disabled}, disabled_env,
                                   "health_check_payload_disabled", (value){.flag = 0})
                       .flag;
    res->status = disabled ? DYNHC_DISABLED : DYNHC_OK;
    res->model_type =
        resolve_setting(c, DYNHC_SETTING_MODEL_TYPE, KIND_MODEL_TYPE, r->model_type >= 0,
                        (value){.type = (dynhc_model_type)r->model_type}, no_env, "model_type",
                        (value){.type = DYNHC_MODEL_GENERATE})
            .type;
    res->level = resolve_setting(c, DYNHC_SETTING_LEVEL, KIND_LEVEL, r->level >= 0,
                                 (value){.level = (dynhc_level)r->level}, level_env,
                                 "health_check_level", (value){.level = DYNHC_LEVEL_MINIMAL})
                     .level;
    res->enabled = resolve_setting(c, DYNHC_SETTING_ENABLED, KIND_BOOL, r->enabled >= 0,
                                   (value){.flag = r->enabled}, enabled_env, "health_check_enabled",
                                   (value){.flag = r->enabled_default})
                       .flag;
    res->interval_ns =
        resolve_setting(c, DYNHC_SETTING_INTERVAL, KIND_DURATION, r->interval_ns > 0,
                        (value){.ns = r->interval_ns}, interval_env, "health_check_interval",
                        (value){.ns = DYNHCP_DEFAULT_INTERVAL_NS})
            .ns;
    res->timeout_ns =
        resolve_setting(c, DYNHC_SETTING_TIMEOUT, KIND_DURATION, r->timeout_ns > 0,
                        (value){.ns = r->timeout_ns}, timeout_env, "health_check_timeout",
                        (value){.ns = DYNHCP_DEFAULT_TIMEOUT_NS})
            .ns;

    const cJSON *model = dynhcp_config_get(c->config, "model");
    dynhcp_parse_error why_buf;
    dynhcp_diags_group(c->diags, GROUP_CONFIG, dynhcp_no_pos);
    const char *bad = cJSON_IsString(model) ? dynhcp_resolve_utf8_problem(model->valuestring,
                                                           strlen(model->valuestring), &why_buf)
                                            : NULL;
    if (bad != NULL) {
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, c->config->source,
                         dynhcp_posmap_find(&c->config->map, model), "model: %s; ignored", bad);
    } else if (cJSON_IsString(model)) {
        if ((res->model_name = dynhcp_strdup(model->valuestring)) == NULL) {
            c->nomem = 1;
        }
    } else if (model != NULL) {
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, c->config->source,
                         dynhcp_posmap_find(&c->config->map, model),
                         "model: expected a string; ignored");
    }
}

