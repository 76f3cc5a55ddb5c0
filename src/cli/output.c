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

static void put_indent(FILE *out, int depth)
{
    for (int i = 0; i < depth; i++) {
        fputs("  ", out);
    }
}

/* A JSON string, escaped the way cJSON escapes, so that keys and compact
 * text agree. */
static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20) {
                fprintf(out, "\\u%04x", (unsigned)*p);
            } else {
                fputc(*p, out);
            }
        }
    }
    fputc('"', out);
}

/* Containers one member per line, 2-space indent; empty ones as {} and [].
 * Numbers, booleans and null are printed by cJSON, as in the compact text. */
static int put_value(FILE *out, const cJSON *item, int depth)
{
    if (cJSON_IsString(item)) {
        put_string(out, item->valuestring);
        return 0;
    }
    if (!cJSON_IsObject(item) && !cJSON_IsArray(item)) {
        char *text = cJSON_PrintUnformatted(item);
        if (text == NULL) {
            return -1;
        }
        fputs(text, out);
        cJSON_free(text);
        return 0;
    }
    int is_object = cJSON_IsObject(item);
    if (item->child == NULL) {
        fputs(is_object ? "{}" : "[]", out);
        return 0;
    }
    fputs(is_object ? "{\n" : "[\n", out);
    for (const cJSON *child = item->child; child != NULL; child = child->next) {
        put_indent(out, depth + 1);
        if (is_object) {
            put_string(out, child->string);
            fputs(": ", out);
        }
        if (put_value(out, child, depth + 1) != 0) {
            return -1;
        }
        fputs(child->next != NULL ? ",\n" : "\n", out);
    }
    put_indent(out, depth);
    fputc(is_object ? '}' : ']', out);
    return 0;
}

char *cli_render_payload(const dynhc_result *res, int compact)
{
    if (compact) {
        const char *text = dynhc_result_text(res);
        size_t len = strlen(text);
        char *line = malloc(len + 2);
        if (line != NULL) {
            memcpy(line, text, len);
            line[len] = '\n';
            line[len + 1] = '\0';
        }
        return line;
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (out == NULL) {
        return NULL;
    }
    int failed = put_value(out, dynhc_result_payload(res), 0) != 0;
    fputc('\n', out);
    failed |= ferror(out) != 0;
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
