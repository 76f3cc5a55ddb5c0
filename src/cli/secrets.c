/* secrets.c: the headers, bearer token and TLS options of probe and watch,
 * and the redaction that keeps credentials out of everything the tool
 * shows: endpoint names (so the status JSON, metric labels and logs),
 * messages, and what a server echoes back. */
#include "secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Header and token files hold a few lines. */
#define SECRET_FILE_MAX (64 * 1024)

int cli_secrets_add(cli_secrets *s, const char *value, size_t len)
{
    char **grown = realloc(s->items, (s->count + 1) * sizeof(*s->items));
    if (grown == NULL) {
        return -1;
    }
    s->items = grown;
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, value, len);
    copy[len] = '\0';
    s->items[s->count++] = copy;
    return 0;
}

void cli_secrets_clear(cli_secrets *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->items[i]);
    }
    free(s->items);
    s->items = NULL;
    s->count = 0;
}

/* Marks in covered (one flag per byte of the first len) every byte of
 * text that an occurrence of a secret of list covers; occurrences may
 * overlap each other, and run past len into the rest of the window. */
static void mark_secrets(const char *text, size_t window, size_t len, const cli_secrets *list,
                         unsigned char *covered)
{
    for (size_t i = 0; list != NULL && i < list->count; i++) {
        size_t n = strlen(list->items[i]);
        for (size_t at = 0; n >= CLI_SECRET_MIN && at < len && at + n <= window; at++) {
            if (memcmp(text + at, list->items[i], n) == 0) {
                memset(covered + at, 1, (at + n < len ? at + n : len) - at);
            }
        }
    }
}

static size_t longest(const cli_secrets *list)
{
    size_t most = 0;
    for (size_t i = 0; list != NULL && i < list->count; i++) {
        size_t n = strlen(list->items[i]);
        most = n > most ? n : most;
    }
    return most;
}

char *cli_scrub(const char *text, size_t limit, const cli_secrets *a, const cli_secrets *b)
{
    /* Marking before writing anything leaves no piece of a secret behind:
     * not where two overlap, not at the cut. Only the window that decides
     * the first limit bytes is searched, whatever the text's length. */
    size_t len = strnlen(text, limit);
    size_t reach = longest(a) > longest(b) ? longest(a) : longest(b);
    size_t window = strnlen(text, limit + reach);
    unsigned char *covered = calloc(len + 1, 1);
    if (covered == NULL) {
        return NULL;
    }
    mark_secrets(text, window, len, a, covered);
    mark_secrets(text, window, len, b, covered);
    size_t size = 1;
    for (size_t i = 0; i < len; i++) {
        size += !covered[i] ? 1 : i == 0 || !covered[i - 1] ? strlen(CLI_REDACTED) : 0;
    }
    char *out = malloc(size);
    size_t n = 0;
    for (size_t i = 0; out != NULL && i < len; i++) {
        if (!covered[i]) {
            out[n++] = text[i];
        } else if (i == 0 || !covered[i - 1]) {
            memcpy(out + n, CLI_REDACTED, strlen(CLI_REDACTED));
            n += strlen(CLI_REDACTED);
        }
    }
    if (out != NULL) {
        out[n] = '\0';
    }
    free(covered);
    return out;
}

/* The length of a URL scheme and its ':' at the start of url, when slashes
 * follow (as curl takes them, '\' too); else 0: "user:pw@host" has none. */
static size_t scheme_length(const char *url)
{
    size_t n = 0;
    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z'))) {
        return 0;
    }
    while (url[n] != '\0' && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789+-.",
                                     url[n]) != NULL) {
        n++;
    }
    return url[n] == ':' && (url[n + 1] == '/' || url[n + 1] == '\\') ? n + 1 : 0;
}

char *cli_redact_url(const char *url, int whole)
{
    const char *authority = url + scheme_length(url);
    authority += strspn(authority, "/\\");
    /* Where curl ends the authority; past it, an '@' is the path's. */
    size_t end = whole ? strlen(authority) : strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at == NULL) {
        return strdup(url);
    }
    size_t size = strlen(url) + strlen(CLI_REDACTED) + 1;
    char *out = malloc(size);
    if (out != NULL) {
        snprintf(out, size, "%.*s%s%s", (int)(authority - url), url, CLI_REDACTED, at);
    }
    return out;
}

/* RFC 9110 token characters: what a header name is made of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A header split into its name and its value, without the blanks around. */
typedef struct header_parts {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} header_parts;

/* Splits "Name: value" (len bytes, maybe holding NUL bytes). Returns 0, or
 * -1 with the 1-based column of the fault and why; p's name is set (not
 * empty) when the fault is in the value. */
static int split_header(const char *text, size_t len, header_parts *p, size_t *column,
                        const char **why)
{
    size_t i = 0;
    *p = (header_parts){text, 0, NULL, 0};
    while (i < len && is_tchar((unsigned char)text[i])) {
        i++;
    }
    *column = i + 1;
    if (i == len) {
        *why = "expected 'Name: value' (no ':' after the name)";
        return -1;
    }
    if (text[i] != ':') {
        *why = "invalid character in a header name: expected a token (letters, digits and "
               "!#$%&'*+-.^_`|~) followed by ':'";
        return -1;
    }
    if (i == 0) {
        *why = "empty header name";
        return -1;
    }
    p->name_len = i;
    size_t start = i + 1, end = len;
    while (start < end && (text[start] == ' ' || text[start] == '\t')) {
        start++;
    }
    while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t')) {
        end--;
    }
    for (size_t k = start; k < end; k++) {
        unsigned char c = (unsigned char)text[k];
        /* CR and LF above all: they would start a header of their own. */
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            *column = k + 1;
            *why = "control character in a header value: expected one line of text";
            return -1;
        }
    }
    p->value = text + start;
    p->value_len = end - start;
    return 0;
}

static int name_is(const header_parts *p, const char *name)
{
    return strlen(name) == p->name_len && strncasecmp(p->name, name, p->name_len) == 0;
}

/* Whether a header's name says its value is a credential. */
static int name_looks_secret(const header_parts *p)
{
    static const char *const words[] = {"auth", "token", "key", "secret", "cookie", "passw"};
    char name[128];
    size_t n = p->name_len < sizeof(name) - 1 ? p->name_len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++) {
        char c = p->name[i];
        name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    name[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(name, words[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* Why a header cannot be sent whatever its value, or NULL. */
static const char *refused(const header_parts *p)
{
    if (name_is(p, "Content-Length") || name_is(p, "Transfer-Encoding")) {
        return "is set by dynhc: it frames the payload";
    }
    return NULL;
}

/* An Authorization header besides --bearer-token-file: which one to send
 * would be a guess. path and line: where the header file has it, or NULL. */
static int authorization_conflict(const header_parts *p, const cli_options *opts,
                                  const char *path, size_t line)
{
    if (opts->bearer_token_file == NULL || !name_is(p, "Authorization")) {
        return 0;
    }
    if (path != NULL) {
        cli_usage_error("--header-file %s:%zu sets Authorization, and so does "
                        "--bearer-token-file: give one",
                        path, line);
    } else {
        cli_usage_error("--header sets Authorization, and so does --bearer-token-file: give one");
    }
    return 1;
}

/* Appends "Name: value" ("Name;" for an empty value: curl's "Name:" would
 * remove the header) to the list, and the value to the secrets when it is
 * one: the whole value, and its last word ("Basic XYZ": XYZ), which a server
 * may echo alone. Returns 0, or -1 when out of memory. */
static int add_header(cli_http_options *h, const header_parts *p, int secret)
{
    size_t size = p->name_len + p->value_len + 3;
    char *line = malloc(size);
    if (line == NULL) {
        return -1;
    }
    snprintf(line, size, "%.*s%s%.*s", (int)p->name_len, p->name, p->value_len > 0 ? ": " : ";",
             (int)p->value_len, p->value);
    struct curl_slist *list = curl_slist_append(h->headers, line);
    free(line);
    if (list == NULL) {
        return -1;
    }
    h->headers = list;
    if (!secret || p->value_len == 0) {
        return 0;
    }
    const char *last = p->value + p->value_len;
    while (last > p->value && last[-1] != ' ' && last[-1] != '\t') {
        last--;
    }
    if (cli_secrets_add(&h->secrets, p->value, p->value_len) != 0 ||
        (last > p->value &&
         cli_secrets_add(&h->secrets, last, (size_t)(p->value + p->value_len - last)) != 0)) {
        return -1;
    }
    return 0;
}

/* The --header options; never shows a value. */
static int add_option_headers(cli_http_options *h, const cli_options *opts)
{
    for (size_t i = 0; i < opts->header_count; i++) {
        header_parts p;
        size_t column = 0;
        const char *why = NULL;
        const char *arg = opts->headers[i];
        if (split_header(arg, strlen(arg), &p, &column, &why) != 0) {
            /* A name is a token, safe to show; a fault before the end of
             * one may be a token pasted without a name: none is shown. */
            if (p.name_len > 0) {
                cli_usage_error("--header '%.*s': %s (column %zu)", (int)p.name_len, p.name, why,
                                column);
            } else {
                cli_usage_error("--header: %s (column %zu of the argument, not shown: it may "
                                "hold a secret)",
                                why, column);
            }
            return CLI_EXIT_USAGE;
        }
        if ((why = refused(&p)) != NULL) {
            cli_usage_error("--header '%.*s' %s", (int)p.name_len, p.name, why);
            return CLI_EXIT_USAGE;
        }
        if (authorization_conflict(&p, opts, NULL, 0)) {
            return CLI_EXIT_USAGE;
        }
        if (add_header(h, &p, name_looks_secret(&p)) != 0) {
            cli_error("out of memory");
            return CLI_EXIT_ERROR;
        }
    }
    return CLI_EXIT_OK;
}

/* "FILE:LINE:COLUMN: error: MESSAGE", the diagnostics' format (SPEC 1.6). */
static int file_error(const char *path, size_t line, size_t column, const char *why)
{
    fprintf(stderr, "%s:%zu:%zu: error: %s\n", path, line, column, why);
    return CLI_EXIT_ERROR;
}

/* --header-file, given: "Name: value" per line; blank lines and lines starting
 * with '#' are skipped; a CR before the LF is dropped. Every value is
 * taken as a secret: the file exists to keep values out of the process
 * list. */
static int add_file_headers(cli_http_options *h, const cli_options *opts)
{
    const char *path = opts->header_file;
    char *text = NULL;
    size_t len = 0;
    int code = cli_read_file("--header-file", path, SECRET_FILE_MAX, &text, &len);
    size_t line_no = 0;
    for (size_t pos = 0; code == CLI_EXIT_OK && pos < len; line_no++) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl != NULL);
        if (line_len > 0 && line[line_len - 1] == '\r') {
            line_len--;
        }
        size_t blank = 0;
        while (blank < line_len && (line[blank] == ' ' || line[blank] == '\t')) {
            blank++;
        }
        if (blank == line_len || line[blank] == '#') {
            continue;
        }
        header_parts p;
        size_t column = 0;
        const char *why = NULL;
        if (split_header(line, line_len, &p, &column, &why) != 0) {
            code = file_error(path, line_no + 1, column, why);
        } else if ((why = refused(&p)) != NULL) {
            char message[160];
            snprintf(message, sizeof(message), "%.*s %s", (int)p.name_len, p.name, why);
            code = file_error(path, line_no + 1, 1, message);
        } else if (authorization_conflict(&p, opts, path, line_no + 1)) {
            code = CLI_EXIT_USAGE;
        } else if (add_header(h, &p, 1) != 0) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    free(text);
    return code;
}

/* --bearer-token-file, given: the token on one line (vLLM's --api-key), trailing
 * blanks and newline dropped, sent as "Authorization: Bearer TOKEN". */
static int add_bearer_token(cli_http_options *h, const cli_options *opts)
{
    char quoted[160];
    const char *path = opts->bearer_token_file;
    char *text = NULL;
    size_t len = 0;
    int code = cli_read_file("--bearer-token-file", path, SECRET_FILE_MAX, &text, &len);
    while (code == CLI_EXIT_OK && len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL) {
        len--;
    }
    if (text != NULL) {
        text[len] = '\0';
    }
    for (size_t i = 0; code == CLI_EXIT_OK && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            code = file_error(path, 2, 1, "a second line: expected the token alone");
        } else if (c < 0x20 || c == 0x7f) {
            code = file_error(path, 1, i + 1, "control character in the token");
        }
    }
    if (code == CLI_EXIT_OK && len == 0) {
        cli_error("--bearer-token-file %s: empty: expected the token (vLLM's --api-key)",
                  cli_quote(quoted, sizeof(quoted), path));
        code = CLI_EXIT_ERROR;
    }
    if (code == CLI_EXIT_OK) {
        header_parts p = {"Authorization", strlen("Authorization"), NULL, 0};
        size_t size = len + sizeof("Bearer ");
        char *value = malloc(size);
        if (value != NULL) {
            snprintf(value, size, "Bearer %s", text);
            p.value = value;
            p.value_len = size - 1;
        }
        if (value == NULL || add_header(h, &p, 1) != 0) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
        free(value);
    }
    free(text);
    return code;
}

/* dynhc's own headers, each unless a header of the operator's replaced it. */
static int add_own_headers(cli_http_options *h)
{
    static const char *const own[][2] = {{"Content-Type", "application/json"},
                                         {"Accept", "application/json"},
                                         {"Expect", ""}}; /* no 100-continue round trip */
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        int given = 0;
        for (const struct curl_slist *l = h->headers; l != NULL && !given; l = l->next) {
            size_t n = strlen(own[i][0]);
            given = strncasecmp(l->data, own[i][0], n) == 0 &&
                    (l->data[n] == ':' || l->data[n] == ';');
        }
        char line[64];
        snprintf(line, sizeof(line), "%s:%s%s", own[i][0], own[i][1][0] != '\0' ? " " : "",
                 own[i][1]);
        struct curl_slist *list = given ? h->headers : curl_slist_append(h->headers, line);
        if (list == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_ERROR;
        }
        h->headers = list;
    }
    return CLI_EXIT_OK;
}

/* The TLS files are opened once now, so that a wrong path is one clear
 * error at start rather than a failed check every interval. */
static int check_tls_files(const cli_options *opts)
{
    const char *const files[][2] = {
        {"--cacert", opts->cacert}, {"--cert", opts->cert}, {"--key", opts->key}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (files[i][1] == NULL) {
            continue;
        }
        int fd = cli_open_file(files[i][0], files[i][1]);
        if (fd < 0) {
            return CLI_EXIT_ERROR;
        }
        close(fd);
    }
    return CLI_EXIT_OK;
}

int cli_http_options_init(cli_http_options *h, const cli_options *opts)
{
    memset(h, 0, sizeof(*h));
    h->cacert = opts->cacert;
    h->cert = opts->cert;
    h->key = opts->key;
    h->insecure = opts->insecure;
    int code = add_option_headers(h, opts);
    if (code == CLI_EXIT_OK && opts->header_file != NULL) {
        code = add_file_headers(h, opts);
    }
    if (code == CLI_EXIT_OK && opts->bearer_token_file != NULL) {
        code = add_bearer_token(h, opts);
    }
    if (code == CLI_EXIT_OK) {
        code = add_own_headers(h);
    }
    if (code == CLI_EXIT_OK) {
        code = check_tls_files(opts);
    }
    return code;
}

void cli_http_options_clear(cli_http_options *h)
{
    curl_slist_free_all(h->headers);
    cli_secrets_clear(&h->secrets);
    memset(h, 0, sizeof(*h));
}
