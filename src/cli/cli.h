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

/* Which endpoints watch's /health names (--status-endpoints). */
typedef enum cli_status_endpoints {
    CLI_STATUS_AUTO = 0, /* all up to CLI_STATUS_AUTO_MAX targets, else failing */
    CLI_STATUS_ALL,
    CLI_STATUS_FAILING,
    CLI_STATUS_NONE
} cli_status_endpoints;

/* Up to this many targets /health names each by default: a sidecar's few
 * servers are named, a fleet's answer stays small. */
#define CLI_STATUS_AUTO_MAX 100

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
    /* probe and watch: url_count --url values, in order (probe keeps the
     * first alone in first_url; watch's list is allocated: free the options
     * with cli_options_free()) */
    const char **urls;
    size_t url_count;
    const char *first_url[1];
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
    int libcurl; /* no built-in client: every canary through libcurl */
    /* watch: fleets (fleet_options.c) */
    const char **target_files; /* --targets FILE, in order, allocated */
    size_t target_file_count;
    unsigned shard_index;
    unsigned shard_count; /* 0: not given */
    uint64_t spread_ns;
    int spread_set;
    double jitter;
    int jitter_set;
    cli_status_endpoints status_endpoints;
    const char **dns_names;  /* --dns NAME:PORT or SRV name, in order, allocated */
    size_t dns_name_count;
    uint64_t dns_refresh_ns; /* 0: not given */
    const char *dns_server;  /* NULL: the system's resolver configuration */
    /* --log-limit N/D: at most log_burst lines about single targets per
     * log_period_ns (0: no limit); log_limit_set 0: watch's default */
    unsigned log_burst;
    uint64_t log_period_ns;
    int log_limit_set;
    size_t list_capacity; /* the room of urls, target_files and dns_names: argc */
} cli_options;

/*
 * Parses the arguments after the name of command (a cli_command). Stops at
 * --help (opts->help set). Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after
 * printing the error.
 */
int cli_parse_options(int command, int argc, char **argv, cli_options *opts);

/* Frees what cli_parse_options() allocated (watch's lists); the options are
 * then empty. */
void cli_options_free(cli_options *opts);

/* The fleet options of watch (--targets, --shard, --spread, --jitter,
 * --status-endpoints, --dns, --dns-refresh, --dns-server, --log-limit):
 * cli_parse_options() hands each one given here, with
 * its name and value. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE / CLI_EXIT_ERROR
 * after printing the error. */
int cli_store_fleet_option(cli_options *opts, const char *name, const char *value);

/* A non-negative decimal integer, digits only: no sign, no spaces. 0, or
 * -1 (nothing printed). */
int cli_parse_unsigned(const char *s, long long *out);

/* A duration by the rules of the environment (SPEC 1.2) for option.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE after the error. */
int cli_parse_duration(const char *option, const char *text, uint64_t *ns);

/* Appends value to a list of the options sized by list_capacity, allocated
 * on first use. CLI_EXIT_OK or CLI_EXIT_ERROR (out of memory, said). */
int cli_list_append(const char ***list, size_t *count, size_t capacity, const char *value);

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

/* A line through s's log sink, as the scheduler's own go, so that DYN_LOG
 * applies (watch's reloads, summaries and scrapes: a fleet's would
 * otherwise flood the log). */
void cli_log(const dynhc_sched *s, dynhc_log_level level, const char *fmt, ...) CLI_PRINTF(3, 4);
/* The same for a line about one target: under the log limit (--log-limit),
 * so that a fleet whose metrics all fail writes a few lines, not one each. */
void cli_log_target(dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
    CLI_PRINTF(3, 4);

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
