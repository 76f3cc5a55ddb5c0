/* config.c: loading the config source. Only the keys of SPEC 1.5 are read
 * later; everything else in the file belongs to the serving runtime. */
#include "alloc.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "document.h"

static char *copy_string(const char *s, size_t len)
{
    char *copy = dynhcp_malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

static int set_names(dynhcp_config *c, const char *source, const char *path)
{
    const char *slash = strrchr(path, '/');
    c->source = copy_string(source, strlen(source));
    c->base_dir = slash == NULL ? copy_string(".", 1)
                                : copy_string(path, slash == path ? 1 : (size_t)(slash - path));
    return c->source != NULL && c->base_dir != NULL ? 0 : -1;
}

int dynhcp_config_load_file(dynhcp_config *c, const char *path, dynhcp_diags *diags)
{
    memset(c, 0, sizeof(*c));
    dynhcp_parse_error err = {{0, 0}, "", 0};
    c->root = dynhcp_document_load(path, &c->map, &err);
    if (c->root == NULL) {
        dynhcp_config_free(c);
        if (dynhcp_parse_error_is_nomem(&err)) {
            return DYNHCP_CONFIG_NOMEM;
        }
        dynhcp_diags_add(diags, DYNHC_SEVERITY_ERROR, path, err.pos, "%s", err.message);
        return -1;
    }
    if (cJSON_IsNull(c->root)) {
        /* An empty YAML file is an empty config. */
        cJSON_Delete(c->root);
        c->root = cJSON_CreateObject();
    } else if (!cJSON_IsObject(c->root)) {
        dynhcp_diags_add(diags, DYNHC_SEVERITY_ERROR, path, dynhcp_posmap_find(&c->map, c->root),
                         "expected a mapping of settings at the top level");
        dynhcp_config_free(c);
        return -1;
    }
    if (c->root == NULL || set_names(c, path, path) != 0) {
        dynhcp_config_free(c);
        return DYNHCP_CONFIG_NOMEM;
    }
    return 0;
}

int dynhcp_config_from_struct(dynhcp_config *c, const dynhc_config *values)
{
    const struct {
        const char *key;
        const char *value;
    } fields[] = {
        {"model", values->model},
        {"model_type", values->model_type},
        {"health_check_level", values->health_check_level},
        {"health_check_payload", values->health_check_payload},
        {"health_check_payload_disabled", values->health_check_payload_disabled},
        {"health_check_enabled", values->health_check_enabled},
        {"health_check_interval", values->health_check_interval},
        {"health_check_timeout", values->health_check_timeout},
    };
    memset(c, 0, sizeof(*c));
    c->root = cJSON_CreateObject();
    if (c->root == NULL || set_names(c, "<config>", ".") != 0) {
        dynhcp_config_free(c);
        return -1;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].value != NULL &&
            cJSON_AddStringToObject(c->root, fields[i].key, fields[i].value) == NULL) {
            dynhcp_config_free(c);
            return -1;
        }
    }
    return 0;
}

const cJSON *dynhcp_config_get(const dynhcp_config *c, const char *key)
{
    if (c == NULL || c->root == NULL) {
        return NULL;
    }
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return cJSON_IsNull(value) ? NULL : value;
}

void dynhcp_config_free(dynhcp_config *c)
{
    cJSON_Delete(c->root);
    dynhcp_posmap_clear(&c->map);
    dynhcp_free(c->source);
    dynhcp_free(c->base_dir);
    memset(c, 0, sizeof(*c));
}
