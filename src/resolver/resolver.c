/* resolver.c: the resolver object and the precedence rules of SPEC 1.1. */
#include "alloc.h"
#include "dynhc/cjson.h"
#include "resolver_internal.h"

#include <stdlib.h>
#include <string.h>

#include "custom_default.h"
#include "defaults.h"
#include "json_text.h"
#include "sized.h"

dynhc_resolver *dynhc_resolver_new(void)
{
    dynhc_resolver *r = dynhcp_calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->getenv_fn = dynhcp_process_getenv;
    r->marker_key = dynhcp_strdup(DYNHCP_DEFAULT_MARKER_KEY);
    if (r->marker_key == NULL) {
        dynhcp_free(r);
        return NULL;
    }
    r->model_type = -1;
    r->level = -1;
    r->bos_token_id = 1;
    r->disabled = -1;
    r->enabled = -1;
    r->enabled_default = 1;
    return r;
}

static void clear_runtime_payload(dynhc_resolver *r)
{
    dynhcp_free(r->payload_text);
    dynhcp_free(r->payload_file);
    cJSON_Delete(r->payload_json);
    r->payload_text = r->payload_file = NULL;
    r->payload_json = NULL;
}

static void clear_config(dynhc_resolver *r)
{
    dynhcp_free(r->config_file);
    r->config_file = NULL;
    dynhcp_config_free(&r->config_values);
    r->has_config_values = 0;
}

void dynhc_resolver_free(dynhc_resolver *r)
{
    if (r == NULL) {
        return;
    }
    clear_runtime_payload(r);
    clear_config(r);
    dynhcp_free(r->custom_default);
    dynhcp_free(r->marker_key);
    dynhcp_free(r);
}

/* Replaces *slot with a copy of value (NULL clears). */
static int replace_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value != NULL && (copy = dynhcp_strdup(value)) == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    dynhcp_free(*slot);
    *slot = copy;
    return DYNHC_OK;
}

int dynhc_resolver_set_getenv(dynhc_resolver *r, dynhc_getenv_fn fn, void *user_data)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    r->getenv_fn = fn != NULL ? fn : dynhcp_process_getenv;
    r->getenv_user_data = user_data;
    return DYNHC_OK;
}

int dynhc_resolver_set_payload(dynhc_resolver *r, const char *json_text)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    char *copy = NULL;
    if (json_text != NULL && (copy = dynhcp_strdup(json_text)) == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    clear_runtime_payload(r);
    r->payload_text = copy;
    return DYNHC_OK;
}

int dynhc_resolver_set_payload_file(dynhc_resolver *r, const char *path)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    char *copy = NULL;
    if (path != NULL && (copy = dynhcp_strdup(path)) == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    clear_runtime_payload(r);
    r->payload_file = copy;
    return DYNHC_OK;
}

int dynhc_resolver_set_payload_json(dynhc_resolver *r, const cJSON *obj)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    cJSON *copy = NULL;
    if (obj != NULL && (copy = cJSON_Duplicate(obj, 1)) == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    clear_runtime_payload(r);
    r->payload_json = copy;
    return DYNHC_OK;
}

int dynhc_resolver_set_config_file(dynhc_resolver *r, const char *path)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    char *copy = NULL;
    if (path != NULL && (copy = dynhcp_strdup(path)) == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    clear_config(r);
    r->config_file = copy;
    return DYNHC_OK;
}

int dynhc_resolver_set_config(dynhc_resolver *r, const dynhc_config *config)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_config known; /* the fields inside the caller's size */
    if (config != NULL &&
        dynhcp_copy_sized(&known, sizeof(known), config,
                          DYNHCP_SIZE_UP_TO(dynhc_config, health_check_timeout)) != DYNHC_OK) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhcp_config values;
    if (config != NULL && dynhcp_config_from_struct(&values, &known) != 0) {
        return DYNHC_ERR_NOMEM;
    }
    clear_config(r);
    if (config != NULL) {
        r->config_values = values;
        r->has_config_values = 1;
    }
    return DYNHC_OK;
}

int dynhc_resolver_set_custom_default(dynhc_resolver *r, const char *json_text)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    char *text = NULL;
    if (json_text != NULL) {
        int status = dynhcp_custom_default_accept(json_text, &text);
        if (status != DYNHC_OK) {
            return status;
        }
    }
    dynhcp_free(r->custom_default);
    r->custom_default = text;
    return DYNHC_OK;
}

int dynhc_resolver_set_model_type(dynhc_resolver *r, const char *name)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_model_type type;
    if (name == NULL) {
        r->model_type = -1;
        return DYNHC_OK;
    }
    int status = dynhc_model_type_from_name(name, &type);
    if (status == DYNHC_OK) {
        r->model_type = (int)type;
    }
    return status;
}

int dynhc_resolver_set_level(dynhc_resolver *r, const char *name)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_level level;
    if (name == NULL) {
        r->level = -1;
        return DYNHC_OK;
    }
    int status = dynhc_level_from_name(name, &level);
    if (status == DYNHC_OK) {
        r->level = (int)level;
    }
    return status;
}

int dynhc_resolver_set_bos_token_id(dynhc_resolver *r, long long id)
{
    /* Token ids travel as JSON numbers: beyond 2^53 they would be rounded. */
    if (r == NULL || id < 0 || id > 9007199254740992LL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    r->bos_token_id = id;
    return DYNHC_OK;
}

int dynhc_resolver_set_marker_key(dynhc_resolver *r, const char *key)
{
    if (r == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    return replace_string(&r->marker_key, key);
}

static int set_flag(dynhc_resolver *r, int *slot, int value, int allow_unset)
{
    if (r == NULL || value > 1 || value < (allow_unset ? -1 : 0)) {
        return DYNHC_ERR_INVALID_ARG;
    }
    *slot = value;
    return DYNHC_OK;
}

int dynhc_resolver_set_strict(dynhc_resolver *r, int strict)
{
    return set_flag(r, r != NULL ? &r->strict : NULL, strict != 0, 0);
}

int dynhc_resolver_set_merge(dynhc_resolver *r, int merge)
{
    return set_flag(r, r != NULL ? &r->merge : NULL, merge != 0, 0);
}

int dynhc_resolver_set_check_all(dynhc_resolver *r, int check_all)
{
    return set_flag(r, r != NULL ? &r->check_all : NULL, check_all != 0, 0);
}

int dynhc_resolver_set_disabled(dynhc_resolver *r, int disabled)
{
    return set_flag(r, r != NULL ? &r->disabled : NULL, disabled, 1);
}

int dynhc_resolver_set_enabled(dynhc_resolver *r, int enabled)
{
    return set_flag(r, r != NULL ? &r->enabled : NULL, enabled, 1);
}

int dynhc_resolver_set_enabled_default(dynhc_resolver *r, int enabled)
{
    return set_flag(r, r != NULL ? &r->enabled_default : NULL, enabled != 0, 0);
}

int dynhc_resolver_set_interval_ns(dynhc_resolver *r, uint64_t ns)
{
    if (r == NULL || ns > DYNHCP_DURATION_MAX_NS) {
        return DYNHC_ERR_INVALID_ARG;
    }
    r->interval_ns = ns;
    return DYNHC_OK;
}

int dynhc_resolver_set_timeout_ns(dynhc_resolver *r, uint64_t ns)
{
    if (r == NULL || ns > DYNHCP_DURATION_MAX_NS) {
        return DYNHC_ERR_INVALID_ARG;
    }
    r->timeout_ns = ns;
    return DYNHC_OK;
}
