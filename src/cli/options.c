/* options.c: the options of every dynhc command, parsed by hand so that
 * every message is ours and the same on every platform. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum option_id {
    OPT_MODEL_TYPE,
    OPT_LEVEL,
    OPT_CONFIG,
    OPT_PAYLOAD,
    OPT_BOS_TOKEN_ID,
    OPT_MARKER_KEY,
    OPT_NO_MARKER,
    OPT_STRICT,
    OPT_EXPLAIN,
    OPT_COMPACT,
    OPT_HELP,
    OPT_URL,
    OPT_MODEL,
    OPT_TIMEOUT,
    OPT_HEADER,
    OPT_HEADER_FILE,
    OPT_BEARER_TOKEN_FILE,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_INSECURE,
    OPT_INTERVAL,
    OPT_HOST,
    OPT_PORT,
    OPT_METRICS_URL,
    OPT_RUNNING_METRIC,
    OPT_TOKENS_METRIC,
    OPT_STALL_TIMEOUT,
    OPT_NO_METRICS,
    OPT_LIBCURL,
    OPT_FLEET /* handled by cli_store_fleet_option() */
} option_id;

typedef struct option_spec {
    const char *name;
    option_id id;
    int takes_value;
    int commands; /* the cli_command mask of those that take it */
} option_spec;

/* Every command resolves a payload, so every one takes these. */
#define RESOLVING (CLI_RESOLVE | CLI_PROBE | CLI_WATCH)
#define SENDING (CLI_PROBE | CLI_WATCH) /* the commands that send it */

static const option_spec option_table[] = {
    {"--model-type", OPT_MODEL_TYPE, 1, RESOLVING},
    {"--level", OPT_LEVEL, 1, RESOLVING},
    {"--config", OPT_CONFIG, 1, RESOLVING},
    {"--payload", OPT_PAYLOAD, 1, RESOLVING},
    {"--bos-token-id", OPT_BOS_TOKEN_ID, 1, RESOLVING},
    {"--marker-key", OPT_MARKER_KEY, 1, RESOLVING},
    {"--no-marker", OPT_NO_MARKER, 0, RESOLVING},
    {"--strict", OPT_STRICT, 0, RESOLVING},
    {"--explain", OPT_EXPLAIN, 0, RESOLVING},
    {"--compact", OPT_COMPACT, 0, CLI_RESOLVE},
    {"--help", OPT_HELP, 0, RESOLVING},
    {"--url", OPT_URL, 1, SENDING},
    {"--model", OPT_MODEL, 1, SENDING},
    {"--timeout", OPT_TIMEOUT, 1, SENDING},
    {"--header", OPT_HEADER, 1, SENDING},
    {"--header-file", OPT_HEADER_FILE, 1, SENDING},
    {"--bearer-token-file", OPT_BEARER_TOKEN_FILE, 1, SENDING},
    {"--cacert", OPT_CACERT, 1, SENDING},
    {"--cert", OPT_CERT, 1, SENDING},
    {"--key", OPT_KEY, 1, SENDING},
    {"--insecure", OPT_INSECURE, 0, SENDING},
    {"--interval", OPT_INTERVAL, 1, CLI_WATCH},
    {"--host", OPT_HOST, 1, CLI_WATCH},
    {"--port", OPT_PORT, 1, CLI_WATCH},
    {"--metrics-url", OPT_METRICS_URL, 1, CLI_WATCH},
    {"--running-metric", OPT_RUNNING_METRIC, 1, CLI_WATCH},
    {"--tokens-metric", OPT_TOKENS_METRIC, 1, CLI_WATCH},
    {"--stall-timeout", OPT_STALL_TIMEOUT, 1, CLI_WATCH},
    {"--no-metrics", OPT_NO_METRICS, 0, CLI_WATCH},
    {"--libcurl", OPT_LIBCURL, 0, CLI_WATCH},
    {"--targets", OPT_FLEET, 1, CLI_WATCH},
    {"--shard", OPT_FLEET, 1, CLI_WATCH},
    {"--spread", OPT_FLEET, 1, CLI_WATCH},
    {"--jitter", OPT_FLEET, 1, CLI_WATCH},
    {"--status-endpoints", OPT_FLEET, 1, CLI_WATCH},
    {"--dns", OPT_FLEET, 1, CLI_WATCH},
    {"--dns-refresh", OPT_FLEET, 1, CLI_WATCH},
    {"--dns-server", OPT_FLEET, 1, CLI_WATCH},
    {"--log-limit", OPT_FLEET, 1, CLI_WATCH},
};

CLI_PRINTF(1, 0)
static void verror(const char *fmt, va_list ap)
{
    fputs("dynhc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
}

void cli_log(const dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dynhc_sched_log(s, level, line);
}

void cli_log_target(dynhc_sched *s, dynhc_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dynhc_sched_log_endpoint(s, level, line);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fputs("Try 'dynhc --help'.\n", stderr);
}

/* The length of the well-formed UTF-8 character at s (NUL-terminated): no
 * overlong form, no surrogate, nothing above U+10FFFF; 0 when there is none. */
static size_t utf8_length(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (s[0] < 0x80) {
        return 1;
    } else if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        need = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 3;
        lo = s[0] == 0xE0 ? 0xA0 : lo;
        hi = s[0] == 0xED ? 0x9F : hi;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 4;
        lo = s[0] == 0xF0 ? 0x90 : lo;
        hi = s[0] == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return need;
}

int cli_is_utf8(const char *value)
{
    const unsigned char *p = (const unsigned char *)value;
    size_t n;
    while (*p != '\0' && (n = utf8_length(p)) > 0) {
        p += n;
    }
    return *p == '\0';
}

const char *cli_quote(char *buf, size_t size, const char *value)
{
    /* Room kept at the end for "...", the closing quote and the NUL. */
    const size_t reserve = 5;
    size_t n = 0;
    buf[n++] = '\'';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0';) {
        char piece[8];
        size_t len = utf8_length(p);
        if (*p < 0x20 || *p == 0x7f || len == 0) {
            /* Control characters and bytes that are not UTF-8 are escaped, so
             * that the message stays one line of UTF-8. */
            snprintf(piece, sizeof(piece), "\\x%02x", (unsigned)*p);
            len = 1;
        } else {
            memcpy(piece, p, len); /* a whole character, never cut */
            piece[len] = '\0';
        }
        size_t width = strlen(piece);
        if (n + width + reserve > size) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        memcpy(buf + n, piece, width);
        n += width;
        p += len;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

/* Edit distance with transpositions (optimal string alignment), capped:
 * anything above limit is reported as limit + 1. */
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m, size_t limit)
{
    enum { MAX_WORD = 40 };
    if (n > MAX_WORD || m > MAX_WORD) {
        return limit + 1;
    }
    size_t d[MAX_WORD + 1][MAX_WORD + 1];
    for (size_t i = 0; i <= n; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= m; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[n][m] <= limit ? d[n][m] : limit + 1;
}

const char *cli_closest(const char *word, const char *const *candidates, size_t count)
{
    size_t len = strlen(word);
    size_t limit = len / 2 < 2 ? len / 2 : 2;
    const char *best = NULL;
    size_t best_distance = limit + 1;
    for (size_t i = 0; i < count; i++) {
        size_t d = edit_distance(word, len, candidates[i], strlen(candidates[i]), limit);
        if (d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    return best;
}

/* The option of command closest to a misspelt one, or NULL. */
static const char *closest_option(int command, const char *name, size_t len)
{
    char word[64];
    if (len >= sizeof(word)) {
        return NULL;
    }
    memcpy(word, name, len);
    word[len] = '\0';
    const char *names[sizeof(option_table) / sizeof(option_table[0])];
    size_t count = 0;
    for (size_t i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
        if (option_table[i].commands & command) {
            names[count++] = option_table[i].name;
        }
    }
    return cli_closest(word, names, count);
}

static const option_spec *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
        if (strlen(option_table[i].name) == len && memcmp(option_table[i].name, name, len) == 0) {
            return &option_table[i];
        }
    }
    return NULL;
}

/* The part of arg before any '=', quoted, for messages about the option. */
static const char *option_name(char *buf, size_t size, const char *arg, size_t len)
{
    char name[128];
    if (len >= sizeof(name)) {
        len = sizeof(name) - 1;
    }
    memcpy(name, arg, len);
    name[len] = '\0';
    return cli_quote(buf, size, name);
}

int cli_parse_unsigned(const char *s, long long *out)
{
    long long v = 0;
    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        int digit = *s - '0';
        if (v > (LLONG_MAX - digit) / 10) {
            return -1;
        }
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int cli_parse_duration(const char *option, const char *text, uint64_t *ns)
{
    char quoted[160];
    if (dynhc_parse_duration(text, ns) != DYNHC_OK) {
        cli_usage_error("%s %s: expected a duration above zero and up to 24 h: seconds (3, "
                        "2.5) or a number with one unit ms, s, m or h (500ms, 1m)",
                        option, cli_quote(quoted, sizeof(quoted), text));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_list_append(const char ***list, size_t *count, size_t capacity, const char *value)
{
    if (*list == NULL && (*list = calloc(capacity, sizeof(**list))) == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    (*list)[(*count)++] = value; /* never past capacity: one value per argument */
    return CLI_EXIT_OK;
}

void cli_options_free(cli_options *opts)
{
    if (opts->urls != opts->first_url) {
        free(opts->urls);
    }
    free(opts->target_files);
    free(opts->dns_names);
    memset(opts, 0, sizeof(*opts));
}

/* Stores one option. Returns CLI_EXIT_OK, or an exit status after the error
 * for a value that is wrong whatever the other options say. */
static int store(cli_options *opts, const option_spec *spec, const char *value)
{
    option_id id = spec->id;
    char quoted[160];
    long long port = 0;
    switch (id) {
    case OPT_MODEL_TYPE: opts->model_type = value; break;
    case OPT_LEVEL: opts->level = value; break;
    case OPT_CONFIG: opts->config = value; break;
    case OPT_PAYLOAD: opts->payload = value; break;
    case OPT_BOS_TOKEN_ID: opts->bos_token_id = value; break;
    case OPT_MARKER_KEY: opts->marker_key = value; break;
    case OPT_NO_MARKER: opts->no_marker = 1; break;
    case OPT_STRICT: opts->strict = 1; break;
    case OPT_EXPLAIN: opts->explain = 1; break;
    case OPT_COMPACT: opts->compact = 1; break;
    case OPT_HELP: opts->help = 1; break;
    case OPT_MODEL: opts->model = value; break;
    case OPT_HOST: opts->host = value; break;
    case OPT_HEADER_FILE: opts->header_file = value; break;
    case OPT_BEARER_TOKEN_FILE: opts->bearer_token_file = value; break;
    case OPT_CACERT: opts->cacert = value; break;
    case OPT_CERT: opts->cert = value; break;
    case OPT_KEY: opts->key = value; break;
    case OPT_INSECURE: opts->insecure = 1; break;
    case OPT_HEADER:
        if (opts->header_count == CLI_MAX_HEADERS) {
            cli_usage_error("at most %d --header (a --header-file takes any number)",
                            CLI_MAX_HEADERS);
            return CLI_EXIT_USAGE;
        }
        opts->headers[opts->header_count++] = value;
        break;
    case OPT_URL:
        if (opts->urls == opts->first_url) { /* probe: the first is enough */
            opts->first_url[0] = opts->url_count++ == 0 ? value : opts->first_url[0];
            break;
        }
        return cli_list_append(&opts->urls, &opts->url_count, opts->list_capacity, value);
    case OPT_FLEET: return cli_store_fleet_option(opts, spec->name, value);
    case OPT_TIMEOUT: return cli_parse_duration("--timeout", value, &opts->timeout_ns);
    case OPT_INTERVAL: return cli_parse_duration("--interval", value, &opts->interval_ns);
    case OPT_STALL_TIMEOUT:
        return cli_parse_duration("--stall-timeout", value, &opts->stall_ns);
    case OPT_METRICS_URL: opts->metrics_url = value; break;
    case OPT_RUNNING_METRIC: opts->running_metric = value; break;
    case OPT_TOKENS_METRIC: opts->tokens_metric = value; break;
    case OPT_NO_METRICS: opts->no_metrics = 1; break;
    case OPT_LIBCURL: opts->libcurl = 1; break;
    case OPT_PORT:
        if (cli_parse_unsigned(value, &port) != 0 || port > 65535) {
            cli_usage_error("--port needs a port number from 0 to 65535, not %s",
                            cli_quote(quoted, sizeof(quoted), value));
            return CLI_EXIT_USAGE;
        }
        opts->port = (int)port;
        break;
    }
    return CLI_EXIT_OK;
}

static int parse_options(int command, int argc, char **argv, cli_options *opts)
{
    char quoted[160];
    memset(opts, 0, sizeof(*opts));
    opts->port = -1;
    opts->list_capacity = argc > 0 ? (size_t)argc : 1;
    /* watch takes any number of --url; probe one, the others none. */
    opts->urls = command == CLI_WATCH ? NULL : opts->first_url;
    int i = 0;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "-h") == 0) {
            opts->help = 1;
            return CLI_EXIT_OK;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            break; /* a positional argument ("-" is one too) */
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const option_spec *spec = arg[1] == '-' ? find_option(arg, name_len) : NULL;
        if (spec == NULL) {
            const char *guess = closest_option(command, arg, name_len);
            if (guess != NULL) {
                cli_usage_error("unknown option %s (did you mean '%s'?)",
                                option_name(quoted, sizeof(quoted), arg, name_len), guess);
            } else {
                cli_usage_error("unknown option %s",
                                option_name(quoted, sizeof(quoted), arg, name_len));
            }
            return CLI_EXIT_USAGE;
        }
        if ((spec->commands & command) == 0) {
            cli_usage_error("option %s does not apply to this command",
                            option_name(quoted, sizeof(quoted), arg, name_len));
            return CLI_EXIT_USAGE;
        }
        const char *value = NULL;
        if (spec->takes_value) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                cli_usage_error("option '%s' needs a value", spec->name);
                return CLI_EXIT_USAGE;
            }
        } else if (eq != NULL) {
            cli_usage_error("option '%s' takes no value", spec->name);
            return CLI_EXIT_USAGE;
        }
        int code = store(opts, spec, value);
        if (code != CLI_EXIT_OK) {
            return code;
        }
        if (opts->help) {
            return CLI_EXIT_OK;
        }
    }
    if (i < argc) {
        cli_usage_error("unexpected argument %s", cli_quote(quoted, sizeof(quoted), argv[i]));
        return CLI_EXIT_USAGE;
    }
    if (opts->marker_key != NULL && opts->no_marker) {
        cli_usage_error("--marker-key and --no-marker cannot be used together");
        return CLI_EXIT_USAGE;
    }
    if (opts->key != NULL && opts->cert == NULL) {
        cli_usage_error("--key needs --cert: it is the private key of a client certificate");
        return CLI_EXIT_USAGE;
    }
    if (opts->insecure && opts->cacert != NULL) {
        cli_usage_error("--insecure and --cacert cannot be used together: --insecure turns off "
                        "the verification --cacert is for");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_parse_options(int command, int argc, char **argv, cli_options *opts)
{
    int code = parse_options(command, argc, argv, opts);
    if (code != CLI_EXIT_OK) {
        cli_options_free(opts);
    }
    return code;
}

/* Payload files are limited to 1 MiB (SPEC 1.6); standard input too. */
#define MAX_PAYLOAD_BYTES (1024 * 1024)

/* `--payload @-`: the payload text from standard input, NUL-terminated in
 * *text (free it). Returns CLI_EXIT_OK or CLI_EXIT_ERROR after the error. */
static int read_stdin(char **text)
{
    size_t len = 0;
    int code = cli_read_fd(STDIN_FILENO, MAX_PAYLOAD_BYTES, text, &len);
    if (code == EFBIG) {
        cli_error("--payload @-: standard input is over 1 MiB");
    } else if (code == ENOMEM) {
        cli_error("out of memory");
    } else if (code != 0) {
        cli_error("--payload @-: cannot read standard input: %s", strerror(code));
    } else if (memchr(*text, '\0', len) != NULL) {
        cli_error("--payload @-: standard input holds a NUL byte: expected JSON text");
        free(*text);
        code = EINVAL;
    }
    return code == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* A setter failed for a reason that is not the user's value. */
static int library_failure(const char *option, int rc)
{
    cli_error("%s: %s", option, dynhc_strerror(rc));
    return CLI_EXIT_ERROR;
}

/* The option given an empty name, or NULL. An empty name is a command-line
 * slip: it would only give a "" marker key or a diagnostic without a source. */
static const char *empty_name_option(const cli_options *opts)
{
    if (opts->marker_key != NULL && opts->marker_key[0] == '\0') {
        return "--marker-key";
    }
    if (opts->config != NULL && opts->config[0] == '\0') {
        return "--config";
    }
    if (opts->payload != NULL && strcmp(opts->payload, "@") == 0) {
        return "--payload @FILE";
    }
    if (opts->model != NULL && opts->model[0] == '\0') {
        return "--model";
    }
    if (opts->host != NULL && opts->host[0] == '\0') {
        return "--host";
    }
    const char *const files[][2] = {{"--header-file", opts->header_file},
                                    {"--bearer-token-file", opts->bearer_token_file},
                                    {"--cacert", opts->cacert},
                                    {"--cert", opts->cert},
                                    {"--key", opts->key}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (files[i][1] != NULL && files[i][1][0] == '\0') {
            return files[i][0];
        }
    }
    return NULL;
}

int cli_apply_options(const cli_options *opts, dynhc_resolver *r)
{
    char quoted[160];
    int rc;
    if (opts->model_type != NULL) {
        rc = dynhc_resolver_set_model_type(r, opts->model_type);
        if (rc == DYNHC_ERR_UNKNOWN_MODEL_TYPE) {
            cli_usage_error("unknown model type %s (%sexpected generate, chat, embedding or "
                            "tokens)",
                            cli_quote(quoted, sizeof(quoted), opts->model_type),
                            cli_is_utf8(opts->model_type) ? "" : "invalid UTF-8; ");
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            return library_failure("--model-type", rc);
        }
    }
    if (opts->level != NULL) {
        rc = dynhc_resolver_set_level(r, opts->level);
        if (rc == DYNHC_ERR_UNKNOWN_LEVEL) {
            cli_usage_error("unknown level %s (%sexpected minimal, standard or comprehensive)",
                            cli_quote(quoted, sizeof(quoted), opts->level),
                            cli_is_utf8(opts->level) ? "" : "invalid UTF-8; ");
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            return library_failure("--level", rc);
        }
    }
    if (opts->bos_token_id != NULL) {
        long long id = 0;
        if (cli_parse_unsigned(opts->bos_token_id, &id) != 0) {
            cli_usage_error("--bos-token-id needs a non-negative integer, not %s",
                            cli_quote(quoted, sizeof(quoted), opts->bos_token_id));
            return CLI_EXIT_USAGE;
        }
        rc = dynhc_resolver_set_bos_token_id(r, id);
        if (rc == DYNHC_ERR_INVALID_ARG) {
            cli_usage_error("--bos-token-id %s is out of range",
                            cli_quote(quoted, sizeof(quoted), opts->bos_token_id));
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            return library_failure("--bos-token-id", rc);
        }
    }
    const char *empty = empty_name_option(opts);
    if (empty != NULL) {
        cli_usage_error("%s needs a non-empty name", empty);
        return CLI_EXIT_USAGE;
    }
    if (opts->marker_key != NULL || opts->no_marker) {
        rc = dynhc_resolver_set_marker_key(r, opts->marker_key);
        if (rc != DYNHC_OK) {
            return library_failure("--marker-key", rc);
        }
    }
    if (opts->config != NULL) {
        rc = dynhc_resolver_set_config_file(r, opts->config);
        if (rc != DYNHC_OK) {
            return library_failure("--config", rc);
        }
    }
    if (opts->payload != NULL && strcmp(opts->payload, "@-") == 0) {
        char *text = NULL;
        int code = read_stdin(&text);
        if (code != CLI_EXIT_OK) {
            return code;
        }
        rc = dynhc_resolver_set_payload(r, text);
        free(text);
        if (rc != DYNHC_OK) {
            return library_failure("--payload", rc);
        }
    } else if (opts->payload != NULL) {
        /* "@PATH" names a JSON file, as in DYN_HEALTH_CHECK_PAYLOAD. */
        rc = opts->payload[0] == '@' ? dynhc_resolver_set_payload_file(r, opts->payload + 1)
                                     : dynhc_resolver_set_payload(r, opts->payload);
        if (rc != DYNHC_OK) {
            return library_failure("--payload", rc);
        }
    }
    if (opts->strict) {
        rc = dynhc_resolver_set_strict(r, 1);
        if (rc != DYNHC_OK) {
            return library_failure("--strict", rc);
        }
    }
    /* Runtime settings: they beat the environment and the config file. */
    if (opts->timeout_ns > 0 &&
        (rc = dynhc_resolver_set_timeout_ns(r, opts->timeout_ns)) != DYNHC_OK) {
        return library_failure("--timeout", rc);
    }
    if (opts->interval_ns > 0 &&
        (rc = dynhc_resolver_set_interval_ns(r, opts->interval_ns)) != DYNHC_OK) {
        return library_failure("--interval", rc);
    }
    return CLI_EXIT_OK;
}
