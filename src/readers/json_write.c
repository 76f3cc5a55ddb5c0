/* json_write.c: compacting JSON text and appending the marker member. */
#include "alloc.h"
#include "json_write.h"

#include <stdlib.h>
#include <string.h>

char *dynhcp_json_minify(const char *text, size_t len, size_t extra, size_t *out_len)
{
    char *out = dynhcp_malloc(len + extra + 1);
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

size_t dynhcp_json_marker_room(const char *key)
{
    /* ,"KEY":true with every key byte escaped as \u00XX at worst. */
    return strlen(key) * 6 + sizeof(",\"\":true");
}

/* RFC 8259: quote, backslash and every control character escaped. */
const char *dynhcp_json_escape(unsigned char c, char scratch[8])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    if (c >= 0x20) {
        return NULL;
    }
    memcpy(scratch, "\\u00", 4);
    scratch[4] = hex[c >> 4];
    scratch[5] = hex[c & 0xF];
    scratch[6] = '\0';
    return scratch;
}

size_t dynhcp_json_append_marker(char *buf, size_t len, const char *key)
{
    size_t n = len - 1; /* overwrite the closing brace */
    if (n > 1) {
        buf[n++] = ',';
    }
    buf[n++] = '"';
    for (const unsigned char *k = (const unsigned char *)key; *k != '\0'; k++) {
        char scratch[8];
        const char *escaped = dynhcp_json_escape(*k, scratch);
        if (escaped == NULL) {
            buf[n++] = (char)*k;
        } else {
            size_t len_escaped = strlen(escaped);
            memcpy(buf + n, escaped, len_escaped);
            n += len_escaped;
        }
    }
    memcpy(buf + n, "\":true}", sizeof("\":true}"));
    return n + sizeof("\":true}") - 1;
}
