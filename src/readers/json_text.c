/* json_text.c: a strict RFC 8259 reader building cJSON trees in one pass.
 *
 * Positions are computed lazily: the reader remembers the line and the
 * column at one point of the text and counts characters forward from there
 * only when a position is asked for (a node start for the map, or an error).
 * Positions are asked for in text order, so the whole count stays linear. */
#include "alloc.h"
#include "json_text.h"
#include "object_keys.h"

#include <langinfo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Integers with at most this many digits are exact in a double and are
 * converted without strtod. */
#define FAST_INT_DIGITS 15

typedef struct parser {
    const unsigned char *p;   /* next byte to read */
    const unsigned char *end; /* one past the last byte */
    /* The position of col_ptr is (line, column). */
    const unsigned char *col_ptr;
    unsigned line;
    unsigned column;
    dynhcp_posmap *map;
    dynhcp_parse_error *err;
} parser;

/* The position of at, which is never before the last position asked for
 * nor before the start of the current line. */
static dynhcp_pos pos_of(parser *ps, const unsigned char *at)
{
    unsigned column = ps->column;
    for (const unsigned char *q = ps->col_ptr; q < at; q++) {
        column += (*q & 0xC0) != 0x80; /* continuation bytes are no new character */
    }
    ps->col_ptr = at;
    ps->column = column;
    dynhcp_pos pos = {ps->line, column};
    return pos;
}

static void fail_at(parser *ps, const unsigned char *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail_at(parser *ps, const unsigned char *at, const char *fmt, ...)
{
    char message[sizeof(ps->err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    dynhcp_parse_error_set(ps->err, pos_of(ps, at), "%s", message);
}

static void fail_nomem(parser *ps)
{
    dynhcp_parse_error_set_nomem(ps->err);
}

/* Reports "expected WHAT" at the current byte, or at the end of the text. */
static void fail_expected(parser *ps, const char *what)
{
    if (ps->p == ps->end) {
        fail_at(ps, ps->p, "unexpected end of text, expected %s", what);
    } else {
        fail_at(ps, ps->p, "expected %s", what);
    }
}

static void skip_space(parser *ps)
{
    const unsigned char *p = ps->p;
    while (p < ps->end) {
        unsigned char c = *p;
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == '\n') {
            p++;
            ps->line++;
            ps->col_ptr = p;
            ps->column = 1;
        } else {
            break;
        }
    }
    ps->p = p;
}

/* Records node's start (when there is a map), with its text at[0..len) when
 * len > 0 (a number). Frees node on failure. */
static cJSON *track_number(parser *ps, cJSON *node, const unsigned char *at, size_t len)
{
    if (node == NULL) {
        fail_nomem(ps);
        return NULL;
    }
    if (ps->map != NULL &&
        (len > 0 ? dynhcp_posmap_add_number(ps->map, node, pos_of(ps, at), (const char *)at, len)
                 : dynhcp_posmap_add(ps->map, node, pos_of(ps, at))) != 0) {
        cJSON_Delete(node);
        fail_nomem(ps);
        return NULL;
    }
    return node;
}

static cJSON *track(parser *ps, cJSON *node, const unsigned char *at)
{
    return track_number(ps, node, at, 0);
}

/* Reads the 4 hex digits after "\u" at esc. Returns the code unit or -1. */
static long read_hex4(parser *ps, const unsigned char *esc)
{
    long unit = 0;
    for (const unsigned char *h = esc + 2; h < esc + 6; h++) {
        int v = h < ps->end ? dynhcp_hex_value(*h) : -1;
        if (v < 0) {
            const char *what = "4 hex digits after \\u";
            if (h == ps->end) {
                fail_at(ps, h, "unexpected end of text, expected %s", what);
            } else {
                fail_at(ps, h, "expected %s", what);
            }
            return -1;
        }
        unit = unit * 16 + v;
    }
    return unit;
}

static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the \u escape at esc (one code unit, or a surrogate pair) into o.
 * Returns the byte after the escape, or NULL with the error set. */
static const unsigned char *decode_unicode_escape(parser *ps, const unsigned char *esc,
                                                  char **o)
{
    long unit = read_hex4(ps, esc);
    if (unit < 0) {
        return NULL;
    }
    if (unit == 0) {
        fail_at(ps, esc, "\\u0000 is not allowed in strings (a NUL would cut the string)");
        return NULL;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        fail_at(ps, esc, "lone low surrogate \\u%04lX (a low surrogate must follow a high "
                         "one \\uD800-\\uDBFF)", unit);
        return NULL;
    }
    unsigned long cp = (unsigned long)unit;
    const unsigned char *next = esc + 6;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        long low = -1;
        if (ps->end - next >= 2 && next[0] == '\\' && next[1] == 'u') {
            low = read_hex4(ps, next);
            if (low < 0) {
                return NULL;
            }
        }
        if (low < 0xDC00 || low > 0xDFFF) {
            fail_at(ps, esc, "lone high surrogate \\u%04lX (it must be followed by a low "
                             "surrogate \\uDC00-\\uDFFF)", unit);
            return NULL;
        }
        cp = 0x10000 + (((unsigned long)unit - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
        next += 6;
    }
    *o = put_utf8(*o, cp);
    return next;
}

/* How a raw control character is written in JSON, for the error message. */
static const char *control_escape(unsigned char c, char *buf, size_t size)
{
    switch (c) {
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: snprintf(buf, size, "\\u%04X", c); return buf;
    }
}

/*
 * Reads the string whose opening quote is at ps->p. Returns its UTF-8 text,
 * allocated with cJSON_malloc so that cJSON_Delete can free it, or NULL with
 * the error set.
 *
 * A first scan finds where the string stops (the closing quote, a raw
 * control character or the end of the text), which bounds the decoded
 * length: escapes never decode to more bytes than they take. The second scan
 * validates and decodes in text order, so the first error is reported.
 */
static char *parse_string(parser *ps)
{
    const unsigned char *open = ps->p, *end = ps->end;
    const unsigned char *stop = open + 1;
    while (stop < end && *stop != '"' && *stop >= 0x20) {
        stop += (*stop == '\\' && stop + 1 < end) ? 2 : 1;
    }
    char *text = cJSON_malloc((size_t)(stop - open));
    if (text == NULL) {
        fail_nomem(ps);
        return NULL;
    }
    char *o = text;
    const unsigned char *s = open + 1;
    while (s < stop) {
        unsigned char c = *s;
        if (c == '\\') {
            if (s + 1 == end) {
                break; /* the text ends inside the escape: unterminated */
            }
            unsigned char e = s[1];
            const char *simple = NULL;
            switch (e) {
            case '"': simple = "\""; break;
            case '\\': simple = "\\"; break;
            case '/': simple = "/"; break;
            case 'b': simple = "\b"; break;
            case 'f': simple = "\f"; break;
            case 'n': simple = "\n"; break;
            case 'r': simple = "\r"; break;
            case 't': simple = "\t"; break;
            case 'u':
                s = decode_unicode_escape(ps, s, &o);
                if (s == NULL) {
                    goto fail;
                }
                continue;
            default:
                if (e > 0x20 && e < 0x7F) {
                    fail_at(ps, s, "invalid escape \\%c (JSON knows \\\" \\\\ \\/ \\b \\f \\n "
                                   "\\r \\t \\uXXXX)", e);
                } else {
                    fail_at(ps, s, "invalid escape: '\\' followed by byte 0x%02X (JSON knows "
                                   "\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", e);
                }
                goto fail;
            }
            *o++ = simple[0];
            s += 2;
        } else if (c < 0x80) {
            *o++ = (char)c;
            s++;
        } else {
            size_t n = dynhcp_utf8_sequence_length(s, (size_t)(stop - s));
            if (n == 0) {
                fail_at(ps, s, "invalid UTF-8 (byte 0x%02X)", c);
                goto fail;
            }
            memcpy(o, s, n);
            o += n;
            s += n;
        }
    }
    if (stop == end) {
        dynhcp_pos start = pos_of(ps, open);
        fail_at(ps, end, "unterminated string (started at line %u, column %u): unexpected "
                         "end of text, expected '\"'", start.line, start.column);
        goto fail;
    }
    if (*stop != '"') {
        char buf[8];
        fail_at(ps, stop, "control character U+%04X in a string; write it as %s", *stop,
                control_escape(*stop, buf, sizeof(buf)));
        goto fail;
    }
    *o = '\0';
    ps->p = stop + 1;
    return text;
fail:
    cJSON_free(text);
    return NULL;
}

static int is_digit(const parser *ps, const unsigned char *q)
{
    return q < ps->end && *q >= '0' && *q <= '9';
}

/* strtod on text[0..len) with '.' as the decimal point whatever LC_NUMERIC
 * says: the copy gets the current locale's radix string in its place.
 * Returns 0, or -1 when out of memory. */
static int convert_number(const unsigned char *text, size_t len, double *out)
{
    const char *radix = nl_langinfo(RADIXCHAR); /* unlike localeconv(), writes nothing */
    size_t radix_len = strlen(radix);
    char small[64];
    char *buf = small;
    size_t need = len + radix_len + 1;
    if (need > sizeof(small)) {
        buf = dynhcp_malloc(need); /* only for numbers with very many digits */
        if (buf == NULL) {
            return -1;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.') {
            memcpy(buf + o, radix, radix_len);
            o += radix_len;
        } else {
            buf[o++] = (char)text[i];
        }
    }
    buf[o] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small) {
        dynhcp_free(buf);
    }
    return 0;
}

static cJSON *parse_number(parser *ps)
{
    const unsigned char *start = ps->p, *q = ps->p;
    int negative = *q == '-';
    if (negative) {
        q++;
        if (!is_digit(ps, q)) {
            ps->p = q;
            fail_expected(ps, "a digit after '-'");
            return NULL;
        }
    }
    double integer = 0;
    size_t digits = 0;
    if (*q == '0') {
        if (is_digit(ps, q + 1)) {
            fail_at(ps, q, "leading zeros are not allowed in numbers");
            return NULL;
        }
        if (q + 1 < ps->end && (q[1] == 'x' || q[1] == 'X')) {
            fail_at(ps, q, "hexadecimal numbers are not allowed in JSON");
            return NULL;
        }
        q++;
        digits = 1;
    } else {
        for (; is_digit(ps, q); q++, digits++) {
            integer = integer * 10 + (*q - '0');
        }
    }
    int simple = digits <= FAST_INT_DIGITS;
    if (q < ps->end && *q == '.') {
        q++;
        if (!is_digit(ps, q)) {
            ps->p = q;
            fail_expected(ps, "a digit after '.'");
            return NULL;
        }
        while (is_digit(ps, q)) {
            q++;
        }
        simple = 0;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) {
            q++;
        }
        if (!is_digit(ps, q)) {
            ps->p = q;
            fail_expected(ps, "a digit in the exponent");
            return NULL;
        }
        while (is_digit(ps, q)) {
            q++;
        }
        simple = 0;
    }
    double value = negative ? -integer : integer;
    if (!simple) {
        if (convert_number(start, (size_t)(q - start), &value) != 0) {
            fail_nomem(ps);
            return NULL;
        }
        if (isinf(value)) {
            fail_at(ps, start, "number out of range");
            return NULL;
        }
    }
    ps->p = q;
    /* The text as written, for messages that quote the number. */
    return track_number(ps, cJSON_CreateNumber(value), start, (size_t)(q - start));
}

static cJSON *parse_literal(parser *ps, const char *word, cJSON *(*create)(void))
{
    const unsigned char *start = ps->p;
    size_t len = strlen(word);
    for (size_t i = 0; i < len; i++) {
        if (start + i == ps->end || start[i] != (unsigned char)word[i]) {
            ps->p = start + i;
            if (ps->p == ps->end) {
                fail_at(ps, ps->p, "unexpected end of text, expected '%s'", word);
            } else {
                fail_at(ps, ps->p, "invalid literal, expected '%s'", word);
            }
            return NULL;
        }
    }
    ps->p = start + len;
    return track(ps, create(), start);
}

static cJSON *parse_value(parser *ps, unsigned depth, const char *expected);

static const char single_quote_hint[] = " (use double quotes: JSON has no single-quoted strings)";

/* Reports "expected WHAT" where a key should start, with a hint for a key in
 * single quotes or none (JavaScript's {prompt: 1}). */
static void fail_expected_key(parser *ps, const char *what)
{
    unsigned char c = ps->p < ps->end ? *ps->p : 0;
    if (c == '\'') {
        fail_at(ps, ps->p, "expected %s%s", what, single_quote_hint);
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$') {
        fail_at(ps, ps->p, "expected %s (use double quotes: a JSON key is a string)", what);
    } else {
        fail_expected(ps, what);
    }
}

static cJSON *parse_object(parser *ps, unsigned depth)
{
    cJSON *obj = track(ps, cJSON_CreateObject(), ps->p);
    if (obj == NULL) {
        return NULL;
    }
    dynhcp_object_keys keys;
    dynhcp_object_keys_init(&keys, obj);
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    const char *expected_key = "a string key or '}'";
    for (;;) {
        if (ps->p == ps->end || *ps->p != '"') {
            fail_expected_key(ps, expected_key);
            goto fail;
        }
        const unsigned char *key_at = ps->p;
        char *key = parse_string(ps);
        if (key == NULL) {
            goto fail;
        }
        if (dynhcp_object_keys_has(&keys, key)) {
            char quoted[80];
            fail_at(ps, key_at, "duplicate key %s",
                    dynhcp_quote(quoted, sizeof(quoted), key, strlen(key)));
            cJSON_free(key);
            goto fail;
        }
        skip_space(ps);
        if (ps->p == ps->end || *ps->p != ':') {
            fail_expected(ps, "':' after the key");
            cJSON_free(key);
            goto fail;
        }
        ps->p++;
        skip_space(ps);
        cJSON *value = parse_value(ps, depth + 1, "a JSON value after ':'");
        if (value == NULL) {
            cJSON_free(key);
            goto fail;
        }
        /* The key is moved in, as cJSON_Parse does, instead of copied by
         * cJSON_AddItemToObject: an object's members are a plain child list. */
        value->string = key;
        cJSON_AddItemToArray(obj, value);
        if (dynhcp_object_keys_add(&keys, value) != 0) {
            fail_nomem(ps);
            goto fail;
        }
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_space(ps);
            expected_key = "a string key after ','";
        } else if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            dynhcp_object_keys_free(&keys);
            return obj;
        } else {
            fail_expected(ps, "',' or '}' after an object member");
            goto fail;
        }
    }
fail:
    dynhcp_object_keys_free(&keys);
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *parse_array(parser *ps, unsigned depth)
{
    cJSON *arr = track(ps, cJSON_CreateArray(), ps->p);
    if (arr == NULL) {
        return NULL;
    }
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    const char *expected = "a JSON value or ']'";
    for (;;) {
        cJSON *item = parse_value(ps, depth + 1, expected);
        if (item == NULL) {
            break;
        }
        cJSON_AddItemToArray(arr, item);
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_space(ps);
            expected = "a JSON value after ','";
        } else if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        } else {
            fail_expected(ps, "',' or ']' after an array element");
            break;
        }
    }
    cJSON_Delete(arr);
    return NULL;
}

static int starts_with(const parser *ps, const char *word)
{
    size_t len = strlen(word);
    return (size_t)(ps->end - ps->p) >= len && memcmp(ps->p, word, len) == 0;
}

/* A hint for a character that cannot start a value, or "". */
static const char *value_hint(const parser *ps)
{
    if (*ps->p == '\'') {
        return single_quote_hint;
    }
    if (*ps->p == '+' || *ps->p == '.') {
        return " (a number starts with '-' or a digit)";
    }
    if (starts_with(ps, "NaN") || starts_with(ps, "Infinity")) {
        return " (NaN and Infinity are not JSON numbers)";
    }
    if (dynhcp_bom_length((const char *)ps->p, (size_t)(ps->end - ps->p)) != 0) {
        return " (found a byte order mark)";
    }
    return "";
}

/* Parses the value at ps->p (space already skipped); expected says what the
 * context wants, for the error when there is no value. */
static cJSON *parse_value(parser *ps, unsigned depth, const char *expected)
{
    if (ps->p == ps->end) {
        fail_expected(ps, expected);
        return NULL;
    }
    switch (*ps->p) {
    case '{':
    case '[':
        if (depth > DYNHCP_JSON_MAX_DEPTH) {
            fail_at(ps, ps->p, "nesting deeper than %d", DYNHCP_JSON_MAX_DEPTH);
            return NULL;
        }
        return *ps->p == '{' ? parse_object(ps, depth) : parse_array(ps, depth);
    case '"': {
        const unsigned char *start = ps->p;
        char *text = parse_string(ps);
        if (text == NULL) {
            return NULL;
        }
        /* The decoded text is moved into the node instead of copied by
         * cJSON_CreateString: one allocation per string, as in cJSON_Parse. */
        cJSON *node = cJSON_CreateNull();
        if (node == NULL) {
            cJSON_free(text);
            fail_nomem(ps);
            return NULL;
        }
        node->type = cJSON_String;
        node->valuestring = text;
        return track(ps, node, start);
    }
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(ps);
    case 't':
        return parse_literal(ps, "true", cJSON_CreateTrue);
    case 'f':
        return parse_literal(ps, "false", cJSON_CreateFalse);
    case 'n':
        return parse_literal(ps, "null", cJSON_CreateNull);
    default:
        fail_at(ps, ps->p, "expected %s%s", expected, value_hint(ps));
        return NULL;
    }
}

cJSON *dynhcp_json_parse(const char *text, size_t len, dynhcp_pos origin, dynhcp_posmap *map,
                         dynhcp_parse_error *err)
{
    if (text == NULL) {
        text = ""; /* read as an empty text; no arithmetic on a null pointer */
        len = 0;
    }
    const unsigned char *start = (const unsigned char *)text;
    parser ps = {start, start + len, start, origin.line, origin.column, map, err};
    size_t mark = map != NULL ? map->count : 0;
    cJSON *root = NULL;
    skip_space(&ps);
    if (ps.p == ps.end) {
        fail_at(&ps, ps.p, "empty text: expected a JSON value");
    } else {
        root = parse_value(&ps, 1, "a JSON value");
        if (root != NULL) {
            skip_space(&ps);
            if (ps.p != ps.end) {
                fail_at(&ps, ps.p, "trailing text after the JSON value");
                cJSON_Delete(root);
                root = NULL;
            }
        }
    }
    if (root == NULL && map != NULL) {
        dynhcp_posmap_truncate(map, mark);
    }
    return root;
}
