/* config.c: loading the config source. Only the keys of SPEC 1.5 are read
 * later; everything else in the file belongs to the serving runtime. */
#include "alloc.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "file_read.h"
#include "json_text.h"
#include "yaml_load.h"

static char *copy_string(const char *s, size_t len)
{
    char *copy = dh_malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

static int has_json_extension(const char *path)
{
    size_t len = strlen(path);
    return len >= 5 && dh_equals_nocase(path + len - 5, 5, ".json");
}

static int set_names(dh_config *c, const char *source, const char *path)
{
    const char *slash = strrchr(path, '/');
    c->source = copy_string(source, strlen(source));
    c->base_dir = slash == NULL ? copy_string(".", 1)
                                : copy_string(path, slash == path ? 1 : (size_t)(slash - path));
    return c->source != NULL && c->base_dir != NULL ? 0 : -1;
}

int dh_config_load_file(dh_config *c, const char *path, dh_diags *diags)
{
    memset(c, 0, sizeof(*c));
    dh_parse_error err = {{0, 0}, "", 0};
    size_t len = 0;
    int json = has_json_extension(path);
    /* The JSON reader checks UTF-8 and NUL bytes itself. */
    char *text = json ? dh_read_file_raw(path, &len, &err) : dh_read_file(path, &len, &err);
    if (text != NULL) {
        dh_pos origin = {1, 1};
        c->root = json ? dh_json_parse(text, len, origin, &c->map, &err)
                       : dh_yaml_parse(text, len, &c->map, &err);
        dh_free(text);
    }
    if (c->root == NULL) {
        dh_config_free(c);
        if (dh_parse_error_is_nomem(&err)) {
            return DH_CONFIG_NOMEM;
        }
        dh_diags_add(diags, DYNHC_SEVERITY_ERROR, path, err.pos, "%s", err.message);
        return -1;
    }
    if (cJSON_IsNull(c->root)) {
        /* An empty YAML file is an empty config. */
        cJSON_Delete(c->root);
        c->root = cJSON_CreateObject();
    } else if (!cJSON_IsObject(c->root)) {
        dh_diags_add(diags, DYNHC_SEVERITY_ERROR, path, dh_posmap_find(&c->map, c->root),
                     "expected a mapping of settings at the top level");
        dh_config_free(c);
        return -1;
    }
    if (c->root == NULL || set_names(c, path, path) != 0) {
        dh_config_free(c);
        return DH_CONFIG_NOMEM;
    }
    return 0;
}

int dh_config_from_struct(dh_config *c, const dynhc_config *values)
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
        dh_config_free(c);
        return -1;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].value != NULL &&
            cJSON_AddStringToObject(c->root, fields[i].key, fields[i].value) == NULL) {
            dh_config_free(c);
            return -1;
        }
    }
    return 0;
}

const cJSON *dh_config_get(const dh_config *c, const char *key)
{
    if (c == NULL || c->root == NULL) {
        return NULL;
    }
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return cJSON_IsNull(value) ? NULL : value;
}

void dh_config_free(dh_config *c)
{
    cJSON_Delete(c->root);
    dh_posmap_clear(&c->map);
    dh_free(c->source);
    dh_free(c->base_dir);
    memset(c, 0, sizeof(*c));
}
