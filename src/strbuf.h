/* strbuf.h: a growing text buffer for the texts dynhc writes (reports, the
 * explanation). A failed allocation is sticky: later writes do nothing and
 * dh_buf_finish() gives NULL, so writers need no checks and a text is never
 * handed out cut short. Internal. */
#ifndef DH_STRBUF_H
#define DH_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct dh_buf {
    char *data;
    size_t len;
    size_t capacity;
    int failed;
} dh_buf;

/* Zero-initialise a dh_buf ({0}) before the first write. */
void dh_buf_write(dh_buf *b, const char *bytes, size_t n);
void dh_buf_str(dh_buf *b, const char *s);
void dh_buf_char(dh_buf *b, char c);
void dh_buf_u64(dh_buf *b, uint64_t v);
/* value / 10^scale as an exact decimal (dh_format_decimal). */
void dh_buf_decimal(dh_buf *b, uint64_t value, unsigned scale);
void dh_buf_printf(dh_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The text, NUL-terminated (free with dh_free()), or NULL after a failed
 * allocation (the buffer is then freed). */
char *dh_buf_finish(dh_buf *b);

#endif
