/* yaml_load.h: YAML text to cJSON with the YAML 1.2 core schema. Internal. */
#ifndef DYNHCP_YAML_LOAD_H
#define DYNHCP_YAML_LOAD_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "text.h"

/* Alias expansion stops past this many nodes produced (billion laughs). */
#define DYNHCP_YAML_MAX_NODES 100000

/*
 * Parses the first document of text[0..len) with libyaml and converts it to
 * cJSON (SPEC 1.5): quoted scalars are strings; plain null/Null/NULL/~/empty
 * are null; true/True/TRUE/false/False/FALSE are booleans; decimal, 0x and 0o
 * integers and decimal floats are numbers; .inf/.nan are errors; !!str,
 * !!int, !!float, !!bool, !!null, !!map, !!seq are honoured; anything else is
 * a string. Mapping keys must be scalars and unique. Nesting deeper than 64
 * is an error. An empty document gives a JSON null. When map is not NULL,
 * every node's start is recorded there (1-based). Returns a new tree or NULL
 * with err set (1-based position).
 */
cJSON *dynhcp_yaml_parse(const char *text, size_t len, dynhcp_posmap *map, dynhcp_parse_error *err);

#endif
