/* options.c: the options of `dynhc resolve` and `dynhc validate`, parsed by
 * hand so that every message is ours and the same on every platform. */
#include "cli.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    OPT_HELP
} option_id;

typedef struct option_spec {
    const char *name;
    option_id id;
    int takes_value;
} option_spec;

static const option_spec option_table[] = {
    {"--model-type", OPT_MODEL_TYPE, 1},
    {"--level", OPT_LEVEL, 1},
    {"--config", OPT_CONFIG, 1},
    {"--payload", OPT_PAYLOAD, 1},
    {"--bos-token-id", OPT_BOS_TOKEN_ID, 1},
    {"--marker-key", OPT_MARKER_KEY, 1},
    {"--no-marker", OPT_NO_MARKER, 0},
    {"--strict", OPT_STRICT, 0},
    {"--explain", OPT_EXPLAIN, 0},
    {"--compact", OPT_COMPACT, 0},
    {"--help", OPT_HELP, 0},
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

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    fputs("Try 'dynhc --help'.\n", stderr);
}

const char *cli_quote(char *buf, size_t size, const char *value)
{
    /* Room kept at the end for "...", the closing quote and the NUL. */
    const size_t reserve = 5;
    size_t n = 0;
    buf[n++] = '\'';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        char piece[8];
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(piece, sizeof(piece), "\\x%02x", (unsigned)*p);
        } else {
            piece[0] = (char)*p;
            piece[1] = '\0';
        }
        size_t len = strlen(piece);
        if (n + len + reserve > size) {
            /* Never cut a UTF-8 sequence in half. */
            while (n > 1 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80) {
                n--;
            }
            if (n > 1 && ((unsigned char)buf[n - 1] & 0xC0) == 0xC0) {
                n--;
            }
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        memcpy(buf + n, piece, len);
        n += len;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
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

static void store(cli_options *opts, option_id id, const char *value)
{
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
    }
}

int cli_parse_options(int argc, char **argv, cli_options *opts)
{
    char quoted[160];
    memset(opts, 0, sizeof(*opts));
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
            cli_usage_error("unknown option %s",
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
        store(opts, spec->id, value);
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
    return CLI_EXIT_OK;
}

/* A non-negative decimal integer, digits only: no sign, no spaces. */
static int parse_token_id(const char *s, long long *out)
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
    return NULL;
}

int cli_apply_options(const cli_options *opts, dynhc_resolver *r)
{
    char quoted[160];
    int rc;
    if (opts->model_type != NULL) {
        rc = dynhc_resolver_set_model_type(r, opts->model_type);
        if (rc == DYNHC_ERR_UNKNOWN_MODEL_TYPE) {
            cli_usage_error("unknown model type %s (expected generate, chat, embedding or tokens)",
                            cli_quote(quoted, sizeof(quoted), opts->model_type));
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            return library_failure("--model-type", rc);
        }
    }
    if (opts->level != NULL) {
        rc = dynhc_resolver_set_level(r, opts->level);
        if (rc == DYNHC_ERR_UNKNOWN_LEVEL) {
            cli_usage_error("unknown level %s (expected minimal, standard or comprehensive)",
                            cli_quote(quoted, sizeof(quoted), opts->level));
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            return library_failure("--level", rc);
        }
    }
    if (opts->bos_token_id != NULL) {
        long long id = 0;
        if (parse_token_id(opts->bos_token_id, &id) != 0) {
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
    if (opts->payload != NULL) {
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
    return CLI_EXIT_OK;
}
