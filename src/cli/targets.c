/* targets.c: the targets of watch: --url values and Prometheus file_sd
 * files (a list of {"targets": [...], "labels": {...}}, JSON or YAML, read
 * by the library's own reader), kept to one shard. */
#include "targets.h"
#include "secrets.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dynhc/cjson.h>

/* The longest URL a target file or DNS discovery gives. */
#define TARGET_URL_MAX 2048

/* The labels of a file_sd group that choose, rather than label: Prometheus
 * drops every "__" label after relabelling, and so does watch. */
#define LABEL_SCHEME "__scheme__"
#define LABEL_MODEL_TYPE "__dynhc_model_type"
#define LABEL_MODEL "__dynhc_model"
#define OWN_META_PREFIX "__dynhc_"

/* One file being read: its path and document, for messages. */
typedef struct file_ctx {
    const char *path;
    const dynhc_document *doc;
} file_ctx;

CLI_PRINTF(3, 4)
static void file_error(const file_ctx *f, const cJSON *node, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned line = 0, column = 0;
    dynhc_document_position(f->doc, node, &line, &column);
    cli_error("%s:%u:%u: %s", f->path, line, column, msg);
}

unsigned cli_target_shard(const char *name, unsigned count)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64, offset basis */
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ull;
    }
    return (unsigned)(h % count);
}

void cli_target_spec_clear(cli_target_spec *t)
{
    free(t->url);
    free(t->name);
    free(t->model_type);
    free(t->model);
    for (size_t i = 0; i < t->label_count; i++) {
        free((char *)(uintptr_t)t->labels[i].name);
        free((char *)(uintptr_t)t->labels[i].value);
    }
    free(t->labels);
    free(t->key);
    memset(t, 0, sizeof(*t));
}

void cli_targets_clear(cli_target_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        cli_target_spec_clear(&list->items[i]);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int by_label_name(const void *a, const void *b)
{
    return strcmp(((const dynhc_label *)a)->name, ((const dynhc_label *)b)->name);
}

/* The key: URL, model type, model and labels, each ended by a newline
 * (which no URL or label name holds; a value that does is escaped by
 * being counted: its length leads it). NULL when out of memory. */
static char *make_key(const cli_target_spec *t)
{
    size_t size = strlen(t->url) + 64;
    size += t->model_type != NULL ? strlen(t->model_type) : 0;
    size += t->model != NULL ? strlen(t->model) + 24 : 0;
    for (size_t i = 0; i < t->label_count; i++) {
        size += strlen(t->labels[i].name) + strlen(t->labels[i].value) + 24;
    }
    char *key = malloc(size);
    if (key == NULL) {
        return NULL;
    }
    int n = snprintf(key, size, "%s\n%s\n%zu:%s\n", t->url,
                     t->model_type != NULL ? t->model_type : "",
                     t->model != NULL ? strlen(t->model) : 0, t->model != NULL ? t->model : "");
    for (size_t i = 0; i < t->label_count && n > 0; i++) {
        n += snprintf(key + n, size - (size_t)n, "%s=%zu:%s\n", t->labels[i].name,
                      strlen(t->labels[i].value), t->labels[i].value);
    }
    return key;
}

/* Appends a target (its strings copied, labels sorted). -1 when out of memory. */
static int add_target(cli_target_list *list, const char *url, const char *model_type,
                      const char *model, const dynhc_label *labels, size_t label_count,
                      const char *source, unsigned line, unsigned column)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity != 0 ? list->capacity * 2 : 16;
        cli_target_spec *grown = realloc(list->items, cap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        list->items = grown;
        list->capacity = cap;
    }
    cli_target_spec *t = &list->items[list->count++];
    memset(t, 0, sizeof(*t));
    t->source = source;
    t->line = line;
    t->column = column;
    t->url = strdup(url);
    t->name = cli_redact_url(url, 0);
    t->model_type = dup_or_null(model_type);
    t->model = dup_or_null(model);
    t->labels = label_count > 0 ? calloc(label_count, sizeof(*t->labels)) : NULL;
    int failed = t->url == NULL || t->name == NULL ||
                 (model_type != NULL && t->model_type == NULL) ||
                 (model != NULL && t->model == NULL) || (label_count > 0 && t->labels == NULL);
    for (size_t i = 0; i < label_count && !failed; i++) {
        t->labels[i].name = strdup(labels[i].name);
        t->labels[i].value = strdup(labels[i].value);
        t->label_count++;
        failed = t->labels[i].name == NULL || t->labels[i].value == NULL;
    }
    if (!failed && t->label_count > 1) {
        qsort(t->labels, t->label_count, sizeof(*t->labels), by_label_name);
    }
    failed = failed || (t->key = make_key(t)) == NULL;
    return failed ? -1 : 0;
}

/* Whether url parses as an http(s) URL with a host. */
static int good_url(const char *url, const char **why)
{
    CURLU *u = curl_url();
    char *host = NULL;
    CURLUcode uc = u == NULL ? CURLUE_OUT_OF_MEMORY : curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    }
    *why = uc != CURLUE_OK ? curl_url_strerror(uc) : NULL;
    curl_free(host);
    curl_url_cleanup(u);
    return uc == CURLUE_OK;
}

/* What a group's labels say: the metric labels and the choices. */
typedef struct group_labels {
    dynhc_label *labels;
    size_t count;
    const char *scheme;
    const char *model_type;
    const char *model;
} group_labels;

/* Reads a group's "labels" mapping. CLI_EXIT_OK or an exit status after
 * the error. */
static int read_labels(const file_ctx *f, const cJSON *labels, group_labels *g)
{
    char quoted[160];
    if (labels == NULL) {
        return CLI_EXIT_OK;
    }
    if (!cJSON_IsObject(labels)) {
        file_error(f, labels, "\"labels\" is a mapping of label names to strings");
        return CLI_EXIT_USAGE;
    }
    g->labels = calloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(*g->labels));
    if (g->labels == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    for (const cJSON *l = labels->child; l != NULL; l = l->next) {
        const char *name = l->string, *why = NULL;
        cli_quote(quoted, sizeof(quoted), name);
        if (!cJSON_IsString(l)) {
            file_error(f, l, "label %s: expected a string value (quote it)", quoted);
            return CLI_EXIT_USAGE;
        }
        const char *value = l->valuestring;
        dynhc_model_type type;
        if (strcmp(name, LABEL_SCHEME) == 0) {
            if (strcmp(value, "http") != 0 && strcmp(value, "https") != 0) {
                file_error(f, l, "label %s: expected http or https", quoted);
                return CLI_EXIT_USAGE;
            }
            g->scheme = value;
        } else if (strcmp(name, LABEL_MODEL_TYPE) == 0) {
            if (dynhc_model_type_from_name(value, &type) != DYNHC_OK) {
                char given[160];
                file_error(f, l, "label %s: unknown model type %s (expected generate, chat or "
                           "embedding)", quoted, cli_quote(given, sizeof(given), value));
                return CLI_EXIT_USAGE;
            }
            g->model_type = dynhc_model_type_name(type);
        } else if (strcmp(name, LABEL_MODEL) == 0) {
            if (value[0] == '\0') {
                file_error(f, l, "label %s: expected a model name, not an empty string", quoted);
                return CLI_EXIT_USAGE;
            }
            g->model = value;
        } else if (strncmp(name, OWN_META_PREFIX, strlen(OWN_META_PREFIX)) == 0) {
            file_error(f, l, "unknown label %s (dynhc's own are " LABEL_MODEL_TYPE " and "
                       LABEL_MODEL ")", quoted);
            return CLI_EXIT_USAGE;
        } else if (strncmp(name, "__", 2) == 0) {
            continue; /* another tool's meta label, dropped as Prometheus drops it */
        } else if (strcmp(name, "model") == 0) {
            file_error(f, l, "label 'model' is the model name that checks send: set it with "
                       LABEL_MODEL);
            return CLI_EXIT_USAGE;
        } else if ((why = dynhc_label_name_refusal(name)) != NULL) {
            file_error(f, l, "label %s cannot be a metric label: %s", quoted, why);
            return CLI_EXIT_USAGE;
        } else {
            g->labels[g->count].name = name;
            g->labels[g->count++].value = value;
        }
    }
    return CLI_EXIT_OK;
}

/* Reads one group {"targets": [...], "labels": {...}}. */
static int read_group(const file_ctx *f, const cJSON *group, cli_target_list *out)
{
    char quoted[160], url[TARGET_URL_MAX];
    if (!cJSON_IsObject(group)) {
        file_error(f, group, "expected a group: a mapping with \"targets\" and \"labels\"");
        return CLI_EXIT_USAGE;
    }
    for (const cJSON *k = group->child; k != NULL; k = k->next) {
        if (strcmp(k->string, "targets") != 0 && strcmp(k->string, "labels") != 0) {
            file_error(f, k, "unknown key %s in a group (expected targets and labels)",
                       cli_quote(quoted, sizeof(quoted), k->string));
            return CLI_EXIT_USAGE;
        }
    }
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(group, "targets");
    if (!cJSON_IsArray(targets)) {
        file_error(f, targets != NULL ? targets : group,
                   "\"targets\" is required: a list of host:port or http(s) URLs");
        return CLI_EXIT_USAGE;
    }
    group_labels g = {NULL, 0, "http", NULL, NULL};
    int code = read_labels(f, cJSON_GetObjectItemCaseSensitive(group, "labels"), &g);
    for (const cJSON *t = targets->child; t != NULL && code == CLI_EXIT_OK; t = t->next) {
        const char *why = NULL;
        if (!cJSON_IsString(t) || t->valuestring[0] == '\0') {
            file_error(f, t, "expected a target: host:port or an http(s) URL, as a string");
            code = CLI_EXIT_USAGE;
            break;
        }
        const char *given = t->valuestring;
        int has_scheme = strstr(given, "://") != NULL;
        snprintf(url, sizeof(url), "%s%s%s", has_scheme ? "" : g.scheme,
                 has_scheme ? "" : "://", given);
        if ((has_scheme && strncmp(given, "http://", 7) != 0 &&
             strncmp(given, "https://", 8) != 0) ||
            strlen(url) >= sizeof(url) - 1 || !good_url(url, &why)) {
            /* Whole: a URL curl refused may hold its password anywhere. */
            char *shown = cli_redact_url(given, 1);
            file_error(f, t, "target %s: expected host:port or an http(s) URL%s%s%s",
                       cli_quote(quoted, sizeof(quoted), shown != NULL ? shown : "(?)"),
                       why != NULL ? " (" : "", why != NULL ? why : "", why != NULL ? ")" : "");
            free(shown);
            code = CLI_EXIT_USAGE;
            break;
        }
        unsigned line = 0, column = 0;
        dynhc_document_position(f->doc, t, &line, &column);
        if (add_target(out, url, g.model_type, g.model, g.labels, g.count, f->path, line,
                       column) != 0) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    free(g.labels);
    return code;
}

static int read_file(const char *path, cli_target_list *out)
{
    dynhc_document *doc = NULL;
    dynhc_document_error err;
    int rc = dynhc_document_read(path, &doc, &err);
    if (rc == DYNHC_ERR_CONFIG) {
        if (err.line > 0) {
            cli_error("%s:%u:%u: %s", path, err.line, err.column, err.message);
        } else {
            cli_error("--targets %s: %s", path, err.message);
        }
        return CLI_EXIT_ERROR;
    }
    if (rc != DYNHC_OK) {
        cli_error("%s", dynhc_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    file_ctx f = {path, doc};
    const cJSON *root = dynhc_document_root(doc);
    int code = CLI_EXIT_OK;
    if (!cJSON_IsNull(root) && !cJSON_IsArray(root)) { /* an empty YAML file: no target */
        file_error(&f, root, "expected a list of groups {\"targets\": [...], \"labels\": {...}} "
                   "(Prometheus file_sd)");
        code = CLI_EXIT_ERROR;
    }
    for (const cJSON *g = cJSON_IsArray(root) ? root->child : NULL;
         g != NULL && code == CLI_EXIT_OK; g = g->next) {
        code = read_group(&f, g, out);
    }
    dynhc_document_free(doc);
    /* Every mistake in a file is the file's: the same exit status for all. */
    return code == CLI_EXIT_USAGE ? CLI_EXIT_ERROR : code;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const cli_target_spec *)a)->name, ((const cli_target_spec *)b)->name);
}

/* Where a target was given, for a message. */
/* The source of the targets DNS discovery found (compared by address). */
static const char dns_source[] = "DNS";

static const char *origin(const cli_target_spec *t, char *buf, size_t size)
{
    if (t->source == NULL) {
        return "--url";
    }
    if (t->source == dns_source) {
        return dns_source;
    }
    snprintf(buf, size, "%s:%u:%u", t->source, t->line, t->column);
    return buf;
}

/* Keeps the shard's targets, sorted by name; a name given twice is an error. */
static int keep_shard(const cli_options *opts, cli_target_list *list)
{
    char quoted[160], first[512], second[512];
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (opts->shard_count == 0 ||
            cli_target_shard(list->items[i].name, opts->shard_count) == opts->shard_index) {
            list->items[kept++] = list->items[i];
        } else {
            cli_target_spec_clear(&list->items[i]);
        }
    }
    list->count = kept;
    if (kept > 1) {
        qsort(list->items, kept, sizeof(*list->items), by_name);
    }
    /* A server that DNS finds and that is also named otherwise is watched
     * once, as named: what DNS answers must never fail a reload. */
    size_t unique = kept > 0 ? 1 : 0;
    for (size_t i = 1; i < kept; i++) {
        cli_target_spec *a = &list->items[unique - 1], *b = &list->items[i];
        if (strcmp(a->name, b->name) == 0 && (a->source == dns_source || b->source == dns_source)) {
            if (a->source == dns_source) {
                cli_target_spec kept_one = *b;
                *b = *a;
                *a = kept_one;
            }
            cli_target_spec_clear(b);
        } else {
            list->items[unique++] = *b;
        }
    }
    list->count = kept = unique;
    for (size_t i = 1; i < kept; i++) {
        const cli_target_spec *a = &list->items[i - 1], *b = &list->items[i];
        if (strcmp(a->name, b->name) == 0 && a->source == NULL && b->source == NULL) {
            cli_usage_error("--url %s is given twice", cli_quote(quoted, sizeof(quoted), a->name));
            return CLI_EXIT_USAGE;
        }
        if (strcmp(a->name, b->name) == 0) {
            cli_error("target %s is given twice: %s and %s",
                      cli_quote(quoted, sizeof(quoted), a->name),
                      origin(a, first, sizeof(first)), origin(b, second, sizeof(second)));
            return CLI_EXIT_ERROR;
        }
    }
    return CLI_EXIT_OK;
}

int cli_targets_read(const cli_options *opts, char *const *discovered, size_t discovered_count,
                     cli_target_list *out)
{
    memset(out, 0, sizeof(*out));
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < discovered_count && code == CLI_EXIT_OK; i++) {
        char url[TARGET_URL_MAX];
        snprintf(url, sizeof(url), "http://%s", discovered[i]);
        if (add_target(out, url, NULL, NULL, NULL, 0, dns_source, 0, 0) != 0) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    for (size_t i = 0; i < opts->url_count && code == CLI_EXIT_OK; i++) {
        if (add_target(out, opts->urls[i], NULL, NULL, NULL, 0, NULL, 0, 0) != 0) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    for (size_t i = 0; i < opts->target_file_count && code == CLI_EXIT_OK; i++) {
        code = read_file(opts->target_files[i], out);
    }
    if (code == CLI_EXIT_OK) {
        code = keep_shard(opts, out);
    }
    if (code != CLI_EXIT_OK) {
        cli_targets_clear(out);
    }
    return code;
}

static int same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int same_stamp(const cli_file_stamp *a, const cli_file_stamp *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && same_time(a->mtime, b->mtime) && same_time(a->ctime, b->ctime);
}

int cli_targets_changed(const cli_options *opts, cli_file_stamp *stamps)
{
    int changed = 0;
    for (size_t i = 0; i < opts->target_file_count; i++) {
        struct stat st;
        cli_file_stamp now;
        memset(&now, 0, sizeof(now));
        if (stat(opts->target_files[i], &st) == 0) {
            now.exists = 1;
            now.dev = st.st_dev;
            now.ino = st.st_ino;
            now.size = st.st_size;
            now.mtime = st.st_mtim;
            now.ctime = st.st_ctim;
        }
        if (!same_stamp(&now, &stamps[i])) {
            stamps[i] = now;
            changed = 1;
        }
    }
    return changed;
}
