/* document.h: a JSON or YAML file read into a cJSON tree with positions, the
 * one way dynhc reads a file of structured settings. Internal; the public
 * face is dynhc_document_read() in dynhc/cjson.h. */
#ifndef DYNHCP_DOCUMENT_H
#define DYNHCP_DOCUMENT_H

#include <cjson/cJSON.h>

#include "text.h"

/*
 * Reads the file at path: strict JSON when its name ends in ".json" (any
 * case), else YAML (SPEC 1.5). Returns a new tree (free with cJSON_Delete)
 * with every node's start recorded in map, or NULL with err set (out of
 * memory: dynhcp_parse_error_is_nomem()).
 */
cJSON *dynhcp_document_load(const char *path, dynhcp_posmap *map, dynhcp_parse_error *err);

#endif
