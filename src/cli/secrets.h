/* secrets.h: what probe and watch send besides the payload (headers, a
 * bearer token, TLS options) and how the secrets among them are kept out of
 * everything the tool shows. Built only with libcurl. */
#ifndef DYNHC_CLI_SECRETS_H
#define DYNHC_CLI_SECRETS_H

#include <curl/curl.h>

#include "cli.h"

/* What replaces a secret wherever it would be shown. */
#define CLI_REDACTED "REDACTED"

/* Strings that must never be shown (copies, owned). */
typedef struct cli_secrets {
    char **items;
    size_t count;
} cli_secrets;

/* Adds a copy of the len bytes at value. Returns 0, or -1 when out of memory. */
int cli_secrets_add(cli_secrets *s, const char *value, size_t len);

/* Frees the copies; s is empty again. */
void cli_secrets_clear(cli_secrets *s);

/*
 * A copy of the first limit bytes of text (the rest dropped) in which every
 * byte that belongs to a secret of a or b (either may be NULL) of at least
 * CLI_SECRET_MIN bytes is gone, each run of such bytes replaced by one
 * CLI_REDACTED; a secret cut by the limit or overlapping another goes
 * whole. Costs the limit, not the text's length: a server's 8 MiB answer is
 * cut first. NULL when out of memory. Free with free().
 */
char *cli_scrub(const char *text, size_t limit, const cli_secrets *a, const cli_secrets *b);

/* Shorter secrets are not scrubbed from free text: they cannot be told from
 * ordinary words and numbers ("1" would turn every 1 of a message). */
#define CLI_SECRET_MIN 4

/*
 * A copy of url with its user information (user:password@, or user@)
 * replaced by "REDACTED@"; any other text as given, so that a URL without
 * credentials is its own copy. The user information is what precedes the
 * last '@' of the authority, which ends, as curl parses it, at the first
 * '/', '?' or '#'; with whole, at the end of the text instead: for a URL
 * curl refused, whose password may hold any of them. NULL when out of
 * memory. Free with free().
 */
char *cli_redact_url(const char *url, int whole);

/* What every request of a probe or watch carries besides its body: the
 * headers and the TLS options; and the secrets among them. */
typedef struct cli_http_options {
    struct curl_slist *headers; /* every header to send, dynhc's own included */
    cli_secrets secrets;        /* values of the secret headers, and the token */
    const char *cacert;         /* borrowed from argv, like the three below */
    const char *cert;
    const char *key;
    int insecure;
} cli_http_options;

/*
 * Builds h from --header, --header-file, --bearer-token-file and the TLS
 * options: reads the files, checks every header name and value and that
 * the TLS files can be read. Returns CLI_EXIT_OK, CLI_EXIT_USAGE (a bad
 * --header, conflicting options) or CLI_EXIT_ERROR (a file that cannot be
 * read, or is wrong, with FILE:LINE:COLUMN) after printing why; no message
 * shows a header value or the token. Clear h with cli_http_options_clear()
 * whatever the outcome.
 */
int cli_http_options_init(cli_http_options *h, const cli_options *opts);
void cli_http_options_clear(cli_http_options *h);

#endif
