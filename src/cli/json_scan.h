/* json_scan.h: the one question a check asks of an answer's body, "is it a
 * JSON object whose KEY is a non-empty array?", answered by a strict JSON
 * scanner (RFC 8259) that builds no tree: no allocation per check, where
 * parsing into cJSON cost more CPU than the rest of the check's user time.
 * The library's reader (src/readers) builds trees with positions for
 * diagnostics, and the CLI sees only the public API (docs/design.md). */
#ifndef DYNHC_CLI_JSON_SCAN_H
#define DYNHC_CLI_JSON_SCAN_H

#include <stddef.h>

/* What text is. */
typedef enum cli_json_shape {
    CLI_JSON_INVALID,   /* not one JSON value (nesting past CLI_JSON_MAX_DEPTH included) */
    CLI_JSON_NOT_OBJECT,/* a valid value, not an object */
    CLI_JSON_OBJECT     /* an object */
} cli_json_shape;

/* The deepest nesting scanned; an answer deeper than this is no health answer. */
#define CLI_JSON_MAX_DEPTH 512

/*
 * Scans the len bytes at text (no NUL needed; a NUL byte is invalid JSON)
 * as one JSON value, whitespace around it allowed. For an object, *items is
 * the number of elements of the array that the member named key (ASCII,
 * its first occurrence, escapes in the name decoded) holds, or -1 when
 * there is no such member or it is not an array.
 */
cli_json_shape cli_json_scan(const char *text, size_t len, const char *key, long *items);

#endif
