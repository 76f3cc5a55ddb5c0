/* fuzz_answer.c: watch's HTTP/1.1 answer parser (src/cli/h1_answer.c) on
 * any bytes, read in pieces of the size the first byte gives, and the JSON
 * scanner (src/cli/json_scan.c) on every body it yields. Checks: a whole
 * answer's body lies within what came and ends in a NUL; its status is final
 * (2xx to 5xx: interim ones are skipped); a body framed by Content-Length
 * has that length; a refusal says why; and the verdict does not depend on
 * how the bytes were cut into reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "h1_answer.h"
#include "json_scan.h"

/* What parsing an answer came to. */
typedef struct outcome {
    int complete;
    int refused;
    int status;
    char *body; /* a copy, when complete */
    size_t body_len;
} outcome;

/* Feeds data to a new answer in reads of at most step bytes, then ends
 * the connection unless the answer was whole or refused before. */
static outcome feed(const uint8_t *data, size_t size, size_t step)
{
    outcome o;
    memset(&o, 0, sizeof(o));
    cli_h1_answer a;
    memset(&a, 0, sizeof(a));
    cli_h1_answer_reset(&a);
    size_t fed = 0;
    while (fed < size && !a.complete && !o.refused) {
        char *at;
        size_t room;
        if (cli_h1_answer_room(&a, &at, &room) != 0) {
            o.refused = 1;
            break;
        }
        size_t n = size - fed < step ? size - fed : step;
        n = n < room ? n : room;
        memcpy(at, data + fed, n);
        fed += n;
        if (cli_h1_answer_add(&a, n) != 0) {
            if (a.malformed == NULL && !a.in.too_large) {
                fuzz_broken("cli_h1_answer_add", "refused without saying why");
            }
            o.refused = 1;
        }
    }
    if (!a.complete && !o.refused && fed > 0 && !cli_h1_answer_closed(&a) && a.status == 0 &&
        a.malformed == NULL) {
        fuzz_broken("cli_h1_answer_closed", "no status line, and no reason");
    }
    if (a.complete) {
        if (a.head_end == 0 || a.head_end > a.body_end || a.body_end > a.in.len ||
            a.in.text[a.body_end] != '\0') {
            fuzz_broken("cli_h1_answer", "the body lies outside what came");
        }
        if (a.status < 200 || a.status > 599) {
            fuzz_broken("cli_h1_answer", "a whole answer with no final status");
        }
        if (a.framing == CLI_H1_BY_LENGTH && a.body_end - a.head_end != a.content_length) {
            fuzz_broken("cli_h1_answer", "a body shorter or longer than its Content-Length");
        }
        o.complete = 1;
        o.status = a.status;
        o.body_len = a.body_end - a.head_end;
        o.body = malloc(o.body_len + 1);
        if (o.body == NULL) {
            abort();
        }
        memcpy(o.body, a.in.text + a.head_end, o.body_len + 1);
        long items;
        (void)cli_json_scan(o.body, o.body_len, "choices", &items);
    }
    cli_h1_answer_free(&a, 0);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t step = (size_t)data[0] + 1;
    outcome cut = feed(data + 1, size - 1, step);
    outcome whole = feed(data + 1, size - 1, size);
    /* Past a megabyte, where the limit strikes may depend on the reads. */
    if (size < (1u << 20) &&
        (cut.complete != whole.complete || cut.refused != whole.refused ||
         cut.status != whole.status || cut.body_len != whole.body_len ||
         (cut.complete && memcmp(cut.body, whole.body, cut.body_len) != 0))) {
        fprintf(stderr, "reads of %zu: complete %d refused %d status %d body %zu; one read: "
                        "complete %d refused %d status %d body %zu\n",
                step, cut.complete, cut.refused, cut.status, cut.body_len, whole.complete,
                whole.refused, whole.status, whole.body_len);
        fuzz_broken("cli_h1_answer", "the verdict depends on how the answer was cut");
    }
    free(cut.body);
    free(whole.body);
    return 0;
}
