/* text.c: positions, UTF-8 checks and parse errors shared by the readers. */
#include "text.h"

#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dh_posmap_add(dh_posmap *map, const cJSON *node, dh_pos pos)
{
    if (map->count == map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 16;
        dh_posmap_entry *grown = dh_realloc(map->entries, capacity * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        map->entries = grown;
        map->capacity = capacity;
    }
    map->entries[map->count].node = node;
    map->entries[map->count].pos = pos;
    map->count++;
    return 0;
}

dh_pos dh_posmap_find(const dh_posmap *map, const cJSON *node)
{
    dh_pos none = {0, 0};
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

void dh_posmap_clear(dh_posmap *map)
{
    dh_free(map->entries);
    map->entries = NULL;
    map->count = 0;
    map->capacity = 0;
}

int dh_parse_error_is_nomem(const dh_parse_error *err)
{
    return err != NULL && strcmp(err->message, DH_NOMEM_MESSAGE) == 0;
}

void dh_parse_error_set(dh_parse_error *err, dh_pos pos, const char *fmt, ...)
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

size_t dh_utf8_sequence_length(const unsigned char *s, size_t avail)
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

int dh_utf8_check(const char *text, size_t len, dh_parse_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t off = 0;
    while (off < len) {
        if (s[off] < 0x80) {
            off++;
            continue;
        }
        size_t n = dh_utf8_sequence_length(s + off, len - off);
        if (n == 0) {
            dh_parse_error_set(err, dh_pos_at(text, off),
                               "invalid UTF-8 (byte 0x%02X)", s[off]);
            return -1;
        }
        off += n;
    }
    return 0;
}

dh_pos dh_pos_at(const char *text, size_t off)
{
    dh_pos pos = {1, 1};
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

size_t dh_bom_length(const char *text, size_t len)
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

const char *dh_trim(const char *s, size_t *len)
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

int dh_equals_nocase(const char *s, size_t len, const char *word)
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

int dh_hex_value(int c)
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
