/* json_write.c: compacting JSON text and appending the marker member. */
#include "json_write.h"

#include <stdlib.h>
#include <string.h>

char *dh_json_minify(const char *text, size_t len, size_t extra, size_t *out_len)
{
    char *out = malloc(len + extra + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            out[n++] = c;
            if (c == '\\') {
                out[n++] = text[++i]; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
            out[n++] = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out[n++] = c;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

size_t dh_json_marker_room(const char *key)
{
    /* ,"KEY":true with every key byte escaped as \u00XX at worst. */
    return strlen(key) * 6 + sizeof(",\"\":true");
}

size_t dh_json_append_marker(char *buf, size_t len, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = len - 1; /* overwrite the closing brace */
    if (n > 1) {
        buf[n++] = ',';
    }
    buf[n++] = '"';
    for (const unsigned char *k = (const unsigned char *)key; *k != '\0'; k++) {
        if (*k == '"' || *k == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*k;
        } else if (*k < 0x20) {
            memcpy(buf + n, "\\u00", 4);
            buf[n + 4] = hex[*k >> 4];
            buf[n + 5] = hex[*k & 0xF];
            n += 6;
        } else {
            buf[n++] = (char)*k;
        }
    }
    memcpy(buf + n, "\":true}", sizeof("\":true}"));
    return n + sizeof("\":true}") - 1;
}
