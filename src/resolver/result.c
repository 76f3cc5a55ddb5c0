/* result.c: reading a resolution's result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dynhc/cjson.h"
#include "resolver_internal.h"
#include "strbuf.h"

dynhc_result *dynhc_result_ref(dynhc_result *res)
{
    if (res != NULL) {
        atomic_fetch_add_explicit(&res->refs, 1, memory_order_relaxed);
    }
    return res;
}

void dynhc_result_free(dynhc_result *res)
{
    if (res == NULL ||
        atomic_fetch_sub_explicit(&res->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    cJSON_Delete(res->payload);
    dynhcp_free(res->text);
    dynhcp_free(res->origin);
    dynhcp_free(res->model_name);
    dynhcp_free(res->marker_key);
    dynhcp_free(res->config_source);
    dynhcp_diags_free(&res->diags);
    dynhcp_free(res);
}

int dynhc_result_status(const dynhc_result *res)
{
    return res != NULL ? res->status : DYNHC_ERR_INVALID_ARG;
}

const cJSON *dynhc_result_payload(const dynhc_result *res)
{
    return res != NULL ? res->payload : NULL;
}

const char *dynhc_result_text(const dynhc_result *res)
{
    return res != NULL ? res->text : NULL;
}

dynhc_source dynhc_result_source(const dynhc_result *res)
{
    return res != NULL ? res->source : DYNHC_SOURCE_NONE;
}

const char *dynhc_result_origin(const dynhc_result *res)
{
    return res != NULL && res->payload != NULL ? res->origin : NULL;
}

dynhc_model_type dynhc_result_model_type(const dynhc_result *res)
{
    return res != NULL ? res->model_type : DYNHC_MODEL_GENERATE;
}

dynhc_level dynhc_result_level(const dynhc_result *res)
{
    return res != NULL ? res->level : DYNHC_LEVEL_MINIMAL;
}

long long dynhc_result_token_budget(const dynhc_result *res)
{
    return res != NULL ? res->token_budget : 0;
}

const char *dynhc_result_model_name(const dynhc_result *res)
{
    return res != NULL ? res->model_name : NULL;
}

int dynhc_result_enabled(const dynhc_result *res)
{
    return res != NULL ? res->enabled : 0;
}

uint64_t dynhc_result_interval_ns(const dynhc_result *res)
{
    return res != NULL ? res->interval_ns : 0;
}

uint64_t dynhc_result_timeout_ns(const dynhc_result *res)
{
    return res != NULL ? res->timeout_ns : 0;
}

size_t dynhc_result_diag_count(const dynhc_result *res)
{
    return res != NULL ? res->diags.count : 0;
}

const dynhc_diag *dynhc_result_diag(const dynhc_result *res, size_t i)
{
    return res != NULL && i < res->diags.count ? &res->diags.items[i] : NULL;
}

static int is_setting(const dynhc_result *res, dynhc_setting which)
{
    return res != NULL && (int)which >= 0 && (int)which < DYNHCP_SETTING_COUNT;
}

const char *dynhc_result_setting_kind(const dynhc_result *res, dynhc_setting which)
{
    if (!is_setting(res, which)) {
        return NULL;
    }
    /* A resolution that stopped before reaching a setting left its default. */
    return res->origin_kind[which] != NULL ? res->origin_kind[which] : "default";
}

const char *dynhc_result_setting_origin(const dynhc_result *res, dynhc_setting which)
{
    return is_setting(res, which) ? res->origin_name[which] : NULL;
}

/* "from environment DYN_X" and the like, in one static-size buffer. */
static const char *origin_of(const dynhc_result *res, dynhc_setting which, char *buf,
                             size_t size)
{
    const char *kind = dynhc_result_setting_kind(res, which);
    const char *name = dynhc_result_setting_origin(res, which);
    snprintf(buf, size, name != NULL ? "%s %s" : "%s", kind, name);
    return buf;
}

/* Seconds as an exact decimal of the nanoseconds ("3599s", "2.5s",
 * "1.000000001s"), whatever the locale. */
static void append_duration(dynhcp_buf *b, const char *name, uint64_t ns, const char *origin)
{
    char seconds[DYNHCP_NUMBER_TEXT_SIZE];
    dynhcp_buf_printf(b, "%s: %ss (from %s)\n", name, dynhcp_format_decimal(seconds, ns, 9),
                      origin);
}

char *dynhc_result_explain(const dynhc_result *res)
{
    if (res == NULL) {
        return NULL;
    }
    dynhcp_buf b = {0};
    char o[600];
    if (res->payload != NULL) {
        const char *how = res->merged ? "merged, top source " : "";
        if (res->source == DYNHC_SOURCE_DEFAULT) {
            dynhcp_buf_printf(&b, "payload: %sbuilt-in default for %s at level %s\n", how,
                              dynhc_model_type_name(res->model_type), dynhc_level_name(res->level));
        } else {
            dynhcp_buf_printf(&b, "payload: %s%s %s\n", how, dynhc_source_name(res->source),
                              res->origin != NULL ? res->origin : "");
        }
    } else if (res->status == DYNHC_DISABLED) {
        dynhcp_buf_printf(&b, "payload: disabled (from %s)\n",
                          origin_of(res, DYNHC_SETTING_DISABLED, o, sizeof(o)));
    } else {
        dynhcp_buf_printf(&b, "payload: none (%s)\n", dynhc_strerror(res->status));
    }
    dynhcp_buf_printf(&b, "model type: %s (from %s)\n", dynhc_model_type_name(res->model_type),
                      origin_of(res, DYNHC_SETTING_MODEL_TYPE, o, sizeof(o)));
    dynhcp_buf_printf(&b, "level: %s (from %s)\n", dynhc_level_name(res->level),
                      origin_of(res, DYNHC_SETTING_LEVEL, o, sizeof(o)));
    if (res->marker_key != NULL) {
        dynhcp_buf_printf(&b, "marker key: %s\n", res->marker_key);
    } else {
        dynhcp_buf_printf(&b, "marker key: none\n");
    }
    dynhcp_buf_printf(&b, "token budget: %lld\n", res->token_budget);
    if (res->model_name != NULL) {
        dynhcp_buf_printf(&b, "model: %s\n", res->model_name);
    }
    dynhcp_buf_printf(&b, "enabled: %s (from %s)\n", res->enabled ? "true" : "false",
                      origin_of(res, DYNHC_SETTING_ENABLED, o, sizeof(o)));
    append_duration(&b, "interval", res->interval_ns,
                    origin_of(res, DYNHC_SETTING_INTERVAL, o, sizeof(o)));
    append_duration(&b, "timeout", res->timeout_ns,
                    origin_of(res, DYNHC_SETTING_TIMEOUT, o, sizeof(o)));
    return dynhcp_buf_finish(&b);
}
