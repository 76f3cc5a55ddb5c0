/* text.c: positions, UTF-8 checks and parse errors shared by the readers. */
#include "text.h"

#include "alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dynhcp_posmap_add(dynhcp_posmap *map, const cJSON *node, dynhcp_pos pos)
{
    if (map->count == map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 16;
        dynhcp_posmap_entry *grown = dynhcp_realloc(map->entries, capacity * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        map->entries = grown;
        map->capacity = capacity;
    }
    map->entries[map->count].node = node;
    map->entries[map->count].pos = pos;
    map->entries[map->count].token = NULL;
    map->count++;
    return 0;
}

int dynhcp_posmap_add_number(dynhcp_posmap *map, const cJSON *node, dynhcp_pos pos,
                             const char *text, size_t len)
{
    char *token = dynhcp_malloc(len + 1);
    if (token == NULL) {
        return -1;
    }
    memcpy(token, text, len);
    token[len] = '\0';
    if (dynhcp_posmap_add(map, node, pos) != 0) {
        dynhcp_free(token);
        return -1;
    }
    map->entries[map->count - 1].token = token;
    return 0;
}

dynhcp_pos dynhcp_posmap_find(const dynhcp_posmap *map, const cJSON *node)
{
    dynhcp_pos none = {0, 0};
    if (map == NULL) {
        return none;
    }
    for (size_t i = 0; i < map->count; i++) {
        if (map->entries[i].node == node) {
            return map->entries[i].pos;
        }
    }
    return none;
}

const char *dynhcp_posmap_token(const dynhcp_posmap *map, const cJSON *node)
{
    if (map == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < map->count; i++) {
        if (map->entries[i].node == node) {
            return map->entries[i].token;
        }
    }
    return NULL;
}

void dynhcp_posmap_truncate(dynhcp_posmap *map, size_t count)
{
    while (map->count > count) {
        dynhcp_free(map->entries[--map->count].token);
    }
}

void dynhcp_posmap_clear(dynhcp_posmap *map)
{
    dynhcp_posmap_truncate(map, 0);
    dynhcp_free(map->entries);
    map->entries = NULL;
    map->count = 0;
    map->capacity = 0;
}

void dynhcp_parse_error_set_nomem(dynhcp_parse_error *err)
{
    if (err != NULL && err->message[0] == '\0') {
        dynhcp_pos none = {0, 0};
        dynhcp_parse_error_set(err, none, "out of memory");
        err->nomem = 1;
    }
}

int dynhcp_parse_error_is_nomem(const dynhcp_parse_error *err)
{
    return err != NULL && err->nomem;
}

void dynhcp_parse_error_set(dynhcp_parse_error *err, dynhcp_pos pos, const char *fmt, ...)
{
    if (err == NULL || err->message[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->pos = pos;
}

size_t dynhcp_utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) {
            lo = 0xA0; /* overlong */
        } else if (c == 0xED) {
            hi = 0x9F; /* surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) {
            lo = 0x90; /* overlong */
        } else if (c == 0xF4) {
            hi = 0x8F; /* above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (avail < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return need;
}

int dynhcp_utf8_check(const char *text, size_t len, dynhcp_parse_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t off = 0;
    while (off < len) {
        if (s[off] < 0x80) {
            off++;
            continue;
        }
        size_t n = dynhcp_utf8_sequence_length(s + off, len - off);
        if (n == 0) {
            dynhcp_parse_error_set(err, dynhcp_pos_at(text, off), "invalid UTF-8 (byte 0x%02X)",
                                   s[off]);
            return -1;
        }
        off += n;
    }
    return 0;
}

dynhcp_pos dynhcp_pos_at(const char *text, size_t off)
{
    dynhcp_pos pos = {1, 1};
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            pos.line++;
            pos.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            pos.column++; /* count characters: skip continuation bytes */
        }
    }
    return pos;
}

size_t dynhcp_bom_length(const char *text, size_t len)
{
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF) {
        return 3;
    }
    return 0;
}

static int is_trimmed_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *dynhcp_trim(const char *s, size_t *len)
{
    size_t n = 0;
    while (is_trimmed_space(*s)) {
        s++;
    }
    while (s[n] != '\0') {
        n++;
    }
    while (n > 0 && is_trimmed_space(s[n - 1])) {
        n--;
    }
    *len = n;
    return s;
}

int dynhcp_equals(const char *s, size_t len, const char *text)
{
    return len == strlen(text) && memcmp(s, text, len) == 0;
}

int dynhcp_equals_nocase(const char *s, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i] != '\0'; i++) {
        char a = s[i], b = word[i];
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (b >= 'A' && b <= 'Z') {
            b = (char)(b - 'A' + 'a');
        }
        if (a != b) {
            return 0;
        }
    }
    return i == len && word[i] == '\0';
}

int dynhcp_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

const char *dynhcp_format_decimal(char buf[DYNHCP_NUMBER_TEXT_SIZE], uint64_t value, unsigned scale)
{
    /* Digits from the right: the fraction (trailing zeros dropped), the
     * point, then the whole part, which has at least one digit. */
    char digits[DYNHCP_NUMBER_TEXT_SIZE];
    size_t at = sizeof(digits);
    digits[--at] = '\0';
    int fraction = 0;
    for (unsigned i = 0; i < scale && i < 19; i++) {
        unsigned d = (unsigned)(value % 10);
        value /= 10;
        if (d != 0 || fraction) {
            digits[--at] = (char)('0' + d);
            fraction = 1;
        }
    }
    if (fraction) {
        digits[--at] = '.';
    }
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    memcpy(buf, digits + at, sizeof(digits) - at);
    return buf;
}

/* Whether the significant digits d[0..n) times 10^exp10 (the exponent of
 * the last digit) read back as value. strtod sees no decimal point, so no
 * locale can change what it reads. */
static int reads_back(const char *d, int n, int exp10, int negative, double value)
{
    char text[48];
    snprintf(text, sizeof(text), "%s%.*se%d", negative ? "-" : "", n, d, exp10);
    return strtod(text, NULL) == value;
}

const char *dynhcp_format_double(char buf[DYNHCP_NUMBER_TEXT_SIZE], double value)
{
    if (isnan(value)) {
        return strcpy(buf, "nan");
    }
    if (isinf(value)) {
        return strcpy(buf, value < 0 ? "-inf" : "inf");
    }
    int negative = signbit(value) != 0;
    char d[20];
    int n = 0, point = 0; /* value = 0.d[0..n) * 10^point */
    for (int precision = 1; precision <= 17; precision++) {
        /* "%.*e" writes one digit, the locale's decimal point (whatever its
         * bytes), more digits, then 'e' and the exponent: keep the digits. */
        char text[48];
        snprintf(text, sizeof(text), "%.*e", precision - 1, value);
        const char *p = text;
        n = 0;
        for (; *p != '\0' && *p != 'e'; p++) {
            if (*p >= '0' && *p <= '9' && n < (int)sizeof(d)) {
                d[n++] = *p;
            }
        }
        int exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
        point = exp10 + 1;
        if (reads_back(d, n, point - n, negative, value)) {
            break;
        }
    }
    while (n > 1 && d[n - 1] == '0') {
        n--;
    }
    /* JavaScript's rule: plain digits from 1e-6 to below 1e21, else an
     * exponent. */
    size_t o = 0;
    if (negative) {
        buf[o++] = '-';
    }
    if (point > 21 || point < -5) {
        buf[o++] = d[0];
        if (n > 1) {
            buf[o++] = '.';
            memcpy(buf + o, d + 1, (size_t)n - 1);
            o += (size_t)n - 1;
        }
        snprintf(buf + o, DYNHCP_NUMBER_TEXT_SIZE - o, "e%+d", point - 1);
        return buf;
    }
    if (point <= 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = point; i < 0; i++) {
            buf[o++] = '0';
        }
        memcpy(buf + o, d, (size_t)n);
        o += (size_t)n;
    } else if (point >= n) {
        memcpy(buf + o, d, (size_t)n);
        o += (size_t)n;
        for (int i = n; i < point; i++) {
            buf[o++] = '0';
        }
    } else {
        memcpy(buf + o, d, (size_t)point);
        o += (size_t)point;
        buf[o++] = '.';
        memcpy(buf + o, d + point, (size_t)(n - point));
        o += (size_t)(n - point);
    }
    buf[o] = '\0';
    return buf;
}

const char *dynhcp_quote(char *buf, size_t size, const char *s, size_t len)
{
    static const char ellipsis[] = "...\"";
    size_t out = 0;
    if (size < sizeof(ellipsis) + 8) {
        if (size > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    /* Leave room for an ellipsis and the closing quote. */
    size_t limit = size - sizeof(ellipsis) - 1;
    buf[out++] = '"';
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        char piece[8];
        size_t n = 1; /* bytes of s this piece stands for */
        int w;        /* bytes of the piece */
        if (c == '"' || c == '\\') {
            w = snprintf(piece, sizeof(piece), "\\%c", c);
        } else if (c == '\n') {
            w = snprintf(piece, sizeof(piece), "\\n");
        } else if (c == '\t') {
            w = snprintf(piece, sizeof(piece), "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            w = snprintf(piece, sizeof(piece), "\\x%02X", c);
        } else if (c < 0x80) {
            piece[0] = (char)c;
            w = 1;
        } else if ((n = dynhcp_utf8_sequence_length((const unsigned char *)s + i, len - i)) > 0) {
            memcpy(piece, s + i, n); /* a whole character, never cut */
            w = (int)n;
        } else {
            /* Not UTF-8: escaped, so that the message itself stays UTF-8. */
            n = 1;
            w = snprintf(piece, sizeof(piece), "\\x%02X", c);
        }
        if (out + (size_t)w > limit) {
            break;
        }
        memcpy(buf + out, piece, (size_t)w);
        out += (size_t)w;
        i += n;
    }
    if (i < len) {
        for (size_t k = 0; k < sizeof(ellipsis); k++) {
            buf[out++] = ellipsis[k];
        }
        return buf;
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}

uint64_t dynhcp_hash_string(const char *s, uint64_t seed)
{
    uint64_t h = seed;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ull;
    }
    return h;
}
