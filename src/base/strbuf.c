/* strbuf.c: see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

/* Room for more bytes and the final NUL; 0 when it cannot be had. */
static int reserve(dynhcp_buf *b, size_t more)
{
    if (b->failed) {
        return 0;
    }
    if (b->capacity - b->len > more) {
        return 1;
    }
    size_t capacity = b->capacity != 0 ? b->capacity : 1024;
    while (capacity - b->len <= more) {
        if (capacity > SIZE_MAX / 2) {
            b->failed = 1;
            return 0;
        }
        capacity *= 2;
    }
    char *grown = dynhcp_realloc(b->data, capacity);
    if (grown == NULL) {
        b->failed = 1;
        return 0;
    }
    b->data = grown;
    b->capacity = capacity;
    return 1;
}

void dynhcp_buf_write(dynhcp_buf *b, const char *bytes, size_t n)
{
    if (reserve(b, n)) {
        memcpy(b->data + b->len, bytes, n);
        b->len += n;
    }
}

void dynhcp_buf_str(dynhcp_buf *b, const char *s)
{
    dynhcp_buf_write(b, s, strlen(s));
}

void dynhcp_buf_char(dynhcp_buf *b, char c)
{
    dynhcp_buf_write(b, &c, 1);
}

void dynhcp_buf_u64(dynhcp_buf *b, uint64_t v)
{
    dynhcp_buf_decimal(b, v, 0);
}

void dynhcp_buf_decimal(dynhcp_buf *b, uint64_t value, unsigned scale)
{
    char text[DYNHCP_NUMBER_TEXT_SIZE];
    dynhcp_buf_str(b, dynhcp_format_decimal(text, value, scale));
}

void dynhcp_buf_printf(dynhcp_buf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->failed) {
            return;
        }
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->capacity - b->len;
        int n = vsnprintf(b->data != NULL ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        reserve(b, (size_t)n);
    }
}

char *dynhcp_buf_finish(dynhcp_buf *b)
{
    if (!reserve(b, 0)) {
        dynhcp_free(b->data);
        b->data = NULL;
        return NULL;
    }
    b->data[b->len] = '\0';
    return b->data;
}
