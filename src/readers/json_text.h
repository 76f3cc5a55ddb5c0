/* json_text.h: a strict RFC 8259 JSON reader that builds cJSON trees and
 * records where every value starts. Internal.
 *
 * Why not cJSON_Parse: it accepts "01", "1.", raw control characters in
 * strings and trailing text, keeps no positions, and reports errors through
 * a racy global. */
#ifndef DYNHCP_JSON_TEXT_H
#define DYNHCP_JSON_TEXT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "text.h"

/* The deepest nesting accepted; the top-level value is depth 1. */
#define DYNHCP_JSON_MAX_DEPTH 64

/*
 * Parses text[0..len) (which need not be NUL-terminated) as exactly one JSON
 * value with optional surrounding whitespace. Rejects invalid UTF-8, nesting
 * deeper than DYNHCP_JSON_MAX_DEPTH, duplicate object keys, "\u0000" in strings
 * (cJSON strings end at NUL) and trailing text. Positions start at `origin`
 * (pass {1,1} for a standalone text) so that diagnostics can point into a
 * larger file. When map is not NULL, every node's start is recorded there.
 * Returns a new tree (free with cJSON_Delete) or NULL with err set; on NULL
 * map entries added during the call are removed.
 */
cJSON *dynhcp_json_parse(const char *text, size_t len, dynhcp_pos origin, dynhcp_posmap *map,
                         dynhcp_parse_error *err);

#endif
