/* cli.h: what the parts of the dynhc command-line tool share. Internal to
 * the tool: it uses only the public API of the library. */
#ifndef DYNHC_CLI_H
#define DYNHC_CLI_H

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

/* The options of `resolve` and `validate`. Strings are borrowed from argv;
 * NULL means "not given". */
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
} cli_options;

/*
 * Parses the arguments after the command name. Stops at --help (opts->help
 * set). Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing the error.
 */
int cli_parse_options(int argc, char **argv, cli_options *opts);

/*
 * Hands the parsed options to the resolver. Returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE (a value the library rejects) / CLI_EXIT_ERROR (anything
 * else) after printing the error.
 */
int cli_apply_options(const cli_options *opts, dynhc_resolver *r);

/* "dynhc: error: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* cli_error() followed by the hint to read the usage. */
void cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/*
 * Copies a command-line value into buf for an error message: quoted, control
 * characters escaped so that the message stays on one line, cut with "..."
 * when too long. Returns buf.
 */
const char *cli_quote(char *buf, size_t size, const char *value);

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
