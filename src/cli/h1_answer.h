/* h1_answer.h: the answer side of watch's HTTP/1.1 client (h1.h): bytes in
 * as they come off the connection, parsed as they come into a status and a
 * body (framed by Content-Length, chunks or the end of the connection,
 * interim 1xx answers skipped). No I/O, so that it is fuzzed on its own
 * (fuzz/fuzz_answer.c). */
#ifndef DYNHC_CLI_H1_ANSWER_H
#define DYNHC_CLI_H1_ANSWER_H

#include <stddef.h>

#include "answer.h"

typedef enum cli_h1_framing {
    CLI_H1_BY_LENGTH, /* Content-Length */
    CLI_H1_BY_CHUNKS, /* Transfer-Encoding: chunked */
    CLI_H1_BY_CLOSE,  /* neither: the body ends with the connection */
    CLI_H1_NO_BODY    /* 204, 304 */
} cli_h1_framing;

typedef enum cli_h1_chunk_step {
    CLI_H1_CHUNK_SIZE,
    CLI_H1_CHUNK_DATA,
    CLI_H1_CHUNK_DATA_END,
    CLI_H1_CHUNK_TRAILER
} cli_h1_chunk_step;

/* An answer being read. Zeroed, then cli_h1_answer_reset(): ready. */
typedef struct cli_h1_answer {
    cli_answer in;      /* what came: the head, then the body decoded in place */
    size_t scan;        /* where the next line starts */
    size_t head_end;    /* 0: the head is not whole yet */
    size_t body_end;    /* the body: [head_end, body_end), NUL-terminated once complete */
    int status;         /* 0 until the status line came */
    int keep_alive;     /* the connection may carry another exchange */
    int complete;       /* the answer is whole */
    cli_h1_framing framing;
    size_t content_length;
    int has_length;
    cli_h1_chunk_step chunk_step;
    size_t chunk_left;
    const char *malformed; /* why it is not HTTP/1.x as a client takes it */
} cli_h1_answer;

/* Starts a new answer; the room is kept. */
void cli_h1_answer_reset(cli_h1_answer *a);

/* Frees the room: entirely, or (trim) only when an answer made it large. */
void cli_h1_answer_free(cli_h1_answer *a, int trim);

/* Room for the next read: *room bytes at *at, at least a kilobyte. 0, or -1
 * when the answer would pass its limit (in.too_large) or memory is short. */
int cli_h1_answer_room(cli_h1_answer *a, char **at, size_t *room);

/* Parses the n bytes just read into the room. 0 (complete says whether the
 * answer is whole), or -1 when it is malformed (malformed says why) or past
 * its limit (in.too_large). */
int cli_h1_answer_add(cli_h1_answer *a, size_t n);

/* The connection ended: 1 when that completes the answer (framed by the end
 * of the connection), else 0 (malformed set when not even a status line came). */
int cli_h1_answer_closed(cli_h1_answer *a);

#endif
