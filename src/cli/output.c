/* output.c: what the tool prints. stdout carries the payload and nothing
 * else, so scripts can pipe it; everything for humans goes to stderr. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_write_stdout(const char *text)
{
    size_t len = strlen(text);
    errno = 0;
    /* Flushing here, not at exit, is what lets a full disk or a closed pipe
     * change the exit status. */
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write the output: %s", errno != 0 ? strerror(errno) : "write error");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

static void put_newline(FILE *out, int depth)
{
    fputc('\n', out);
    for (int i = 0; i < depth; i++) {
        fputs("  ", out);
    }
}

/* Re-indents the result's compact text (one member per line, 2 spaces,
 * empty containers as {} and []) so that both outputs spell every value
 * alike: numbers stay as the operator wrote them. */
static void put_pretty(FILE *out, const char *text)
{
    int depth = 0;
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputc('"', out);
            for (p++; *p != '"'; p++) {
                fputc(*p, out);
                if (*p == '\\') {
                    fputc(*++p, out); /* an escaped quote does not end the string */
                }
            }
            fputc('"', out);
            break;
        case '{':
        case '[':
            fputc(*p, out);
            if (p[1] == '}' || p[1] == ']') {
                fputc(*++p, out);
            } else {
                put_newline(out, ++depth);
            }
            break;
        case '}':
        case ']':
            put_newline(out, --depth);
            fputc(*p, out);
            break;
        case ',':
            fputc(',', out);
            put_newline(out, depth);
            break;
        case ':':
            fputs(": ", out);
            break;
        default:
            fputc(*p, out);
        }
    }
    fputc('\n', out);
}

char *cli_render_payload(const dynhc_result *res, int compact)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (out == NULL) {
        return NULL;
    }
    if (compact) {
        fprintf(out, "%s\n", dynhc_result_text(res));
    } else {
        put_pretty(out, dynhc_result_text(res));
    }
    int failed = ferror(out) != 0;
    failed |= fclose(out) != 0;
    if (failed) {
        free(buf);
        return NULL;
    }
    return buf;
}

size_t cli_print_diags(const dynhc_result *res)
{
    size_t count = dynhc_result_diag_count(res);
    for (size_t i = 0; i < count; i++) {
        const dynhc_diag *d = dynhc_result_diag(res, i);
        char line[512];
        int len = dynhc_diag_format(d, line, sizeof(line));
        if (len < 0) {
            continue;
        }
        if ((size_t)len < sizeof(line)) {
            fprintf(stderr, "%s\n", line);
            continue;
        }
        char *long_line = malloc((size_t)len + 1);
        if (long_line == NULL) {
            fprintf(stderr, "%s...\n", line); /* better cut than lost */
            continue;
        }
        dynhc_diag_format(d, long_line, (size_t)len + 1);
        fprintf(stderr, "%s\n", long_line);
        free(long_line);
    }
    return count;
}

int cli_print_explain(const dynhc_result *res)
{
    char *text = dynhc_result_explain(res);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    const char *line = text;
    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        fprintf(stderr, "dynhc: %.*s\n", (int)len, line);
        line += len;
        if (*line == '\n') {
            line++;
        }
    }
    dynhc_free(text);
    return CLI_EXIT_OK;
}
