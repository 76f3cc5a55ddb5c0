/* h1_answer.c: the answer parser of watch's HTTP/1.1 client (h1_answer.h).
 * Lines end in CRLF or, leniently, LF; a line past 64 KiB is refused. Chunks
 * are decoded in place, so that the buffer holds the head, the body so far
 * and at most a partial line. */
#include "h1_answer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A status line or header longer than this is no server's. */
#define LINE_MAX_BYTES (64u * 1024u)

/* The answer's room at first (a health answer and its headers fit) and
 * the least room a read gets. */
#define FIRST_ROOM 2048u
#define MIN_READ 1024u

void cli_h1_answer_reset(cli_h1_answer *a)
{
    cli_answer in = a->in;
    cli_answer_reset(&in, 0);
    memset(a, 0, sizeof(*a));
    a->in = in;
    a->keep_alive = 1;
    a->framing = CLI_H1_BY_CLOSE;
}

void cli_h1_answer_free(cli_h1_answer *a, int trim)
{
    if (!trim || a->in.cap > FIRST_ROOM) {
        cli_answer_reset(&a->in, 1);
    }
}

/* A case-insensitive match of a header name at line. */
static int is_header(const char *line, size_t len, const char *name, const char **value,
                     size_t *value_len)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0) {
        return 0;
    }
    const char *v = line + n + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    *value = v;
    *value_len = (size_t)(e - v);
    return 1;
}

/* Whether a comma-separated list holds token (any case). */
static int has_token(const char *v, size_t len, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t') {
            i++;
        }
        if (i - start == n && strncasecmp(v + start, token, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Records why the answer is malformed; -1. */
static int malformed(cli_h1_answer *a, const char *why)
{
    a->malformed = why;
    return -1;
}

/* The status line "HTTP/1.x NNN reason". 0, or -1 when it is not one. */
static int parse_status(cli_h1_answer *a, const char *line, size_t len)
{
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
        line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' ')) {
        return malformed(a, "no HTTP/1.x status line");
    }
    a->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    a->keep_alive = line[7] == '1';
    return 0;
}

/* A header line; 0, or -1 when its framing is wrong or unknown. */
static int parse_header(cli_h1_answer *a, const char *line, size_t len)
{
    const char *v;
    size_t n;
    if (is_header(line, len, "Content-Length", &v, &n)) {
        size_t value = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return malformed(a, "a Content-Length that is no number");
            }
            if (value > CLI_ANSWER_MAX) {
                a->in.too_large = 1;
                return -1;
            }
            value = value * 10 + (size_t)(v[i] - '0');
        }
        if (n == 0) {
            return malformed(a, "an empty Content-Length");
        }
        if (value > CLI_ANSWER_MAX) {
            a->in.too_large = 1;
            return -1;
        }
        if (a->has_length && value != a->content_length) {
            /* Which one frames the body would be anyone's guess. */
            return malformed(a, "two different Content-Length");
        }
        a->has_length = 1;
        a->content_length = value;
    } else if (is_header(line, len, "Transfer-Encoding", &v, &n)) {
        /* Only chunked is ever sent to a client that asked for no coding. */
        if (n != 7 || strncasecmp(v, "chunked", 7) != 0) {
            return malformed(a, "a Transfer-Encoding other than chunked");
        }
        a->framing = CLI_H1_BY_CHUNKS;
    } else if (is_header(line, len, "Connection", &v, &n)) {
        if (has_token(v, n, "close")) {
            a->keep_alive = 0;
        } else if (has_token(v, n, "keep-alive")) {
            a->keep_alive = 1;
        }
    }
    return 0;
}

/* After the head: how the body is framed. */
static void frame_body(cli_h1_answer *a)
{
    if (a->status == 204 || a->status == 304) {
        a->framing = CLI_H1_NO_BODY;
    } else if (a->framing != CLI_H1_BY_CHUNKS) {
        a->framing = a->has_length ? CLI_H1_BY_LENGTH : CLI_H1_BY_CLOSE;
    }
    if (a->framing == CLI_H1_BY_CLOSE) {
        a->keep_alive = 0;
    }
    a->body_end = a->head_end;
}

/* Parses the head's lines that came whole. 0 (the head may be incomplete),
 * or -1 when it is malformed. */
static int parse_head(cli_h1_answer *a)
{
    while (a->head_end == 0) {
        char *start = a->in.text + a->scan;
        char *nl = memchr(start, '\n', a->in.len - a->scan);
        if (nl == NULL) {
            return a->in.len - a->scan > LINE_MAX_BYTES
                       ? malformed(a, "a head line longer than 64 KiB")
                       : 0;
        }
        size_t len = (size_t)(nl - start);
        if (len > 0 && start[len - 1] == '\r') {
            len--;
        }
        int first = a->status == 0;
        a->scan = (size_t)(nl - a->in.text) + 1;
        if (first) {
            if (parse_status(a, start, len) != 0) {
                return -1;
            }
        } else if (len > 0) {
            if (parse_header(a, start, len) != 0) {
                return -1;
            }
        } else if (a->status >= 100 && a->status < 200) {
            if (a->status == 101) {
                return malformed(a, "a protocol switch nobody asked for");
            }
            /* An interim answer (103 Early Hints): the real one follows. */
            memmove(a->in.text, a->in.text + a->scan, a->in.len - a->scan);
            a->in.len -= a->scan;
            a->in.text[a->in.len] = '\0';
            a->scan = 0;
            a->status = 0;
            a->has_length = 0;
            a->framing = CLI_H1_BY_CLOSE;
        } else {
            a->head_end = a->scan;
            frame_body(a);
        }
    }
    return 0;
}

/* Decodes the chunks that came whole into the body, in place. 0, or -1
 * when they are malformed. */
static int parse_chunks(cli_h1_answer *a)
{
    char *text = a->in.text;
    size_t pos = a->scan;
    while (!a->complete) {
        if (a->chunk_step == CLI_H1_CHUNK_DATA) {
            size_t n = a->in.len - pos < a->chunk_left ? a->in.len - pos : a->chunk_left;
            memmove(text + a->body_end, text + pos, n);
            a->body_end += n;
            pos += n;
            a->chunk_left -= n;
            if (a->chunk_left > 0) {
                break;
            }
            a->chunk_step = CLI_H1_CHUNK_DATA_END;
            continue;
        }
        char *nl = memchr(text + pos, '\n', a->in.len - pos);
        if (nl == NULL) {
            if (a->in.len - pos > LINE_MAX_BYTES) {
                return malformed(a, "a chunk line longer than 64 KiB");
            }
            break;
        }
        const char *line = text + pos;
        size_t len = (size_t)(nl - line);
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        pos = (size_t)(nl - text) + 1;
        if (a->chunk_step == CLI_H1_CHUNK_DATA_END) {
            if (len != 0) {
                return malformed(a, "a chunk longer than its size");
            }
            a->chunk_step = CLI_H1_CHUNK_SIZE;
        } else if (a->chunk_step == CLI_H1_CHUNK_TRAILER) {
            a->complete = len == 0;
        } else {
            size_t size = 0, i = 0;
            for (; i < len; i++) {
                int d = line[i] >= '0' && line[i] <= '9'   ? line[i] - '0'
                        : line[i] >= 'a' && line[i] <= 'f' ? line[i] - 'a' + 10
                        : line[i] >= 'A' && line[i] <= 'F' ? line[i] - 'A' + 10
                                                           : -1;
                if (d < 0) {
                    break;
                }
                if (size > CLI_ANSWER_MAX) {
                    a->in.too_large = 1;
                    return -1;
                }
                size = size * 16 + (size_t)d;
            }
            if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')) {
                return malformed(a, "a chunk size that is not hexadecimal");
            }
            a->chunk_left = size;
            a->chunk_step = size == 0 ? CLI_H1_CHUNK_TRAILER : CLI_H1_CHUNK_DATA;
        }
    }
    /* What is not parsed yet moves down to the body's end, so that the
     * buffer holds only the body and a partial line. */
    memmove(text + a->body_end, text + pos, a->in.len - pos);
    a->in.len = a->body_end + (a->in.len - pos);
    text[a->in.len] = '\0';
    a->scan = a->body_end;
    return 0;
}

/* Parses what came; sets complete when the answer is whole. 0, or -1 when
 * it is malformed. */
static int parse(cli_h1_answer *a)
{
    if (a->head_end == 0) {
        if (parse_head(a) != 0) {
            return -1;
        }
        if (a->head_end == 0) {
            return 0;
        }
    }
    switch (a->framing) {
    case CLI_H1_NO_BODY: a->complete = 1; break;
    case CLI_H1_BY_LENGTH:
        a->body_end = a->in.len - a->head_end < a->content_length ? a->in.len
                                                                  : a->head_end + a->content_length;
        a->complete = a->body_end - a->head_end == a->content_length;
        break;
    case CLI_H1_BY_CHUNKS: return parse_chunks(a);
    case CLI_H1_BY_CLOSE: a->body_end = a->in.len; break;
    }
    return 0;
}

int cli_h1_answer_room(cli_h1_answer *a, char **at, size_t *room)
{
    cli_answer *in = &a->in;
    if (in->cap - in->len <= MIN_READ) {
        size_t cap = in->cap != 0 ? in->cap * 2 : FIRST_ROOM;
        if (cap > CLI_ANSWER_MAX + LINE_MAX_BYTES + 1) {
            cap = CLI_ANSWER_MAX + LINE_MAX_BYTES + 1;
        }
        if (cap - in->len <= 1) {
            in->too_large = 1;
            return -1;
        }
        char *grown = realloc(in->text, cap);
        if (grown == NULL) {
            return -1;
        }
        in->text = grown;
        in->cap = cap;
    }
    *at = in->text + in->len;
    *room = in->cap - in->len - 1; /* and the NUL */
    return 0;
}

int cli_h1_answer_add(cli_h1_answer *a, size_t n)
{
    a->in.len += n;
    a->in.text[a->in.len] = '\0';
    if (a->in.len > CLI_ANSWER_MAX + LINE_MAX_BYTES ||
        (a->head_end != 0 && a->body_end - a->head_end > CLI_ANSWER_MAX)) {
        a->in.too_large = 1;
        return -1;
    }
    if (parse(a) != 0) {
        return -1;
    }
    if (a->complete) {
        /* Bytes past the answer: nothing asked for them, and the connection
         * can no longer be trusted to frame the next one. */
        if (a->in.len > a->body_end) {
            a->keep_alive = 0;
        }
        a->in.text[a->body_end] = '\0'; /* the body as a string of its own */
    }
    return 0;
}

int cli_h1_answer_closed(cli_h1_answer *a)
{
    a->keep_alive = 0;
    if (a->head_end != 0 && a->framing == CLI_H1_BY_CLOSE) {
        a->complete = 1;
        a->in.text[a->body_end] = '\0';
        return 1;
    }
    if (a->status == 0) {
        (void)malformed(a, "no HTTP/1.x status line");
    }
    return 0;
}
