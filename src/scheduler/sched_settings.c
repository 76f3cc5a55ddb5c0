/* sched_settings.c: the scheduler's settings, from the API, a resolution and
 * the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json_text.h"
#include "sched_internal.h"
#include "settings.h"
#include "system_settings.h"

/* Runs body with the lock held; settings are read by threads that complete
 * checks, so they change under the lock like everything else. */
#define WITH_LOCK(s, body)                                                                  \
    do {                                                                                    \
        pthread_mutex_lock(&(s)->lock);                                                     \
        body;                                                                               \
        pthread_mutex_unlock(&(s)->lock);                                                   \
    } while (0)

int dynhc_sched_set_mode(dynhc_sched *s, dynhc_mode mode)
{
    if (s == NULL || (mode != DYNHC_MODE_IDLE && mode != DYNHC_MODE_PERIODIC)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, s->mode = mode);
    return DYNHC_OK;
}

static int valid_duration(uint64_t ns)
{
    return ns > 0 && ns <= DYNHCP_DURATION_MAX_NS;
}

int dynhc_sched_set_interval_ns(dynhc_sched *s, uint64_t ns)
{
    if (s == NULL || !valid_duration(ns)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->interval_ns = ns;
        if (!s->not_ready_interval_set) {
            s->not_ready_interval_ns = ns;
        }
        if (!s->spread_set) {
            s->spread_ns = ns;
        }
    });
    return DYNHC_OK;
}

int dynhc_sched_set_not_ready_interval_ns(dynhc_sched *s, uint64_t ns)
{
    if (s == NULL || !valid_duration(ns)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->not_ready_interval_ns = ns;
        s->not_ready_interval_set = 1;
    });
    return DYNHC_OK;
}

int dynhc_sched_set_timeout_ns(dynhc_sched *s, uint64_t ns)
{
    if (s == NULL || !valid_duration(ns)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, s->timeout_ns = ns);
    return DYNHC_OK;
}

int dynhc_sched_set_stall_ns(dynhc_sched *s, uint64_t ns)
{
    if (s == NULL || ns > DYNHCP_DURATION_MAX_NS) {
        return DYNHC_ERR_INVALID_ARG;
    }
    uint64_t now = dynhcp_sched_now(s);
    dynhcp_wakeup w;
    WITH_LOCK(s, {
        w = dynhcp_sched_wakeup_locked(s);
        s->stall_ns = ns;
        /* Every endpoint is looked at within one threshold from now, also
         * one whose next check is further away or that has none planned
         * (checks off); one with a check in flight is planned when the
         * check ends. */
        for (uint32_t i = 0; ns > 0 && i < s->slot_count; i++) {
            dynhc_endpoint *ep = s->slots[i];
            if (ep == NULL || ep->in_flight) {
                continue;
            }
            if (ep->timer.where == DYNHCP_TIMER_NONE) {
                dynhcp_timers_set(&s->timers, ep, dynhcp_later(now, ns));
            } else {
                dynhcp_sched_plan_locked(s, ep, now);
            }
        }
    });
    dynhcp_wakeup_call(s, w);
    return DYNHC_OK;
}

int dynhc_sched_set_jitter(dynhc_sched *s, double jitter)
{
    if (s == NULL || !(jitter >= 0 && jitter < 1)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, s->jitter = jitter);
    return DYNHC_OK;
}

int dynhc_sched_set_spread_ns(dynhc_sched *s, uint64_t ns)
{
    if (s == NULL || ns > DYNHCP_DURATION_MAX_NS) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->spread_ns = ns;
        s->spread_set = 1;
    });
    return DYNHC_OK;
}

int dynhc_sched_set_status_list(dynhc_sched *s, dynhc_status_list which)
{
    if (s == NULL || (which != DYNHC_STATUS_LIST_ALL && which != DYNHC_STATUS_LIST_NOT_READY &&
                      which != DYNHC_STATUS_LIST_NONE)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, s->status_list = which);
    return DYNHC_OK;
}

int dynhc_sched_set_thresholds(dynhc_sched *s, unsigned failures, unsigned successes)
{
    if (s == NULL || failures == 0 || successes == 0) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->failure_threshold = failures;
        s->success_threshold = successes;
    });
    return DYNHC_OK;
}

int dynhc_sched_set_activity_marks_ready(dynhc_sched *s, int on)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, atomic_store(&s->activity_marks_ready, on != 0));
    return DYNHC_OK;
}

int dynhc_sched_set_enabled(dynhc_sched *s, int enabled)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    uint64_t now = dynhcp_sched_now(s);
    dynhcp_wakeup w;
    WITH_LOCK(s, {
        w = dynhcp_sched_wakeup_locked(s);
        int was = s->enabled;
        s->enabled = enabled != 0;
        /* Endpoints leave the queue when their next check would be scheduled;
         * on enabling, the ones outside get a check now. */
        for (uint32_t i = 0; s->enabled && !was && i < s->slot_count; i++) {
            dynhc_endpoint *ep = s->slots[i];
            if (ep != NULL && ep->timer.where == DYNHCP_TIMER_NONE) {
                ep->due_ns = now;
                dynhcp_timers_set(&s->timers, ep, now);
            }
        }
    });
    dynhcp_wakeup_call(s, w);
    return DYNHC_OK;
}

int dynhc_sched_set_starting_status(dynhc_sched *s, int ready)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, s->starting_ready = ready != 0);
    return dynhc_sched_set_process_ready(s, ready);
}

/* Copies names[0..n), without repeats, into a new array that
 * dynhcp_sched_set_use_names() takes over: *out (NULL when n is 0) and its
 * length *unique. DYNHC_OK, DYNHC_ERR_INVALID_ARG (a NULL or empty name)
 * or DYNHC_ERR_NOMEM; nothing is left allocated on error. */
static int copy_use_names(const char *const *names, size_t n, char ***out, size_t *unique)
{
    *out = NULL;
    *unique = 0;
    char **copy = n > 0 ? dynhcp_calloc(n, sizeof(*copy)) : NULL;
    if (n > 0 && copy == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    size_t count = 0;
    int status = DYNHC_OK;
    for (size_t i = 0; i < n && status == DYNHC_OK; i++) {
        if (names[i] == NULL || names[i][0] == '\0') {
            status = DYNHC_ERR_INVALID_ARG;
            break;
        }
        int seen = 0;
        for (size_t k = 0; k < count && !seen; k++) {
            seen = strcmp(copy[k], names[i]) == 0;
        }
        if (!seen && (copy[count++] = dynhcp_strdup(names[i])) == NULL) {
            status = DYNHC_ERR_NOMEM;
        }
    }
    if (status != DYNHC_OK) {
        for (size_t k = 0; k < count; k++) {
            dynhcp_free(copy[k]);
        }
        dynhcp_free(copy);
        return status;
    }
    *out = copy;
    *unique = count;
    return DYNHC_OK;
}

int dynhc_sched_set_use_endpoints(dynhc_sched *s, const char *const *names, size_t n)
{
    if (s == NULL || (n > 0 && names == NULL)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    char **copy;
    size_t unique;
    int status = copy_use_names(names, n, &copy, &unique);
    if (status == DYNHC_OK) {
        dynhcp_sched_set_use_names(s, copy, unique);
    }
    return status;
}

int dynhc_sched_set_seed(dynhc_sched *s, uint64_t seed)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    /* xorshift must not start from zero. */
    WITH_LOCK(s, s->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ull);
    return DYNHC_OK;
}

int dynhc_sched_set_clock(dynhc_sched *s, dynhc_clock_fn fn, void *user_data)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    /* A new time source: the time floor of the old one means nothing to it. */
    uint64_t start = fn != NULL ? fn(user_data) : dynhc_now_ns();
    uint64_t wall = dynhcp_wall_now_ns();
    WITH_LOCK(s, {
        dynhcp_hook_set_locked(&s->clock, (dynhcp_any_fn)fn, user_data);
        s->created_ns = start;
        s->created_wall_ns = wall;
        atomic_store(&s->time_floor, start);
    });
    return DYNHC_OK;
}

int dynhc_sched_set_log(dynhc_sched *s, dynhc_log_fn fn, void *user_data)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, dynhcp_hook_set_locked(&s->log, (dynhcp_any_fn)fn, user_data));
    return DYNHC_OK;
}

int dynhc_sched_set_log_level(dynhc_sched *s, dynhc_log_level level)
{
    if (s == NULL || (unsigned)level > DYNHC_LOG_ERROR) {
        return DYNHC_ERR_INVALID_ARG;
    }
    atomic_store(&s->log_level, (int)level);
    return DYNHC_OK;
}

int dynhc_sched_set_log_limit(dynhc_sched *s, unsigned burst, uint64_t period_ns)
{
    if (s == NULL || (burst > 0 && !valid_duration(period_ns))) {
        return DYNHC_ERR_INVALID_ARG;
    }
    /* What the period so far held back is summed up now, not forgotten. */
    dynhcp_log_held held;
    dynhcp_log_limit_set(&s->log_limit, burst, burst > 0 ? period_ns : 0, dynhcp_sched_now(s),
                         &held);
    dynhcp_sched_log_held(s, &held);
    return DYNHC_OK;
}

int dynhc_sched_set_transition_callback(dynhc_sched *s, dynhc_transition_fn fn, void *user_data)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->on_transition = fn;
        s->transition_data = user_data;
    });
    return DYNHC_OK;
}

int dynhc_sched_set_wakeup(dynhc_sched *s, dynhc_wakeup_fn fn, void *user_data)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    WITH_LOCK(s, {
        s->wakeup = fn;
        s->wakeup_data = user_data;
    });
    return DYNHC_OK;
}

int dynhc_sched_apply_result(dynhc_sched *s, const dynhc_result *settings)
{
    if (s == NULL || settings == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    int status = dynhc_sched_set_interval_ns(s, dynhc_result_interval_ns(settings));
    if (status == DYNHC_OK) {
        status = dynhc_sched_set_timeout_ns(s, dynhc_result_timeout_ns(settings));
    }
    if (status == DYNHC_OK) {
        status = dynhc_sched_set_enabled(s, dynhc_result_enabled(settings));
    }
    return status;
}

/* Reads DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS (raw, from the variable
 * called name), a JSON array of names, without changing or logging
 * anything: *names (copies for dynhcp_sched_set_use_names(), NULL when the
 * value is blank or not such a list) and *n, or the warning to log in
 * warning (empty when none). DYNHC_OK, or DYNHC_ERR_NOMEM with nothing
 * made. */
static int read_use_endpoints(const char *name, const char *raw, char ***names, size_t *n,
                              char *warning, size_t size)
{
    *names = NULL;
    *n = 0;
    warning[0] = '\0';
    dynhcp_parse_error err = {{0, 0}, "", 0};
    cJSON *list = NULL;
    if (dynhcp_parse_endpoint_names(raw, &list, NULL, &err) != 0) {
        if (dynhcp_parse_error_is_nomem(&err)) {
            return DYNHC_ERR_NOMEM;
        }
        if (err.pos.line > 0) {
            snprintf(warning, size, "%s:%u:%u: warning: %s; ignored", name, err.pos.line,
                     err.pos.column, err.message);
        } else {
            snprintf(warning, size, "%s: warning: %s; ignored", name, err.message);
        }
        return DYNHC_OK;
    }
    if (list == NULL) {
        return DYNHC_OK; /* blank */
    }
    size_t count = (size_t)cJSON_GetArraySize(list);
    int status = DYNHC_ERR_NOMEM;
    const char **items = dynhcp_calloc(count, sizeof(*items));
    if (items != NULL) {
        size_t i = 0;
        for (const cJSON *item = list->child; item != NULL; item = item->next) {
            items[i++] = item->valuestring;
        }
        status = copy_use_names(items, count, names, n);
        dynhcp_free(items);
    }
    cJSON_Delete(list);
    return status;
}

/* The warning for the variable name's value text (len bytes), refused
 * for the reason why. */
static void invalid_value(char *warning, size_t size, const char *name, const char *text,
                          size_t len, const char *why)
{
    char quoted[96];
    snprintf(warning, size, "%s: warning: invalid value %s: %s; ignored", name,
             dynhcp_quote(quoted, sizeof(quoted), text, len), why);
}

/* Everything is read (and every allocation made) before anything is
 * logged or changed: out of memory, the call did nothing, and calling it
 * again logs each warning once. */
int dynhc_sched_load_env(dynhc_sched *s, dynhc_getenv_fn fn, void *user_data)
{
    if (s == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    if (fn == NULL) {
        fn = dynhcp_process_getenv;
    }
    const char *starting = "DYN_SYSTEM_STARTING_HEALTH_STATUS";
    const char *raw = fn(starting, user_data);
    size_t len = 0;
    const char *text = raw != NULL ? dynhcp_trim(raw, &len) : NULL;
    int ready = -1; /* -1: not set */
    char starting_warning[256] = "";
    if (len > 0) {
        const char *why = dynhcp_parse_start_status(text, len, &ready);
        if (why != NULL) {
            ready = -1;
            invalid_value(starting_warning, sizeof(starting_warning), starting, text, len, why);
        }
    }
    const char *stall = "DYN_HEALTH_CHECK_STALL_TIMEOUT";
    raw = fn(stall, user_data);
    text = raw != NULL ? dynhcp_trim(raw, &len) : NULL;
    uint64_t stall_ns = 0; /* 0: not set */
    char stall_warning[256] = "";
    if (text != NULL && len > 0) {
        const char *why = dynhcp_parse_duration(text, len, &stall_ns);
        if (why != NULL) {
            stall_ns = 0;
            invalid_value(stall_warning, sizeof(stall_warning), stall, text, len, why);
        }
    }
    const char *use = "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS";
    raw = fn(use, user_data);
    char **names = NULL;
    size_t n = 0;
    char use_warning[384] = ""; /* a parse error message (200) and its place */
    if (raw != NULL) {
        int status = read_use_endpoints(use, raw, &names, &n, use_warning, sizeof(use_warning));
        if (status != DYNHC_OK) {
            return status;
        }
    }

    if (starting_warning[0] != '\0') {
        dynhcp_sched_log(s, DYNHC_LOG_WARNING, "%s", starting_warning);
    } else if (ready >= 0) {
        dynhc_sched_set_starting_status(s, ready);
    }
    if (stall_warning[0] != '\0') {
        dynhcp_sched_log(s, DYNHC_LOG_WARNING, "%s", stall_warning);
    } else if (stall_ns > 0) {
        dynhc_sched_set_stall_ns(s, stall_ns);
    }
    if (use_warning[0] != '\0') {
        dynhcp_sched_log(s, DYNHC_LOG_WARNING, "%s", use_warning);
    } else if (names != NULL) {
        dynhcp_sched_set_use_names(s, names, n);
    }
    return DYNHC_OK;
}
