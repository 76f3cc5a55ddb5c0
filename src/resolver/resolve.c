/* resolve.c: dynhc_resolver_resolve(), the precedence rules of SPEC 1.1:
 * runtime > environment > config > custom default > built-in default, for the
 * payload and for every scalar setting, from its parts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json_write.h"
#include "payload_check.h"
#include "resolve_internal.h"

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
        dynhcp_resolve_settings(&c);
        if (r->check_all) {
            dynhcp_resolve_check_system(&c);
        }
        if (res->status == DYNHC_OK) {
            if (r->merge) {
                dynhcp_resolve_merge(&c);
            } else {
                dynhcp_resolve_replace(&c);
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
