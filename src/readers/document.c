/* document.c: a JSON or YAML file read into a cJSON tree with positions,
 * for the config file and for dynhc_document_read(). */
#include "alloc.h"
#include "document.h"

#include <string.h>

#include "dynhc/cjson.h"
#include "file_read.h"
#include "json_text.h"
#include "yaml_load.h"

struct dynhc_document {
    cJSON *root;
    dynhcp_posmap map;
};

static int has_json_extension(const char *path)
{
    size_t len = strlen(path);
    return len >= 5 && dynhcp_equals_nocase(path + len - 5, 5, ".json");
}

cJSON *dynhcp_document_load(const char *path, dynhcp_posmap *map, dynhcp_parse_error *err)
{
    size_t len = 0;
    int json = has_json_extension(path);
    /* The JSON reader checks UTF-8 and NUL bytes itself. */
    char *text = json ? dynhcp_read_file_raw(path, &len, err) : dynhcp_read_file(path, &len, err);
    if (text == NULL) {
        return NULL;
    }
    dynhcp_pos origin = {1, 1};
    cJSON *root = json ? dynhcp_json_parse(text, len, origin, map, err)
                       : dynhcp_yaml_parse(text, len, map, err);
    dynhcp_free(text);
    return root;
}

int dynhc_document_read(const char *path, dynhc_document **out, dynhc_document_error *error)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_document *doc = dynhcp_calloc(1, sizeof(*doc));
    if (doc == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    dynhcp_parse_error err = {{0, 0}, "", 0};
    doc->root = dynhcp_document_load(path, &doc->map, &err);
    if (doc->root == NULL) {
        dynhc_document_free(doc);
        if (dynhcp_parse_error_is_nomem(&err)) {
            return DYNHC_ERR_NOMEM;
        }
        if (error != NULL) {
            error->line = err.pos.line;
            error->column = err.pos.column;
            memcpy(error->message, err.message, sizeof(error->message));
            error->message[sizeof(error->message) - 1] = '\0';
        }
        return DYNHC_ERR_CONFIG;
    }
    *out = doc;
    return DYNHC_OK;
}

const cJSON *dynhc_document_root(const dynhc_document *doc)
{
    return doc != NULL ? doc->root : NULL;
}

void dynhc_document_position(const dynhc_document *doc, const cJSON *node, unsigned *line,
                             unsigned *column)
{
    dynhcp_pos pos = {0, 0};
    if (doc != NULL && node != NULL) {
        pos = dynhcp_posmap_find(&doc->map, node);
    }
    *line = pos.line;
    *column = pos.column;
}

void dynhc_document_free(dynhc_document *doc)
{
    if (doc == NULL) {
        return;
    }
    cJSON_Delete(doc->root);
    dynhcp_posmap_clear(&doc->map);
    dynhcp_free(doc);
}
