/* fleet_options.c: the options of watch that make it run a fleet (SPEC 6):
 * target files, the shard, the spread and jitter of checks, what /health
 * names, and how many lines about single targets the log takes. Apart from
 * options.c so that each reads in one sitting. */
#include "cli.h"
#ifdef DYNHC_CLI_HAVE_CARES
#include "dns.h"
#endif

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More shards than this is a slip, not a fleet. */
#define MAX_SHARDS 1000000

/* --shard I/N: 0 <= I < N. */
static int parse_shard(cli_options *opts, const char *value)
{
    char quoted[160], text[32];
    long long index = -1, count = -1;
    const char *slash = strchr(value, '/');
    size_t len = slash != NULL ? (size_t)(slash - value) : 0;
    if (slash != NULL && len < sizeof(text)) {
        memcpy(text, value, len);
        text[len] = '\0';
        if (cli_parse_unsigned(text, &index) != 0 || cli_parse_unsigned(slash + 1, &count) != 0) {
            index = count = -1;
        }
    }
    const char *why = count < 0                 ? "expected I/N, two whole numbers: 0/3, 1/3, 2/3"
                      : count == 0              ? "the number of shards N must be at least 1"
                      : count > MAX_SHARDS      ? "the number of shards N is at most 1000000"
                      : index >= count          ? "the shard index I counts from 0 and is below N"
                                                : NULL;
    if (why != NULL) {
        cli_usage_error("--shard %s: %s", cli_quote(quoted, sizeof(quoted), value), why);
        return CLI_EXIT_USAGE;
    }
    opts->shard_index = (unsigned)index;
    opts->shard_count = (unsigned)count;
    return CLI_EXIT_OK;
}

/* --jitter F: a decimal fraction, 0 <= F < 1. */
static int parse_jitter(cli_options *opts, const char *value)
{
    char quoted[160];
    char *end = NULL;
    double f = value[0] >= '0' && value[0] <= '9' ? strtod(value, &end) : -1;
    if (end == NULL || *end != '\0' || !(f >= 0 && f < 1)) {
        cli_usage_error("--jitter %s: expected a fraction of the interval from 0 to below 1 "
                        "(0.1: each interval drawn within 10%% of it)",
                        cli_quote(quoted, sizeof(quoted), value));
        return CLI_EXIT_USAGE;
    }
    opts->jitter = f;
    opts->jitter_set = 1;
    return CLI_EXIT_OK;
}

/* --log-limit N/D: at most N lines about single targets per duration D;
 * 0 (or 0/D): no limit. */
static int parse_log_limit(cli_options *opts, const char *value)
{
    char quoted[160], text[32];
    long long burst = -1;
    uint64_t period_ns = 0;
    const char *slash = strchr(value, '/');
    size_t len = slash != NULL ? (size_t)(slash - value) : strlen(value);
    if (len < sizeof(text)) {
        memcpy(text, value, len);
        text[len] = '\0';
        if (cli_parse_unsigned(text, &burst) != 0 || burst > UINT_MAX) {
            burst = -1;
        }
    }
    if (burst != 0 &&
        (burst < 0 || slash == NULL || dynhc_parse_duration(slash + 1, &period_ns) != DYNHC_OK)) {
        cli_usage_error("--log-limit %s: expected N/D, at most N lines about single targets per "
                        "duration D up to 24 h (20/10s), or 0 for no limit",
                        cli_quote(quoted, sizeof(quoted), value));
        return CLI_EXIT_USAGE;
    }
    opts->log_burst = (unsigned)burst;
    opts->log_period_ns = period_ns;
    opts->log_limit_set = 1;
    return CLI_EXIT_OK;
}

static int parse_status_endpoints(cli_options *opts, const char *value)
{
    static const char *const names[] = {"auto", "all", "failing", "none"};
    char quoted[160];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(value, names[i]) == 0) {
            opts->status_endpoints = (cli_status_endpoints)i;
            return CLI_EXIT_OK;
        }
    }
    cli_usage_error("--status-endpoints %s: expected auto, all, failing or none",
                    cli_quote(quoted, sizeof(quoted), value));
    return CLI_EXIT_USAGE;
}

/* --dns NAME:PORT or an SRV name, checked now so that a slip is a usage error. */
static int add_dns_name(cli_options *opts, const char *value)
{
    char quoted[160];
#ifdef DYNHC_CLI_HAVE_CARES
    char why[160];
    cli_dns_name name;
    if (cli_dns_parse(value, &name, why, sizeof(why)) != 0) {
        cli_usage_error("--dns %s: expected %s", cli_quote(quoted, sizeof(quoted), value), why);
        return CLI_EXIT_USAGE;
    }
    return cli_list_append(&opts->dns_names, &opts->dns_name_count, opts->list_capacity, value);
#else
    cli_usage_error("--dns %s: this dynhc was built without c-ares: no DNS discovery",
                    cli_quote(quoted, sizeof(quoted), value));
    return CLI_EXIT_USAGE;
#endif
}

int cli_store_fleet_option(cli_options *opts, const char *name, const char *value)
{
    if (strcmp(name, "--dns") == 0) {
        return add_dns_name(opts, value);
    }
    if (strcmp(name, "--dns-refresh") == 0) {
        return cli_parse_duration("--dns-refresh", value, &opts->dns_refresh_ns);
    }
    if (strcmp(name, "--dns-server") == 0) {
        opts->dns_server = value;
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--targets") == 0) {
        if (value[0] == '\0') {
            cli_usage_error("--targets needs a non-empty file name");
            return CLI_EXIT_USAGE;
        }
        return cli_list_append(&opts->target_files, &opts->target_file_count, opts->list_capacity,
                               value);
    }
    if (strcmp(name, "--shard") == 0) {
        return parse_shard(opts, value);
    }
    if (strcmp(name, "--spread") == 0) {
        opts->spread_set = 1;
        opts->spread_ns = 0; /* 0 turns the spread off: every target is checked at once */
        return strcmp(value, "0") == 0 ? CLI_EXIT_OK
                                       : cli_parse_duration("--spread", value, &opts->spread_ns);
    }
    if (strcmp(name, "--jitter") == 0) {
        return parse_jitter(opts, value);
    }
    if (strcmp(name, "--log-limit") == 0) {
        return parse_log_limit(opts, value);
    }
    return parse_status_endpoints(opts, value);
}
