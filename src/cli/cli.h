/* cli.h: what the parts of the dynhc command-line tool share. Internal to
 * the tool: it uses only the public API of the library. */
#ifndef DYNHC_CLI_H
#define DYNHC_CLI_H

#include <stdint.h>

#include <dynhc/dynhc.h>

/* Exit statuses of SPEC 2. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_DISABLED = 3
};

#if defined(__GNUC__)
#define CLI_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CLI_PRINTF(fmt_index, first_arg)
#endif

/* The commands an option belongs to (a mask): validate takes the options of
 * resolve. */
typedef enum cli_command {
    CLI_RESOLVE = 1 << 0,
    CLI_PROBE = 1 << 1,
    CLI_WATCH = 1 << 2
} cli_command;

/* The most --url a watch takes: a sidecar watches a handful of servers. */
#define CLI_MAX_URLS 64

/* The most --header a command line takes (a header file takes any number). */
#define CLI_MAX_HEADERS 64

/* The options of every command. Strings are borrowed from argv; NULL means
 * "not given". */
typedef struct cli_options {
    const char *model_type;
    const char *level;
    const char *config;
    const char *payload;
    const char *bos_token_id;
    const char *marker_key;
    int no_marker;
    int strict;
    int explain;
    int compact;
    int help;
    /* probe and watch */
    const char *urls[CLI_MAX_URLS];
    size_t url_count;
    const char *model;
    uint64_t timeout_ns; /* 0: not given */
    /* what every request carries (secrets.c) */
    const char *headers[CLI_MAX_HEADERS];
    size_t header_count;
    const char *header_file;
    const char *bearer_token_file;
    const char *cacert;
    const char *cert;
    const char *key;
    int insecure;
    /* watch */
    uint64_t interval_ns; /* 0: not given */
    const char *host;
    int port; /* -1: not given */
    /* watch: the targets' own metrics (scrape.h) */
    const char *metrics_url;    /* NULL: the --url's /metrics */
    const char *running_metric; /* NULL: vLLM's */
    const char *tokens_metric;  /* NULL: vLLM's */
    uint64_t stall_ns;          /* 0: not given */
    int no_metrics;
} cli_options;

/*
 * Parses the arguments after the name of command (a cli_command). Stops at
 * --help (opts->help set). Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after
 * printing the error.
 */
int cli_parse_options(int command, int argc, char **argv, cli_options *opts);

/*
 * Hands the parsed options to the resolver. Returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE (a value the library rejects) / CLI_EXIT_ERROR (anything
 * else) after printing the error.
 */
int cli_apply_options(const cli_options *opts, dynhc_resolver *r);

/* Prints the help of command ("resolve", "watch"...), or the whole help
 * when NULL, on stdout; returns the exit status. */
int cli_print_usage(const char *command);

/* The candidate closest to word (a slip of a letter or two: edit distance
 * at most 2, and less than half of word), or NULL: for "did you mean". */
const char *cli_closest(const char *word, const char *const *candidates, size_t count);

/*
 * Resolves the payload as the options say and prints the diagnostics (and,
 * with --explain, the provenance) on stderr; validating resolves strictly
 * and checks every setting. Returns CLI_EXIT_OK with *out set to a result of
 * any status (free it) and *problems to its number of diagnostics, or
 * another exit status after printing why.
 */
int cli_resolve(const cli_options *opts, int validating, dynhc_result **out, size_t *problems);

/*
 * The exit status of a resolution that should give a payload:
 * CLI_EXIT_OK, CLI_EXIT_DISABLED (after saying on stderr which setting
 * disabled payloads, and the consequence, e.g. "nothing to send"), or
 * CLI_EXIT_ERROR (with a message when the diagnostics said nothing).
 */
int cli_payload_status(const dynhc_result *res, size_t problems, const char *consequence);

/* probe and watch (SPEC 4): the commands, given the arguments after their
 * name. Without libcurl they only say so. */
int cli_probe(int argc, char **argv);
int cli_watch(int argc, char **argv);

/* "dynhc: error: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* cli_error() followed by the hint to read the usage. */
void cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/*
 * Copies a command-line value into buf for an error message: quoted, control
 * characters and bytes that are not UTF-8 escaped (\xNN) so that the message
 * stays one line of UTF-8, cut with "..." when too long. Returns buf.
 */
const char *cli_quote(char *buf, size_t size, const char *value);

/* Whether value is well-formed UTF-8 (cli_quote escapes the bytes that are not). */
int cli_is_utf8(const char *value);

/*
 * Reads fd to its end into a new NUL-terminated buffer *text (free() it) of
 * *len bytes (NUL bytes inside are kept). Returns 0, EFBIG when there are
 * more than max bytes, ENOMEM, or the errno of a failed read.
 */
int cli_read_fd(int fd, size_t max, char **text, size_t *len);

/*
 * Opens path for reading, which must be a regular file (a FIFO never blocks
 * the open). Returns the descriptor (close it), or -1 after an error naming
 * option and path.
 */
int cli_open_file(const char *option, const char *path);

/*
 * Reads the regular file at path, at most max bytes, as cli_read_fd() does.
 * Returns CLI_EXIT_OK, or CLI_EXIT_ERROR after an error naming option, path
 * and what went wrong.
 */
int cli_read_file(const char *option, const char *path, size_t max, char **text, size_t *len);

/* Writes text to stdout and flushes it. Returns CLI_EXIT_OK, or
 * CLI_EXIT_ERROR after printing why the output could not be written. */
int cli_write_stdout(const char *text);

/* The payload as the text to print, newline included: 2-space indented, or
 * the compact text of the result. NULL when out of memory. Free with free(). */
char *cli_render_payload(const dynhc_result *res, int compact);

/* Prints every diagnostic of res on stderr, one per line; returns how many. */
size_t cli_print_diags(const dynhc_result *res);

/* Prints the provenance of res on stderr, each line prefixed "dynhc: ".
 * Returns CLI_EXIT_OK or CLI_EXIT_ERROR (out of memory, after a message). */
int cli_print_explain(const dynhc_result *res);

#endif
