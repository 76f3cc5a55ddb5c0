/* resolve_payload.c: the payload sources of SPEC 1.1 and the choice among
 * them: the highest valid one, or all merged (RFC 7396) in merge mode. */
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
#include "resolve_internal.h"

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
    in_group(c, cand, GROUP_RUNTIME, dynhcp_no_pos);
    if (r->payload_json != NULL) {
        if (set_candidate(c, cand, DYNHC_SOURCE_RUNTIME, "<runtime>") != 0) {
            return 0;
        }
        cand->payload = r->payload_json;
        return accept_object(c, cand, dynhcp_no_pos);
    }
    if (r->payload_file != NULL) {
        file_ref ref = {"<runtime>", dynhcp_no_pos, "", "the payload file ", r->payload_file,
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
    in_group(c, cand, dynhcp_resolve_env_group(ENV_PAYLOAD), dynhcp_no_pos);
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
            dynhcp_diags_add(c->diags, DYNHC_SEVERITY_WARNING, ENV_PAYLOAD, dynhcp_no_pos,
                             "expected a file path after '@'; payload ignored");
            return 0;
        }
        file_ref ref = {ENV_PAYLOAD, dynhcp_no_pos, "", "@", path, path_len, NULL};
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
    in_group(c, cand, GROUP_CONFIG, cJSON_IsString(node) ? at : dynhcp_no_pos);
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
    in_group(c, cand, GROUP_CUSTOM, dynhcp_no_pos);
    dynhcp_pos origin = {1, 1};
    const char *own = c->r->custom_default;
    if (own != NULL) {
        return set_candidate(c, cand, DYNHC_SOURCE_CUSTOM, "resolver custom default") == 0 &&
               parse_payload(c, cand, own, strlen(own), origin, NULL, HINT_NONE);
    }
    int nomem = 0;
    char *text = dynhcp_custom_default_copy(&nomem);
    if (nomem) {
        c->nomem = 1;
    }
    int loaded = text != NULL &&
                 set_candidate(c, cand, DYNHC_SOURCE_CUSTOM, "process-wide custom default") == 0 &&
                 parse_payload(c, cand, text, strlen(text), origin, NULL, HINT_NONE);
    dynhcp_free(text);
    return loaded;
}

static int load_default(ctx *c, candidate *cand)
{
    char text[DYNHCP_DEFAULT_PAYLOAD_MAX];
    size_t len = dynhcp_default_payload_text(c->res->model_type, c->res->level, c->r->bos_token_id,
                                             text, sizeof(text));
    cand->kind = DYNHC_SOURCE_DEFAULT;
    cand->source = "<default>";
    in_group(c, cand, GROUP_DEFAULT, dynhcp_no_pos);
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

void dynhcp_resolve_replace(ctx *c)
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
void dynhcp_resolve_merge(ctx *c)
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

