/* answer.c: an answer as it arrives (answer.h). */
#include "answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cli_answer_collect(char *data, size_t size, size_t count, void *answer)
{
    cli_answer *a = answer;
    size_t n = size * count;
    if (n > CLI_ANSWER_MAX - a->len) {
        a->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap != 0 ? a->cap : 1024;
        while (cap < a->len + n + 1) {
            cap *= 2;
        }
        char *grown = realloc(a->text, cap);
        if (grown == NULL) {
            return 0;
        }
        a->text = grown;
        a->cap = cap;
    }
    memcpy(a->text + a->len, data, n);
    a->len += n;
    a->text[a->len] = '\0';
    return n;
}

void cli_answer_reset(cli_answer *a, int free_text)
{
    if (free_text) {
        free(a->text);
        a->text = NULL;
        a->cap = 0;
    }
    a->len = 0;
    a->too_large = 0;
}

void cli_answer_too_large(char *msg, size_t size)
{
    snprintf(msg, size, "the answer is larger than %u MiB", CLI_ANSWER_MAX >> 20);
}
