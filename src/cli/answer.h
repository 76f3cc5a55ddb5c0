/* answer.h: an answer as it arrives, whoever reads it (libcurl's write
 * callback, watch's built-in client): a growing buffer with a limit. */
#ifndef DYNHC_CLI_ANSWER_H
#define DYNHC_CLI_ANSWER_H

#include <stddef.h>

/* An answer as it arrives: text NUL-terminated, at most CLI_ANSWER_MAX
 * bytes (a health answer or a metrics page is far smaller; anything much
 * larger must not grow the sidecar). Zeroed: empty. */
#define CLI_ANSWER_MAX (8u << 20)
typedef struct cli_answer {
    char *text; /* NULL until the first byte */
    size_t len;
    size_t cap;
    int too_large; /* the transfer was ended for it */
} cli_answer;

/* A CURLOPT_WRITEFUNCTION appending to the cli_answer given as its data;
 * it ends the transfer past CLI_ANSWER_MAX or when out of memory. */
size_t cli_answer_collect(char *data, size_t size, size_t count, void *answer);

/* Empties a (keeping its room), or frees it (free_text). */
void cli_answer_reset(cli_answer *a, int free_text);

/* The message of an answer ended for its size, into msg. */
void cli_answer_too_large(char *msg, size_t size);

#endif
