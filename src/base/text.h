/* text.h: positions in text, UTF-8 checks and the parse-error record shared
 * by the JSON and YAML readers. Internal. */
#ifndef DYNHCP_TEXT_H
#define DYNHCP_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* A 1-based line and column (columns count characters); 0/0 = no position. */
typedef struct dynhcp_pos {
    unsigned line;
    unsigned column;
} dynhcp_pos;

/* What went wrong in a parse, and where. First error wins. nomem tells an
 * allocation failure from bad input: such an error is DYNHC_ERR_NOMEM,
 * never a diagnostic. */
typedef struct dynhcp_parse_error {
    dynhcp_pos pos;
    char message[200];
    int nomem;
} dynhcp_parse_error;

/* Remembers where each parsed node started, for diagnostics about values,
 * and how each number was written ("2.50", "1e-400", "0x10"), so that a
 * message can quote it as the user wrote it. */
typedef struct dynhcp_posmap_entry {
    const cJSON *node;
    dynhcp_pos pos;
    char *token; /* a number's text as written (owned); NULL for other nodes */
} dynhcp_posmap_entry;

typedef struct dynhcp_posmap {
    dynhcp_posmap_entry *entries;
    size_t count;
    size_t capacity;
} dynhcp_posmap;

/* Records where node starts. Returns 0, or -1 when out of memory. */
int dynhcp_posmap_add(dynhcp_posmap *map, const cJSON *node, dynhcp_pos pos);
/* Records where the number node starts and copies its text text[0..len).
 * Returns 0, or -1 when out of memory (nothing recorded). */
int dynhcp_posmap_add_number(dynhcp_posmap *map, const cJSON *node, dynhcp_pos pos,
                             const char *text, size_t len);
/* Where node starts; {0,0} when unknown (map may be NULL). */
dynhcp_pos dynhcp_posmap_find(const dynhcp_posmap *map, const cJSON *node);
/* The text a number node was written as; NULL when unknown (map may be NULL). */
const char *dynhcp_posmap_token(const dynhcp_posmap *map, const cJSON *node);
/* Drops the entries from index count on (a parse that failed). */
void dynhcp_posmap_truncate(dynhcp_posmap *map, size_t count);
void dynhcp_posmap_clear(dynhcp_posmap *map);

/* Room for any text of dynhcp_format_decimal() and dynhcp_format_double(). */
#define DYNHCP_NUMBER_TEXT_SIZE 32

/*
 * Writes value / 10^scale (scale <= 19) as an exact decimal: "3599", "2.5",
 * "0.25", "1.000000001"; no exponent, no trailing zeros, '.' as the decimal
 * point whatever the locale. buf holds DYNHCP_NUMBER_TEXT_SIZE bytes. Returns buf.
 * Durations are printed with it: dynhcp_format_decimal(buf, ns, 9) is seconds.
 */
const char *dynhcp_format_decimal(char buf[DYNHCP_NUMBER_TEXT_SIZE], uint64_t value,
                                  unsigned scale);

/*
 * Writes the shortest decimal that reads back as the same double ("2.0000001",
 * "0.1", "1e+300", "-0"), in JSON's syntax (finite values) with '.' as the
 * decimal point whatever the locale; "nan", "inf" or "-inf" otherwise. For
 * numbers whose written text is lost (a payload built as a tree). buf holds
 * DYNHCP_NUMBER_TEXT_SIZE bytes. Returns buf.
 */
const char *dynhcp_format_double(char buf[DYNHCP_NUMBER_TEXT_SIZE], double value);

/* FNV-1a of a NUL-terminated string, starting from seed (DYNHCP_HASH_SEED, or
 * that mixed with something the key belongs to): the hash of every table
 * keyed by names. */
#define DYNHCP_HASH_SEED 14695981039346656037ull
uint64_t dynhcp_hash_string(const char *s, uint64_t seed);

/* Writes s[0..len) in double quotes into buf, escaping control characters,
 * quotes, backslashes and bytes that are not UTF-8, cut to fit with "...".
 * Returns buf. */
const char *dynhcp_quote(char *buf, size_t size, const char *s, size_t len);

/* Records an allocation failure in err (when it has no error yet), at no
 * position: the text is not at fault. */
void dynhcp_parse_error_set_nomem(dynhcp_parse_error *err);

/* Whether err records an allocation failure rather than bad input. */
int dynhcp_parse_error_is_nomem(const dynhcp_parse_error *err);

/* Sets err (when err is not NULL and has no message yet) to a formatted
 * message at pos. */
void dynhcp_parse_error_set(dynhcp_parse_error *err, dynhcp_pos pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Checks that text[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns 0, or -1 with err set at the first bad
 * byte, positions counted from start.
 */
int dynhcp_utf8_check(const char *text, size_t len, dynhcp_parse_error *err);

/* Length of the well-formed UTF-8 sequence at s (avail > 0 bytes readable),
 * or 0 when it is not well-formed by the rules of dynhcp_utf8_check. */
size_t dynhcp_utf8_sequence_length(const unsigned char *s, size_t avail);

/* The line and column of byte offset off in text (which must be valid UTF-8
 * up to off). */
dynhcp_pos dynhcp_pos_at(const char *text, size_t off);

/* Skips a leading UTF-8 byte order mark: returns how many bytes (0 or 3). */
size_t dynhcp_bom_length(const char *text, size_t len);

/* Surrounding spaces, tabs, CR and LF trimmed: returns the first kept byte
 * and stores the kept length. */
const char *dynhcp_trim(const char *s, size_t *len);

/* The value of a hexadecimal digit, or -1 when c is none. */
int dynhcp_hex_value(int c);

/* ASCII case-insensitive comparison of s[0..len) with the NUL-terminated word. */
int dynhcp_equals_nocase(const char *s, size_t len, const char *word);
/* Whether s[0..len) is exactly text. */
int dynhcp_equals(const char *s, size_t len, const char *text);

#endif
