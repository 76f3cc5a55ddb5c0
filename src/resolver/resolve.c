/* resolve.c: dynhc_resolver_resolve(), the precedence rules of SPEC 1.1:
 * runtime > environment > config > custom default > built-in default, for the
 * payload and for every scalar setting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "custom_default.h"
#include "defaults.h"
#include "file_read.h"
#include "json_text.h"
#include "json_write.h"
#include "merge.h"
#include "payload_check.h"
#include "resolver_internal.h"

#define ENV_PAYLOAD "DYN_HEALTH_CHECK_PAYLOAD"

typedef struct ctx {
    const dynhc_resolver *r;
    dynhc_result *res;
    dynhcp_diags *diags;
    const dynhcp_config *config; /* NULL: no config source */
    int nomem;
} ctx;

static const dynhcp_pos no_pos = {0, 0};

/*
 * The order of diagnostics (dynhcp_diags_sort): sources in precedence order, the
 * runtime first; the environment's variables in the order of SPEC 1.2's
 * table; the config file; the custom default. Inside one, by position.
 */
enum { GROUP_RUNTIME = 0, GROUP_ENV = 1, GROUP_CONFIG = 100, GROUP_CUSTOM, GROUP_DEFAULT };

static unsigned env_group(const char *name)
{
    static const char *const order[] = {
        "DYN_HEALTH_CHECK_PAYLOAD",          "DYN_HEALTH_CHECK_PAYLOAD_DISABLED",
        "DYN_HEALTH_CHECK_LEVEL",            "DYN_HEALTH_CHECK_ENABLED",
        "DYN_HEALTH_CHECK_INTERVAL",         "DYN_CANARY_WAIT_TIME",
        "DYN_HEALTH_CHECK_REQUEST_TIMEOUT",  "DYN_SYSTEM_STARTING_HEALTH_STATUS",
        "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "DYN_SYSTEM_HOST",
        "DYN_SYSTEM_PORT",                   "DYN_SYSTEM_HEALTH_PATH",
        "DYN_SYSTEM_LIVE_PATH",              "DYN_LOG",
    };
    unsigned i = 0;
    while (i < sizeof(order) / sizeof(order[0]) && strcmp(order[i], name) != 0) {
        i++;
    }
    return GROUP_ENV + i;
}

/* An environment value, trimmed; NULL when unset or blank (SPEC 1.2). */
static const char *env_get(ctx *c, const char *name, size_t *len)
{
    const char *raw = c->r->getenv_fn(name, c->r->getenv_user_data);
    if (raw == NULL) {
        return NULL;
    }
    const char *value = dynhcp_trim(raw, len);
    return *len > 0 ? value : NULL;
}

/* name is static, or the config's source (kept in the result). */
static void set_origin(ctx *c, enum dynhcp_setting which, const char *kind, const char *name)
{
    c->res->origin_kind[which] = kind;
    c->res->origin_name[which] = name;
}

/* ---- scalar settings ---------------------------------------------------- */

typedef enum value_kind { KIND_BOOL, KIND_DURATION, KIND_LEVEL, KIND_MODEL_TYPE } value_kind;

typedef union value {
    int flag;
    uint64_t ns;
    dynhc_level level;
    dynhc_model_type type;
} value;

static const char *const kind_names[] = {"boolean", "duration", "level", "model type"};

/* Text that is not UTF-8 is refused as such: no setting is spelt that way,
 * and saying which byte is wrong beats "expected minimal, ...". why_buf holds
 * that message. */
static const char *utf8_problem(const char *s, size_t len, dynhcp_parse_error *why_buf)
{
    memset(why_buf, 0, sizeof(*why_buf));
    return dynhcp_utf8_check(s, len, why_buf) != 0 ? why_buf->message : NULL;
}

static const char *parse_text(value_kind kind, const char *s, size_t len, value *out,
                              dynhcp_parse_error *why_buf)
{
    const char *bad = utf8_problem(s, len, why_buf);
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
static int lookup_setting(ctx *c, enum dynhcp_setting which, value_kind kind,
                          const char *const *env_names, const char *config_key, value *out)
{
    char quoted[96];
    dynhcp_parse_error why_buf;
    for (; *env_names != NULL; env_names++) {
        size_t len;
        const char *text = env_get(c, *env_names, &len);
        if (text == NULL) {
            continue;
        }
        dynhcp_diags_group(c->diags, env_group(*env_names), no_pos);
        const char *why = parse_text(kind, text, len, out, &why_buf);
        if (why == NULL) {
            set_origin(c, which, "environment", *env_names);
            return 1;
        }
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, *env_names, no_pos,
                         "invalid %s %s: %s; ignored", kind_names[kind],
                         dynhcp_quote(quoted, sizeof(quoted), text, len), why);
    }
    const cJSON *node = dynhcp_config_get(c->config, config_key);
    if (node != NULL) {
        const dynhcp_posmap *map = &c->config->map;
        dynhcp_diags_group(c->diags, GROUP_CONFIG, no_pos);
        const char *why = parse_node(kind, node, map, out, &why_buf);
        if (why == NULL) {
            set_origin(c, which, "config", c->res->config_source);
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
static value resolve_setting(ctx *c, enum dynhcp_setting which, value_kind kind, int runtime_set,
                             value runtime, const char *const *env_names, const char *config_key,
                             value fallback)
{
    value v;
    if (runtime_set) {
        set_origin(c, which, "runtime", NULL);
        return runtime;
    }
    if (lookup_setting(c, which, kind, env_names, config_key, &v)) {
        return v;
    }
    set_origin(c, which, "default", NULL);
    return fallback;
}

static void resolve_settings(ctx *c)
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

    int disabled = resolve_setting(c, DYNHCP_SETTING_DISABLED, KIND_BOOL, r->disabled >= 0,
                                   (value){.flag = r->disabled}, disabled_env,
                                   "health_check_payload_disabled", (value){.flag = 0})
                       .flag;
    res->status = disabled ? DYNHC_DISABLED : DYNHC_OK;
    res->model_type =
        resolve_setting(c, DYNHCP_SETTING_MODEL_TYPE, KIND_MODEL_TYPE, r->model_type >= 0,
                        (value){.type = (dynhc_model_type)r->model_type}, no_env, "model_type",
                        (value){.type = DYNHC_MODEL_GENERATE})
            .type;
    res->level = resolve_setting(c, DYNHCP_SETTING_LEVEL, KIND_LEVEL, r->level >= 0,
                                 (value){.level = (dynhc_level)r->level}, level_env,
                                 "health_check_level", (value){.level = DYNHC_LEVEL_MINIMAL})
                     .level;
    res->enabled = resolve_setting(c, DYNHCP_SETTING_ENABLED, KIND_BOOL, r->enabled >= 0,
                                   (value){.flag = r->enabled}, enabled_env, "health_check_enabled",
                                   (value){.flag = r->enabled_default})
                       .flag;
    res->interval_ns =
        resolve_setting(c, DYNHCP_SETTING_INTERVAL, KIND_DURATION, r->interval_ns > 0,
                        (value){.ns = r->interval_ns}, interval_env, "health_check_interval",
                        (value){.ns = DYNHCP_DEFAULT_INTERVAL_NS})
            .ns;
    res->timeout_ns =
        resolve_setting(c, DYNHCP_SETTING_TIMEOUT, KIND_DURATION, r->timeout_ns > 0,
                        (value){.ns = r->timeout_ns}, timeout_env, "health_check_timeout",
                        (value){.ns = DYNHCP_DEFAULT_TIMEOUT_NS})
            .ns;

    const cJSON *model = dynhcp_config_get(c->config, "model");
    dynhcp_parse_error why_buf;
    dynhcp_diags_group(c->diags, GROUP_CONFIG, no_pos);
    const char *bad = cJSON_IsString(model) ? utf8_problem(model->valuestring,
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

/* ---- payload sources ---------------------------------------------------- */

/* One payload source that is present: what it holds and where it came from. */
typedef struct candidate {
    cJSON *owned;          /* parsed for this resolution; NULL when borrowed */
    const cJSON *payload;  /* the object to check and use */
    dynhcp_posmap map;     /* positions inside owned */
    const dynhcp_posmap *positions;
    const char *source;    /* diagnostics' SOURCE: variable, file or "<runtime>" */
    dynhc_source kind;
    char *origin;
    int checked;    /* dynhcp_payload_check already ran */
    unsigned group; /* where its diagnostics sort (dynhcp_diags_group) */
    dynhcp_pos anchor;
    char *compact; /* the payload's compact text, when it came as text */
    size_t compact_len;
} candidate;

static void candidate_free(candidate *cand)
{
    cJSON_Delete(cand->owned);
    dynhcp_posmap_clear(&cand->map);
    dynhcp_free(cand->origin);
    dynhcp_free(cand->compact);
    memset(cand, 0, sizeof(*cand));
}

static const char *json_type_name(const cJSON *node)
{
    return cJSON_IsArray(node)    ? "an array"
           : cJSON_IsString(node) ? "a string"
           : cJSON_IsNumber(node) ? "a number"
           : cJSON_IsBool(node)   ? "a boolean"
                                  : "null";
}

/* Returns 1 when cand now holds an object payload; 0 after a warning. */
static int accept_object(ctx *c, candidate *cand, dynhcp_pos at)
{
    if (cJSON_IsObject(cand->payload)) {
        return 1;
    }
    dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, cand->source, at,
                     "the payload must be a JSON object, not %s; payload ignored",
                     json_type_name(cand->payload));
    return 0;
}

/*
 * Checks a payload parsed from text. Positions cost a second walk over the
 * text, and only warnings need them: the text is read again with positions
 * only when the check finds something. Returns 0, or -1 when out of memory.
 */
static int check_with_positions(ctx *c, candidate *cand, const char *text, size_t len,
                                dynhcp_pos origin)
{
    dynhcp_diags scratch;
    memset(&scratch, 0, sizeof(scratch));
    int warnings =
        dynhcp_payload_check(cand->payload, c->res->model_type, cand->source, NULL, &scratch);
    dynhcp_diags_free(&scratch);
    cand->checked = 1;
    if (warnings == 0) {
        return 0;
    }
    cJSON *again = dynhcp_json_parse(text, len, origin, &cand->map, NULL);
    if (again == NULL) {
        c->nomem = 1; /* it parsed a moment ago: memory is the only way to fail */
        return -1;
    }
    cJSON_Delete(cand->owned);
    cand->owned = again;
    cand->payload = again;
    cand->positions = &cand->map;
    dynhcp_payload_check(cand->payload, c->res->model_type, cand->source, cand->positions,
                         c->diags);
    return 0;
}

/* How a text source names a payload file instead: with '@' (environment,
 * config string), with --payload @ (the CLI's runtime text), or not at all
 * (a file's content, a default). */
typedef enum path_hint { HINT_NONE, HINT_AT, HINT_RUNTIME } path_hint;

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Whether text (trimmed, not JSON) looks like a file path: one word that
 * starts with '/', "./", "../" or "~/", or ends with ".json". */
static int looks_like_path(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (is_space(text[i]) || text[i] == '{' || text[i] == '"') {
            return 0;
        }
    }
    return (len > 1 && (text[0] == '/' || (text[0] == '~' && text[1] == '/'))) ||
           (len > 2 && strncmp(text, "./", 2) == 0) || (len > 3 && strncmp(text, "../", 3) == 0) ||
           (len > 5 && dynhcp_equals_nocase(text + len - 5, 5, ".json"));
}

/* Writes into buf the message for text that does not parse but looks like
 * a file path; returns 0, or -1 when there is no such hint. */
static int path_message(path_hint hint, const char *text, size_t len, char *buf, size_t size)
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1])) {
        len--;
    }
    if (hint == HINT_NONE || !looks_like_path(text, len)) {
        return -1;
    }
    static const char lead[] = "expected JSON text, found what looks like a file path: to read a "
                               "file, write";
    int n = (int)(len < 300 ? len : 300);
    if (text[0] == '~') {
        snprintf(buf, size, "%s @ and its full path (~ is not expanded)", lead);
    } else if (hint == HINT_AT) {
        snprintf(buf, size, "%s @%.*s", lead, n, text);
    } else {
        snprintf(buf, size, "%s --payload @%.*s (dynhc_resolver_set_payload_file() in the API)",
                 lead, n, text);
    }
    return 0;
}

/*
 * Parses JSON text as cand's payload. inner_origin is where the text starts
 * in its source. report_at, when not NULL, is where every diagnostic points
 * instead (text held in a config string, whose inner positions are not file
 * positions). hint says how the source reads a file instead, for text that
 * looks like a path. Returns 1 on success, 0 after a warning.
 */
static int parse_payload(ctx *c, candidate *cand, const char *text, size_t len,
                         dynhcp_pos inner_origin, const dynhcp_pos *report_at, path_hint hint)
{
    dynhcp_parse_error err = {{0, 0}, "", 0};
    char message[512];
    cand->owned = dynhcp_json_parse(text, len, inner_origin, NULL, &err);
    if (cand->owned == NULL) {
        if (dynhcp_parse_error_is_nomem(&err)) {
            c->nomem = 1;
        } else if (path_message(hint, text, len, message, sizeof(message)) == 0) {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, cand->source,
                             report_at != NULL ? *report_at : err.pos, "%s%s; payload ignored",
                             report_at != NULL ? "health_check_payload: " : "", message);
        } else if (report_at != NULL) {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, cand->source, *report_at,
                             "health_check_payload: %s (line %u, column %u of the JSON text); "
                             "payload ignored",
                             err.message, err.pos.line, err.pos.column);
        } else {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, cand->source, err.pos,
                             "%s; payload ignored", err.message);
        }
        return 0;
    }
    cand->payload = cand->owned;
    if (!accept_object(c, cand, report_at ? *report_at : inner_origin)) {
        return 0;
    }
    if (!c->r->merge && report_at == NULL &&
        check_with_positions(c, cand, text, len, inner_origin) != 0) {
        return 0;
    }
    const char *key = c->r->marker_key;
    cand->compact = dynhcp_json_minify(text, len, key != NULL ? dynhcp_json_marker_room(key) : 0,
                                       &cand->compact_len);
    if (cand->compact == NULL) {
        c->nomem = 1;
        return 0;
    }
    return 1;
}

/* What referred to a payload file. A problem with the file as a whole (it
 * cannot be opened, is no regular file, is too large) is reported there, the
 * way the person wrote it: DYN_HEALTH_CHECK_PAYLOAD: cannot read @x.json.
 * Problems inside the file are reported at their line in the file. */
typedef struct file_ref {
    const char *source;   /* the variable, the config file or "<runtime>" */
    dynhcp_pos at;        /* where in source */
    const char *key;      /* "health_check_payload: " in a config file, else "" */
    const char *written;  /* "@" or "the payload file " */
    const char *path;     /* the path as written */
    size_t path_len;
    const char *resolved; /* the path read, when it differs from the one written */
} file_ref;

/* err's message without the "cannot open: " that file_read puts before
 * strerror's text: the warning says "cannot read" itself. */
static const char *file_problem(const dynhcp_parse_error *err)
{
    static const char *const prefixes[] = {"cannot open: ", "cannot read: "};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(err->message, prefixes[i], n) == 0) {
            return err->message + n;
        }
    }
    return err->message;
}

static int read_payload_file(ctx *c, candidate *cand, const char *path, const file_ref *ref)
{
    dynhcp_parse_error err = {{0, 0}, "", 0};
    size_t len = 0;
    char *text = dynhcp_read_file_raw(path, &len, &err);
    if (text == NULL && dynhcp_parse_error_is_nomem(&err)) {
        c->nomem = 1; /* not the file's fault: no warning, no falling through */
        return 0;
    }
    if (text == NULL && err.pos.line == 0) {
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, ref->source, ref->at,
                         "%scannot read %s%.*s%s%s%s: %s; payload ignored", ref->key, ref->written,
                         (int)ref->path_len, ref->path, ref->resolved != NULL ? " (" : "",
                         ref->resolved != NULL ? ref->resolved : "",
                         ref->resolved != NULL ? ")" : "", file_problem(&err));
        return 0;
    }
    if (text == NULL) {
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, path, err.pos, "%s; payload ignored",
                         err.message);
        return 0;
    }
    dynhcp_pos origin = {1, 1};
    int ok = parse_payload(c, cand, text, len, origin, NULL, HINT_NONE);
    dynhcp_free(text);
    return ok;
}

/* The diagnostics about cand from now on sort in group, at anchor. */
static void in_group(ctx *c, candidate *cand, unsigned group, dynhcp_pos anchor)
{
    cand->group = group;
    cand->anchor = anchor;
    dynhcp_diags_group(c->diags, group, anchor);
}

static int set_candidate(ctx *c, candidate *cand, dynhc_source kind, const char *origin)
{
    cand->kind = kind;
    cand->origin = dynhcp_strdup(origin);
    cand->source = cand->origin;
    if (cand->origin == NULL) {
        c->nomem = 1;
        return -1;
    }
    return 0;
}

/* Each loader returns 1 with cand filled, 0 when the source is absent or
 * was skipped with a warning. */
static int load_runtime(ctx *c, candidate *cand)
{
    const dynhc_resolver *r = c->r;
    dynhcp_pos origin = {1, 1};
    in_group(c, cand, GROUP_RUNTIME, no_pos);
    if (r->payload_json != NULL) {
        if (set_candidate(c, cand, DYNHC_SOURCE_RUNTIME, "<runtime>") != 0) {
            return 0;
        }
        cand->payload = r->payload_json;
        return accept_object(c, cand, no_pos);
    }
    if (r->payload_file != NULL) {
        file_ref ref = {"<runtime>", no_pos, "", "the payload file ", r->payload_file,
                        strlen(r->payload_file), NULL};
        return set_candidate(c, cand, DYNHC_SOURCE_RUNTIME, r->payload_file) == 0 &&
               read_payload_file(c, cand, r->payload_file, &ref);
    }
    if (r->payload_text != NULL) {
        return set_candidate(c, cand, DYNHC_SOURCE_RUNTIME, "<runtime>") == 0 &&
               parse_payload(c, cand, r->payload_text, strlen(r->payload_text), origin, NULL,
                             HINT_RUNTIME);
    }
    return 0;
}

static int load_env(ctx *c, candidate *cand)
{
    const char *raw = c->r->getenv_fn(ENV_PAYLOAD, c->r->getenv_user_data);
    size_t len = 0;
    const char *text = raw != NULL ? dynhcp_trim(raw, &len) : NULL;
    if (len == 0) {
        return 0;
    }
    in_group(c, cand, env_group(ENV_PAYLOAD), no_pos);
    if (text[0] == '@') {
        /* The path is what follows '@', relative to the working directory. */
        size_t path_len;
        const char *path = dynhcp_trim(text + 1, &path_len);
        char *copy = dynhcp_malloc(path_len + 1);
        if (copy == NULL) {
            c->nomem = 1;
            return 0;
        }
        memcpy(copy, path, path_len);
        copy[path_len] = '\0';
        int ok = set_candidate(c, cand, DYNHC_SOURCE_ENV_FILE, copy) == 0;
        dynhcp_free(copy);
        if (ok && path_len == 0) {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, ENV_PAYLOAD, no_pos,
                             "expected a file path after '@'; payload ignored");
            return 0;
        }
        file_ref ref = {ENV_PAYLOAD, no_pos, "", "@", path, path_len, NULL};
        return ok && read_payload_file(c, cand, cand->origin, &ref);
    }
    /* Positions count from the value as set, before trimming. */
    return set_candidate(c, cand, DYNHC_SOURCE_ENV, ENV_PAYLOAD) == 0 &&
           parse_payload(c, cand, text, len, dynhcp_pos_at(raw, (size_t)(text - raw)), NULL,
                         HINT_AT);
}

static int load_config(ctx *c, candidate *cand)
{
    const dynhcp_config *config = c->config;
    const cJSON *node = dynhcp_config_get(config, "health_check_payload");
    if (node == NULL || set_candidate(c, cand, DYNHC_SOURCE_CONFIG, config->source) != 0) {
        return 0;
    }
    dynhcp_pos at = dynhcp_posmap_find(&config->map, node);
    /* A string's payload (JSON text, or a file it names) has no position in
     * the config file: its diagnostics come where the string stands. */
    in_group(c, cand, GROUP_CONFIG, cJSON_IsString(node) ? at : no_pos);
    if (cJSON_IsObject(node)) {
        cand->payload = node;
        cand->positions = &config->map;
        return 1;
    }
    if (!cJSON_IsString(node)) {
        dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, config->source, at,
                         "health_check_payload: expected a mapping or a string, not %s; "
                         "payload ignored",
                         json_type_name(node));
        return 0;
    }
    size_t len;
    const char *text = dynhcp_trim(node->valuestring, &len);
    if (len > 0 && text[0] == '@') {
        size_t path_len;
        const char *path = dynhcp_trim(text + 1, &path_len);
        /* Relative to the config file's folder, so the pair can move together. */
        size_t size = strlen(config->base_dir) + path_len + 2;
        char *full = dynhcp_malloc(size);
        if (full == NULL) {
            c->nomem = 1;
            return 0;
        }
        int relative = path_len == 0 || path[0] != '/';
        if (!relative) {
            snprintf(full, size, "%.*s", (int)path_len, path);
        } else {
            snprintf(full, size, "%s/%.*s", config->base_dir, (int)path_len, path);
        }
        /* The folder is worth saying unless it is the working directory. */
        file_ref ref = {config->source, at, "health_check_payload: ", "@", path, path_len,
                        relative && strcmp(config->base_dir, ".") != 0 ? full : NULL};
        dynhcp_free(cand->origin);
        cand->origin = full;
        cand->source = full;
        cand->kind = DYNHC_SOURCE_CONFIG;
        if (path_len == 0) {
            dynhcp_diags_add(
                c->diags, DYNHC_SEVERITY_WARNING, config->source, at,
                "health_check_payload: expected a file path after '@'; payload ignored");
            return 0;
        }
        return read_payload_file(c, cand, full, &ref);
    }
    dynhcp_pos inner = {1, 1};
    return parse_payload(c, cand, text, len, inner, &at, HINT_AT);
}

static int load_custom(ctx *c, candidate *cand)
{
    in_group(c, cand, GROUP_CUSTOM, no_pos);
    if (c->r->custom_default != NULL) {
        if (set_candidate(c, cand, DYNHC_SOURCE_CUSTOM, "resolver custom default") != 0) {
            return 0;
        }
        cand->payload = c->r->custom_default;
        return 1;
    }
    int nomem = 0;
    cand->owned = dynhcp_custom_default_copy(&nomem);
    if (nomem) {
        c->nomem = 1;
    }
    if (cand->owned == NULL ||
        set_candidate(c, cand, DYNHC_SOURCE_CUSTOM, "process-wide custom default") != 0) {
        return 0;
    }
    cand->payload = cand->owned;
    return 1;
}

static int load_default(ctx *c, candidate *cand)
{
    char text[DYNHCP_DEFAULT_PAYLOAD_MAX];
    size_t len = dynhcp_default_payload_text(c->res->model_type, c->res->level, c->r->bos_token_id,
                                             text, sizeof(text));
    cand->kind = DYNHC_SOURCE_DEFAULT;
    cand->source = "<default>";
    in_group(c, cand, GROUP_DEFAULT, no_pos);
    dynhcp_pos origin = {1, 1};
    return len > 0 && parse_payload(c, cand, text, len, origin, NULL, HINT_NONE);
}

typedef int (*loader_fn)(ctx *c, candidate *cand);

/* Highest precedence first. */
static const loader_fn loaders[] = {load_runtime, load_env, load_config, load_custom, load_default};
#define SOURCE_COUNT (sizeof(loaders) / sizeof(loaders[0]))

/* Takes the winning payload into the result: copied unless owned. */
static int take_payload(ctx *c, candidate *cand)
{
    dynhc_result *res = c->res;
    if (cand->owned != NULL && cand->owned == cand->payload) {
        res->payload = cand->owned;
        cand->owned = NULL;
    } else if ((res->payload = cJSON_Duplicate(cand->payload, 1)) == NULL) {
        c->nomem = 1;
        return -1;
    }
    res->source = cand->kind;
    res->text = cand->compact;
    res->text_len = cand->compact_len;
    cand->compact = NULL;
    if (cand->origin != NULL) {
        res->origin = cand->origin;
        cand->origin = NULL;
    }
    return 0;
}

static void resolve_replace(ctx *c)
{
    for (size_t i = 0; i < SOURCE_COUNT && !c->nomem; i++) {
        candidate cand;
        memset(&cand, 0, sizeof(cand));
        if (loaders[i](c, &cand)) {
            if (!cand.checked) {
                dynhcp_diags_group(c->diags, cand.group, cand.anchor);
                dynhcp_payload_check(cand.payload, c->res->model_type, cand.source, cand.positions,
                                     c->diags);
            }
            take_payload(c, &cand);
            candidate_free(&cand);
            return;
        }
        candidate_free(&cand);
    }
}

/* Merge mode: the lowest source is the base, each higher one a merge patch. */
static void resolve_merge(ctx *c)
{
    candidate cands[SOURCE_COUNT];
    int present[SOURCE_COUNT] = {0};
    memset(cands, 0, sizeof(cands));
    for (size_t i = 0; i < SOURCE_COUNT && !c->nomem; i++) {
        present[i] = loaders[i](c, &cands[i]);
    }
    cJSON *merged = NULL;
    size_t top = SOURCE_COUNT;
    for (size_t i = SOURCE_COUNT; i-- > 0 && !c->nomem;) {
        if (present[i]) {
            if ((merged = dynhcp_merge_patch(merged, cands[i].payload)) == NULL) {
                c->nomem = 1;
            }
            top = i;
        }
    }
    if (merged != NULL && top < SOURCE_COUNT) {
        /* Positions do not survive merging: checks name the top source only. */
        dynhcp_diags_group(c->diags, cands[top].group, cands[top].anchor);
        dynhcp_payload_check(merged, c->res->model_type, cands[top].source, NULL, c->diags);
        c->res->payload = merged;
        c->res->source = cands[top].kind;
        c->res->merged = 1;
        c->res->origin = cands[top].origin;
        cands[top].origin = NULL;
    } else {
        cJSON_Delete(merged);
    }
    for (size_t i = 0; i < SOURCE_COUNT; i++) {
        candidate_free(&cands[i]);
    }
}

/* ---- the other settings dynhc reads (dynhc validate) --------------------- */

static void check_endpoint_list(ctx *c, const char *name, const char *raw)
{
    dynhcp_diags_group(c->diags, env_group(name), no_pos);
    dynhcp_parse_error err = {{0, 0}, "", 0};
    dynhcp_posmap map = {NULL, 0, 0};
    cJSON *list = NULL;
    if (dynhcp_parse_endpoint_names(raw, &list, &map, &err) != 0) {
        if (dynhcp_parse_error_is_nomem(&err)) {
            c->nomem = 1;
        } else {
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, name, err.pos, "%s; ignored",
                             err.message);
        }
    }
    cJSON_Delete(list);
    dynhcp_posmap_clear(&map);
}

static void warn_system_setting(ctx *c, const char *name, const char *text, size_t len,
                                const char *why)
{
    char quoted[96];
    dynhcp_diags_group(c->diags, env_group(name), no_pos);
    dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, name, no_pos,
                     "invalid value %s: %s; ignored",
                     dynhcp_quote(quoted, sizeof(quoted), text, len), why);
}

/* The variables of the scheduler and the status server, by the same rules
 * (settings.c) as when they read them: a value validate passes is one they
 * accept. */
static void check_system_settings(ctx *c)
{
    enum { START, HOST, PORT, HEALTH, LIVE, LOG, COUNT };
    static const char *const names[COUNT] = {
        "DYN_SYSTEM_STARTING_HEALTH_STATUS", "DYN_SYSTEM_HOST",      "DYN_SYSTEM_PORT",
        "DYN_SYSTEM_HEALTH_PATH",            "DYN_SYSTEM_LIVE_PATH", "DYN_LOG"};
    const char *valid[COUNT] = {NULL};
    size_t valid_len[COUNT] = {0};
    for (size_t i = 0; i < COUNT; i++) {
        size_t len;
        const char *text = env_get(c, names[i], &len);
        if (text == NULL) {
            continue;
        }
        int ignored;
        dynhcp_parse_error why_buf;
        const char *why = utf8_problem(text, len, &why_buf);
        if (why == NULL) {
            why = i == START  ? dynhcp_parse_start_status(text, len, &ignored)
                  : i == HOST ? dynhcp_parse_host(text, len, NULL)
                  : i == PORT ? dynhcp_parse_port(text, len, &ignored)
                  : i == LOG  ? dynhcp_parse_log_level(text, len, &ignored)
                              : dynhcp_parse_status_path(text, len);
        }
        if (why != NULL) {
            warn_system_setting(c, names[i], text, len, why);
        } else {
            valid[i] = text;
            valid_len[i] = len;
        }
    }
    int live_gives_way;
    const char *clash = dynhcp_status_paths_clash(valid[HEALTH], valid_len[HEALTH], valid[LIVE],
                                                  valid_len[LIVE], DYNHCP_DEFAULT_HEALTH_PATH,
                                                  DYNHCP_DEFAULT_LIVE_PATH, &live_gives_way);
    if (clash != NULL) {
        size_t which = live_gives_way ? LIVE : HEALTH;
        warn_system_setting(c, names[which], valid[which], valid_len[which], clash);
    }
    size_t len;
    const char *name = "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS";
    const char *raw = c->r->getenv_fn(name, c->r->getenv_user_data);
    if (raw != NULL && dynhcp_trim(raw, &len) != NULL && len > 0) {
        check_endpoint_list(c, name, raw);
    }
}

/* ---- the whole resolution ------------------------------------------------ */

static void finish_payload(ctx *c)
{
    dynhc_result *res = c->res;
    const char *key = c->r->marker_key;
    int add_marker = key != NULL && cJSON_GetObjectItemCaseSensitive(res->payload, key) == NULL;
    if (add_marker && cJSON_AddTrueToObject(res->payload, key) == NULL) {
        c->nomem = 1;
        return;
    }
    res->token_budget = dynhcp_payload_token_budget(res->payload, res->model_type);
    if (res->text != NULL) {
        if (add_marker) {
            res->text_len = dynhcp_json_append_marker(res->text, res->text_len, key);
        }
        return;
    }
    /* A payload that came as a tree (or was merged) is printed; the copy
     * keeps one allocator for the result's text whatever cJSON's hooks are. */
    char *printed = cJSON_PrintUnformatted(res->payload);
    if (printed == NULL || (res->text = dynhcp_strdup(printed)) == NULL) {
        c->nomem = 1;
    }
    cJSON_free(printed);
}

int dynhc_resolver_resolve(dynhc_resolver *r, dynhc_result **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (r == NULL || out == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_result *res = dynhcp_calloc(1, sizeof(*res));
    if (res == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    atomic_init(&res->refs, 1);
    res->diags.strict = r->strict;
    /* What a result reports when resolution stops before the settings. */
    res->enabled = r->enabled_default;
    res->interval_ns = DYNHCP_DEFAULT_INTERVAL_NS;
    res->timeout_ns = DYNHCP_DEFAULT_TIMEOUT_NS;
    if (r->marker_key != NULL && (res->marker_key = dynhcp_strdup(r->marker_key)) == NULL) {
        dynhc_result_free(res);
        return DYNHC_ERR_NOMEM;
    }
    ctx c = {r, res, &res->diags, NULL, 0};
    dynhcp_config file_config;
    int config_loaded = 0;
    if (r->config_file != NULL) {
        int loaded = dynhcp_config_load_file(&file_config, r->config_file, c.diags);
        if (loaded == DYNHCP_CONFIG_NOMEM) {
            c.nomem = 1;
        } else if (loaded != 0) {
            res->status = DYNHC_ERR_CONFIG;
        } else {
            c.config = &file_config;
            config_loaded = 1;
        }
    } else if (r->has_config_values) {
        c.config = &r->config_values;
    }

    if (c.config != NULL && (res->config_source = dynhcp_strdup(c.config->source)) == NULL) {
        c.nomem = 1;
    }
    if (res->status == DYNHC_OK && !c.nomem) {
        resolve_settings(&c);
        if (r->check_all) {
            check_system_settings(&c);
        }
        if (res->status == DYNHC_OK) {
            if (r->merge) {
                resolve_merge(&c);
            } else {
                resolve_replace(&c);
            }
            if (res->payload != NULL && !c.nomem) {
                finish_payload(&c);
            }
        }
        if (r->strict && res->diags.errors > 0) {
            res->status = DYNHC_ERR_STRICT;
        }
    }
    if (config_loaded) {
        dynhcp_config_free(&file_config);
    }
    dynhcp_diags_sort(&res->diags);
    if (c.nomem || res->diags.nomem) {
        dynhc_result_free(res);
        return DYNHC_ERR_NOMEM;
    }
    if (res->status != DYNHC_OK) {
        /* Never a partial payload: only a clean resolution carries one. */
        cJSON_Delete(res->payload);
        dynhcp_free(res->text);
        res->payload = NULL;
        res->text = NULL;
        res->source = DYNHC_SOURCE_NONE;
        res->token_budget = 0;
    }
    *out = res;
    return res->status;
}
