/* json_scan.c: a strict JSON scanner that answers json_scan.h's question
 * without building anything. The grammar is RFC 8259's; strings are not
 * checked for valid UTF-8 (cJSON, which judged answers before, did not
 * either). */
#include "json_scan.h"

#include <string.h>

typedef struct scanner {
    const unsigned char *p;
    const unsigned char *end;
} scanner;

static void skip_space(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_value(unsigned char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* A string, s->p at its opening quote; *start and *len its raw contents
 * (escapes as written). 0, or -1 when it is not a string. */
static int scan_string(scanner *s, const unsigned char **start, size_t *len)
{
    const unsigned char *p = s->p + 1;
    *start = p;
    while (p < s->end && *p != '"') {
        if (*p < 0x20) {
            return -1; /* control characters must be escaped */
        }
        if (*p == '\\') {
            if (++p >= s->end) {
                return -1;
            }
            if (*p == 'u') {
                if (s->end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) ||
                    !is_hex(p[4])) {
                    return -1;
                }
                p += 4;
            } else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
                return -1;
            }
        }
        p++;
    }
    if (p >= s->end) {
        return -1;
    }
    *len = (size_t)(p - *start);
    s->p = p + 1;
    return 0;
}

/* Whether a string's raw contents, escapes decoded, are the ASCII key. An
 * escape of a character past ASCII cannot be part of it. */
static int string_is(const unsigned char *raw, size_t len, const char *key)
{
    const unsigned char *end = raw + len;
    for (; *key != '\0'; key++) {
        if (raw >= end) {
            return 0;
        }
        unsigned c = *raw++;
        if (c == '\\') {
            unsigned e = *raw++;
            if (e == 'u') {
                c = hex_value(raw[0]) << 12 | hex_value(raw[1]) << 8 | hex_value(raw[2]) << 4 |
                    hex_value(raw[3]);
                raw += 4;
            } else {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                c = (unsigned char)to[strchr(from, (int)e) - from];
            }
        }
        if (c != (unsigned char)*key) {
            return 0;
        }
    }
    return raw == end;
}

static int scan_digits(scanner *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scanner *s)
{
    if (*s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (scan_digits(s) != 0) {
        return -1;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (scan_digits(s) != 0) {
            return -1;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (scan_digits(s) != 0) {
            return -1;
        }
    }
    return 0;
}

static int scan_word(scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return -1;
    }
    s->p += n;
    return 0;
}

static int scan_value(scanner *s, unsigned depth, long *elements);

/* An array, s->p at its '['; *elements its length. */
static int scan_array(scanner *s, unsigned depth, long *elements)
{
    s->p++;
    skip_space(s);
    *elements = 0;
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        long ignored;
        if (scan_value(s, depth + 1, &ignored) != 0) {
            return -1;
        }
        ++*elements;
        skip_space(s);
        if (s->p >= s->end) {
            return -1;
        }
        if (*s->p++ == ']') {
            return 0;
        }
        if (s->p[-1] != ',') {
            return -1;
        }
        skip_space(s);
    }
}

/* An object, s->p at its '{'; with key not NULL, *items is what
 * cli_json_scan() says of it. */
static int scan_object(scanner *s, unsigned depth, const char *key, long *items)
{
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *name;
        size_t name_len;
        if (s->p >= s->end || *s->p != '"' || scan_string(s, &name, &name_len) != 0) {
            return -1;
        }
        skip_space(s);
        if (s->p >= s->end || *s->p++ != ':') {
            return -1;
        }
        skip_space(s);
        int wanted = key != NULL && *items == -1 && string_is(name, name_len, key);
        const unsigned char *value = s->p;
        long elements = -1;
        if (scan_value(s, depth + 1, &elements) != 0) {
            return -1;
        }
        if (wanted) {
            /* The first member of that name decides, as cJSON's lookup did. */
            *items = *value == '[' ? elements : -2;
        }
        skip_space(s);
        if (s->p >= s->end) {
            return -1;
        }
        if (*s->p++ == '}') {
            return 0;
        }
        if (s->p[-1] != ',') {
            return -1;
        }
        skip_space(s);
    }
}

/* One value and nothing else; an array's length in *elements. */
static int scan_value(scanner *s, unsigned depth, long *elements)
{
    if (depth > CLI_JSON_MAX_DEPTH || s->p >= s->end) {
        return -1;
    }
    const unsigned char *ignored_start;
    size_t ignored_len;
    switch (*s->p) {
    case '{': return scan_object(s, depth, NULL, elements);
    case '[': return scan_array(s, depth, elements);
    case '"': return scan_string(s, &ignored_start, &ignored_len);
    case 't': return scan_word(s, "true");
    case 'f': return scan_word(s, "false");
    case 'n': return scan_word(s, "null");
    default:
        return *s->p == '-' || (*s->p >= '0' && *s->p <= '9') ? scan_number(s) : -1;
    }
}

cli_json_shape cli_json_scan(const char *text, size_t len, const char *key, long *items)
{
    scanner s = {(const unsigned char *)text, (const unsigned char *)text + len};
    *items = -1;
    skip_space(&s);
    int object = s.p < s.end && *s.p == '{';
    long elements = -1;
    int rc = object ? scan_object(&s, 1, key, items) : scan_value(&s, 1, &elements);
    skip_space(&s);
    if (rc != 0 || s.p != s.end) {
        *items = -1;
        return CLI_JSON_INVALID;
    }
    if (*items < -1) {
        *items = -1; /* the member is there, not an array */
    }
    return object ? CLI_JSON_OBJECT : CLI_JSON_NOT_OBJECT;
}
