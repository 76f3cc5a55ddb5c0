/* fleet.c: watch's endpoints, one per target, kept in step with the target
 * list when it is read again: an unchanged target keeps its endpoint (its
 * readiness, counters and check in flight), a new one is added, one that
 * is gone removed, safely even with its check in flight. */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* File descriptors kept beyond one connection per target: the signal
 * pipe, epoll, name lookups, files being read. */
#define SPARE_FILES 64

static void free_target(void *user_data)
{
    server_target *st = user_data;
    transfers_h1_free(st->w, st);
    cli_scraper_free(st->scraper);
    cli_target_clear(&st->target);
    cli_target_spec_clear(&st->spec);
    free(st);
}

/* The payload for a model type (NULL: the options'), resolved on first use
 * as `dynhc resolve --model-type T` with the other options would. */
static int payload_for(watch *w, const char *model_type, const dynhc_result **out)
{
    dynhc_model_type type;
    if (model_type == NULL || dynhc_model_type_from_name(model_type, &type) != DYNHC_OK ||
        (unsigned)type >= WATCH_MODEL_TYPES) {
        *out = w->payload;
        return CLI_EXIT_OK;
    }
    if (w->by_type[type] == NULL) {
        cli_options opts = *w->opts;
        opts.model_type = model_type;
        dynhc_result *res = NULL;
        int code = cli_resolve_payload(&opts, &res);
        if (code != CLI_EXIT_OK) {
            dynhc_result_free(res);
            return code;
        }
        w->by_type[type] = res;
    }
    *out = w->by_type[type];
    return CLI_EXIT_OK;
}

/* A new target's user data, its request, its built-in client's connection
 * (when it can have one) and scraper (unless --no-metrics) ready. NULL after printing why. */
static server_target *prepare(watch *w, cli_target_spec *spec, int *code)
{
    const dynhc_result *res = NULL;
    server_target *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        cli_error("out of memory");
        *code = CLI_EXIT_ERROR;
        return NULL;
    }
    st->w = w;
    st->group = transfers_group(w, spec->name);
    st->spec = *spec;
    memset(spec, 0, sizeof(*spec)); /* taken over */
    const char *model = st->spec.model != NULL ? st->spec.model : w->opts->model;
    *code = payload_for(w, st->spec.model_type, &res);
    if (*code == CLI_EXIT_OK) {
        *code = cli_target_init(&st->target, st->spec.url, res, model, &w->http);
    }
    if (*code == CLI_EXIT_OK && !w->opts->no_metrics) {
        *code = cli_scraper_new(st->spec.url, w->opts->metrics_url, w->opts, &w->http, w->sched,
                                &st->scraper);
    }
    if (*code == CLI_EXIT_OK && transfers_h1_new(w, st) != 0) {
        cli_error("out of memory");
        *code = CLI_EXIT_ERROR;
    }
    if (*code != CLI_EXIT_OK) {
        free_target(st);
        return NULL;
    }
    return st;
}

/* Registers st with its labels and the model label. */
static int add_endpoint(watch *w, server_target *st)
{
    const dynhc_result *res = NULL;
    (void)payload_for(w, st->spec.model_type, &res); /* resolved by prepare() */
    const char *model = st->spec.model != NULL  ? st->spec.model
                        : w->opts->model != NULL ? w->opts->model
                                                 : dynhc_result_model_name(res);
    dynhc_label *labels = calloc(st->spec.label_count + 1, sizeof(*labels));
    if (labels == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    size_t count = st->spec.label_count;
    for (size_t i = 0; i < count; i++) {
        labels[i] = st->spec.labels[i];
    }
    if (model != NULL) {
        labels[count].name = "model";
        labels[count++].value = model;
    }
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    /* The name is shown everywhere (status JSON, labels, logs): no
     * credentials in it. */
    o.name = st->spec.name;
    o.payload = res;
    o.labels = labels;
    o.label_count = count;
    o.send = watch_send;
    o.user_data = st;
    o.destroy = free_target;
    int rc = dynhc_sched_add(w->sched, &o, &st->ep);
    free(labels);
    return rc;
}

/* Removes st's endpoint; its check in flight is stopped first, as the
 * endpoint's user data (st) goes with it. */
static void remove_endpoint(watch *w, server_target *st)
{
    if (st->check != NULL) {
        watch_drop(w, st->check);
    }
    (void)dynhc_sched_remove_endpoint(w->sched, st->ep);
}

/* What the loop needs to know about the new size: /health's list, curl's
 * connection cache (one kept-alive connection per target, never a new one
 * per check) and the file limit. */
static void fit_size(watch *w)
{
    cli_status_endpoints which = w->opts->status_endpoints;
    if (which == CLI_STATUS_AUTO) {
        which = w->target_count <= CLI_STATUS_AUTO_MAX ? CLI_STATUS_ALL : CLI_STATUS_FAILING;
    }
    dynhc_status_list list = which == CLI_STATUS_ALL       ? DYNHC_STATUS_LIST_ALL
                             : which == CLI_STATUS_FAILING ? DYNHC_STATUS_LIST_NOT_READY
                                                           : DYNHC_STATUS_LIST_NONE;
    (void)dynhc_sched_set_status_list(w->sched, list);
    transfers_fit(w, w->target_count);
    /* The status server may hold half the limit (docs/robustness.md). */
    struct rlimit files;
    rlim_t need = 2 * ((rlim_t)w->target_count + SPARE_FILES);
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
        files.rlim_cur < need) {
        cli_log(w->sched, DYNHC_LOG_WARNING,
                "the file limit (%llu) is below what %zu targets need (%llu, half of it for "
                "the status server's clients): connections may fail; raise it (ulimit -n)",
                (unsigned long long)files.rlim_cur, w->target_count, (unsigned long long)need);
    }
}

int fleet_apply(watch *w, cli_target_list *list)
{
    /* First what may fail: the new targets' requests. Nothing changes yet. */
    server_target **next = calloc(list->count + 1, sizeof(*next));
    server_target **fresh = calloc(list->count + 1, sizeof(*fresh));
    int code = next != NULL && fresh != NULL ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    if (code != CLI_EXIT_OK) {
        cli_error("out of memory");
    }
    size_t i = 0, j = 0, n = 0, added = 0, removed = 0;
    for (; code == CLI_EXIT_OK && j < list->count; j++) {
        cli_target_spec *spec = &list->items[j];
        while (i < w->target_count && strcmp(w->targets[i]->spec.name, spec->name) < 0) {
            i++;
        }
        if (i < w->target_count && strcmp(w->targets[i]->spec.key, spec->key) == 0) {
            next[n++] = w->targets[i]; /* unchanged: kept as it is */
        } else if ((fresh[added] = prepare(w, spec, &code)) != NULL) {
            next[n++] = fresh[added++];
        }
    }
    if (code != CLI_EXIT_OK) {
        for (size_t k = 0; k < added; k++) {
            free_target(fresh[k]);
        }
        free(next);
        free(fresh);
        cli_targets_clear(list);
        return code;
    }
    /* Then the changes: removals first, so that a target whose labels
     * changed takes its name back. Both lists are sorted by name. */
    for (size_t a = 0, b = 0; a < w->target_count; a++) {
        while (b < n && strcmp(next[b]->spec.name, w->targets[a]->spec.name) < 0) {
            b++;
        }
        if (b == n || next[b] != w->targets[a]) {
            remove_endpoint(w, w->targets[a]);
            removed++;
        }
    }
    for (size_t k = 0; k < added; k++) {
        int rc = add_endpoint(w, fresh[k]);
        if (rc != DYNHC_OK) {
            /* Labels and names were checked: only memory can be short. */
            cli_error("target %s: %s", fresh[k]->spec.name, dynhc_strerror(rc));
            free_target(fresh[k]);
            for (size_t m = 0; m < n; m++) {
                next[m] = next[m] == fresh[k] ? NULL : next[m];
            }
        }
    }
    size_t kept = 0;
    for (size_t m = 0; m < n; m++) {
        if (next[m] != NULL) {
            next[kept++] = next[m];
        }
    }
    free(w->targets);
    free(fresh);
    w->targets = next;
    if (added + removed > 0 && w->target_count > 0) { /* a reload that changed something */
        cli_log(w->sched, DYNHC_LOG_INFO, "targets: %zu added, %zu removed, %zu kept", added,
                removed, n - added);
    }
    w->target_count = kept;
    cli_targets_clear(list);
    fit_size(w);
    return CLI_EXIT_OK;
}

void fleet_reload(watch *w)
{
    cli_target_list list;
    if (cli_targets_read(w->opts, w->discovered, w->discovered_count, &list) != CLI_EXIT_OK ||
        fleet_apply(w, &list) != CLI_EXIT_OK) {
        cli_log(w->sched, DYNHC_LOG_WARNING,
                "targets not reloaded: keeping the %zu targets watched", w->target_count);
    }
}

void fleet_clear(watch *w)
{
    for (size_t i = 0; i < w->target_count; i++) {
        remove_endpoint(w, w->targets[i]);
    }
    free(w->targets);
    w->targets = NULL;
    w->target_count = 0;
}
