/* json_write.h: producing the payload's compact text. Internal.
 *
 * Text sources are compacted from the text itself instead of printed from
 * the tree: it costs a copy instead of number formatting, and it keeps the
 * operator's spelling of every number ("0.0" stays "0.0", large integers stay
 * exact). */
#ifndef DYNHCP_JSON_WRITE_H
#define DYNHCP_JSON_WRITE_H

#include <stddef.h>

/*
 * Copies text[0..len), which must be valid JSON, without the whitespace
 * outside strings into a new buffer with room for `extra` more bytes.
 * Returns it (free with dynhcp_free()) and its length, or NULL when out of memory.
 */
char *dynhcp_json_minify(const char *text, size_t len, size_t extra, size_t *out_len);

/* How RFC 8259 writes byte c inside a string: NULL when as itself, else
 * its escape (a static string, or scratch for \u00XX). */
const char *dynhcp_json_escape(unsigned char c, char scratch[8]);

/* Bytes that appending a marker member with this key may need at most. */
size_t dynhcp_json_marker_room(const char *key);

/*
 * Appends the member "KEY":true to the compact JSON object in buf (length
 * len, with dynhcp_json_marker_room(key) bytes of room after it). Returns the new
 * length; the text stays NUL-terminated.
 */
size_t dynhcp_json_append_marker(char *buf, size_t len, const char *key);

#endif
