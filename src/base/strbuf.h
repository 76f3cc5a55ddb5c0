/* strbuf.h: a growing text buffer for the texts dynhc writes (reports, the
 * explanation). A failed allocation is sticky: later writes do nothing and
 * dynhcp_buf_finish() gives NULL, so writers need no checks and a text is never
 * handed out cut short. Internal. */
#ifndef DYNHCP_STRBUF_H
#define DYNHCP_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct dynhcp_buf {
    char *data;
    size_t len;
    size_t capacity;
    int failed;
} dynhcp_buf;

/* Zero-initialise a dynhcp_buf ({0}) before the first write. */
void dynhcp_buf_write(dynhcp_buf *b, const char *bytes, size_t n);
void dynhcp_buf_str(dynhcp_buf *b, const char *s);
void dynhcp_buf_char(dynhcp_buf *b, char c);
void dynhcp_buf_u64(dynhcp_buf *b, uint64_t v);
/* value / 10^scale as an exact decimal (dynhcp_format_decimal). */
void dynhcp_buf_decimal(dynhcp_buf *b, uint64_t value, unsigned scale);
void dynhcp_buf_printf(dynhcp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The text, NUL-terminated (free with dynhcp_free()), or NULL after a failed
 * allocation (the buffer is then freed). */
char *dynhcp_buf_finish(dynhcp_buf *b);

#endif
