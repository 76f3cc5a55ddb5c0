/* dynhc.c: the dynhc command-line tool (SPEC 2): commands and exit statuses.
 * Option parsing is in options.c, printing in output.c, probe and watch
 * (SPEC 4) in probe.c and watch.c on the HTTP code of http.c. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: dynhc COMMAND [OPTION]...\n"
    "       dynhc --help | --version\n"
    "\n"
    "Resolves the health-check payload sent to an LLM inference endpoint, and\n"
    "sends it.\n"
    "\n"
    "Commands:\n"
    "  resolve   print the resolved payload, a JSON object, on stdout\n"
    "  validate  resolve strictly and check every setting dynhc reads (scheduler\n"
    "            and status server variables too); print every problem on stderr,\n"
    "            nothing on stdout\n"
    "  probe     send the payload once to an OpenAI-compatible server and judge\n"
    "            the answer: exit 0 healthy, 1 unhealthy (a Kubernetes exec probe)\n"
    "  watch     check one or more such servers every interval and serve their\n"
    "            status over HTTP (/health, /live, /metrics): a sidecar\n"
    "  help      print this help\n"
    "\n"
    "Options of every command but help (they choose the payload):\n"
    "  --model-type T    generate (aliases completion, completions, text), chat\n"
    "                    (chat-completions), embedding (embeddings, embed) or\n"
    "                    tokens; default: the config's model_type, else generate\n"
    "  --level L         built-in default level: minimal, standard or comprehensive\n"
    "  --config FILE     the serving runtime's config file: JSON when FILE ends in\n"
    "                    .json, else YAML\n"
    "  --payload JSON    the payload to use, JSON object text\n"
    "  --payload @FILE   the payload to use, read from a JSON file\n"
    "  --bos-token-id N  beginning-of-sequence token id of the tokens defaults (1)\n"
    "  --marker-key K    mark the payload with key K instead of _health_check\n"
    "  --no-marker       do not mark the payload\n"
    "  --strict          every warning is an error\n"
    "  --explain         also tell on stderr where the payload and settings come\n"
    "                    from\n"
    "  -h, --help        print this help\n"
    "Options take their value as --opt VALUE or --opt=VALUE; -- ends the options.\n"
    "\n"
    "Option of resolve:\n"
    "  --compact         print the payload on one line\n"
    "\n"
    "Options of probe and watch:\n"
    "  --url URL         the server, http:// or https://: a base URL gets the route\n"
    "                    of the model type (/v1/completions, /v1/chat/completions,\n"
    "                    /v1/embeddings); a URL whose path ends in /completions or\n"
    "                    /embeddings is used as is. probe takes one, watch several.\n"
    "                    tokens has no such route: probe and watch refuse it\n"
    "  --model NAME      the request's \"model\" when the payload has none;\n"
    "                    default: the config's model\n"
    "  --timeout D       time a check may take (DYN_HEALTH_CHECK_REQUEST_TIMEOUT,\n"
    "                    3s); a duration: 3, 2.5, 500ms, 1m\n"
    "\n"
    "Options of watch:\n"
    "  --interval D      time between checks (DYN_HEALTH_CHECK_INTERVAL, 10s)\n"
    "  --host H          status server address (DYN_SYSTEM_HOST, 0.0.0.0)\n"
    "  --port P          status server port (DYN_SYSTEM_PORT; 0 and the default:\n"
    "                    any free port); the first line of stdout tells the URL\n"
    "\n"
    "Other options:\n"
    "  --version         print the version\n"
    "\n"
    "The payload comes from the highest source present and valid: --payload, then\n"
    "DYN_HEALTH_CHECK_PAYLOAD, then health_check_payload of the config file, then\n"
    "the built-in defaults for the model type and level.\n"
    "\n"
    "Environment:\n"
    "  DYN_HEALTH_CHECK_PAYLOAD               payload: JSON object text or @PATH\n"
    "  DYN_HEALTH_CHECK_PAYLOAD_DISABLED      true: no payload at all\n"
    "  DYN_HEALTH_CHECK_LEVEL                 built-in default level (minimal)\n"
    "  DYN_HEALTH_CHECK_ENABLED               whether checks are sent at all (true)\n"
    "  DYN_HEALTH_CHECK_INTERVAL              idle time before a check (10s)\n"
    "  DYN_CANARY_WAIT_TIME                   the same, when the one above is unset\n"
    "  DYN_HEALTH_CHECK_REQUEST_TIMEOUT       time a check may take (3s)\n"
    "  DYN_SYSTEM_STARTING_HEALTH_STATUS      status before the first check: ready\n"
    "                                         or notready (notready)\n"
    "  DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS  JSON array of the endpoints that make\n"
    "                                         the overall status\n"
    "  DYN_SYSTEM_HOST, DYN_SYSTEM_PORT       status server address (port -1 or\n"
    "                                         unset: off, 0: any free port)\n"
    "  DYN_SYSTEM_HEALTH_PATH                 status server health path (/health)\n"
    "  DYN_SYSTEM_LIVE_PATH                   status server liveness path (/live)\n"
    "\n"
    "Exit status:\n"
    "  0  the payload was printed (validate: no problem found; probe: healthy;\n"
    "     watch: stopped by SIGINT or SIGTERM)\n"
    "  1  error: strict failure, unreadable or invalid config file, output not\n"
    "     written (validate: a problem was found; probe: unhealthy)\n"
    "  2  usage error\n"
    "  3  payloads are disabled (nothing printed, nothing sent)\n";

int cli_print_usage(void)
{
    return cli_write_stdout(usage_text);
}

static int print_version(void)
{
    char line[64];
    snprintf(line, sizeof(line), "dynhc %s\n", dynhc_version());
    return cli_write_stdout(line);
}

int cli_payload_status(const dynhc_result *res, size_t problems)
{
    int status = dynhc_result_status(res);
    if (status == DYNHC_DISABLED) {
        return CLI_EXIT_DISABLED;
    }
    if (status != DYNHC_OK) {
        /* The diagnostics tell why; speak only when they are silent. */
        if (problems == 0) {
            cli_error("%s", dynhc_strerror(status));
        }
        return CLI_EXIT_ERROR;
    }
    if (dynhc_result_payload(res) == NULL) {
        cli_error("no payload was resolved");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

static int print_payload(const dynhc_result *res, size_t problems, int compact)
{
    int code = cli_payload_status(res, problems);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    char *text = cli_render_payload(res, compact);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    code = cli_write_stdout(text);
    free(text);
    return code;
}

/* Disabled payloads are a setting, not a problem: only diagnostics count. */
static int validation_status(int status, size_t problems)
{
    if (problems == 0 && status < 0) {
        cli_error("%s", dynhc_strerror(status));
        return CLI_EXIT_ERROR;
    }
    return problems == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int enable_validation(dynhc_resolver *r)
{
    int rc = dynhc_resolver_set_strict(r, 1);
    if (rc == DYNHC_OK) {
        rc = dynhc_resolver_set_check_all(r, 1);
    }
    if (rc != DYNHC_OK) {
        cli_error("%s", dynhc_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int cli_resolve(const cli_options *opts, int validating, dynhc_result **out, size_t *problems)
{
    *out = NULL;
    dynhc_resolver *r = dynhc_resolver_new();
    if (r == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    int code = cli_apply_options(opts, r);
    if (code == CLI_EXIT_OK && validating) {
        code = enable_validation(r);
    }
    dynhc_result *res = NULL;
    int status = DYNHC_OK;
    if (code == CLI_EXIT_OK) {
        status = dynhc_resolver_resolve(r, &res);
    }
    dynhc_resolver_free(r);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (res == NULL) {
        cli_error("%s", dynhc_strerror(status));
        return CLI_EXIT_ERROR;
    }
    *problems = cli_print_diags(res);
    code = opts->explain ? cli_print_explain(res) : CLI_EXIT_OK;
    if (code != CLI_EXIT_OK) {
        dynhc_result_free(res);
        return code;
    }
    *out = res;
    return CLI_EXIT_OK;
}

/* resolve and validate: same options, same resolution, different output. */
static int run_resolution(int argc, char **argv, int validating)
{
    cli_options opts;
    int code = cli_parse_options(CLI_RESOLVE, argc, argv, &opts);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (opts.help) {
        return cli_print_usage();
    }
    dynhc_result *res = NULL;
    size_t problems = 0;
    code = cli_resolve(&opts, validating, &res, &problems);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = validating ? validation_status(dynhc_result_status(res), problems)
                      : print_payload(res, problems, opts.compact);
    dynhc_result_free(res);
    return code;
}

static int cmd_resolve(int argc, char **argv)
{
    return run_resolution(argc, argv, 0);
}

static int cmd_validate(int argc, char **argv)
{
    return run_resolution(argc, argv, 1);
}

/* `dynhc help [anything]`: one usage text covers every command. */
static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_print_usage();
}

#ifndef DYNHC_CLI_HAVE_CURL
int cli_probe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("probe needs libcurl; this dynhc was built without it");
    return CLI_EXIT_USAGE;
}

int cli_watch(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("watch needs libcurl; this dynhc was built without it");
    return CLI_EXIT_USAGE;
}
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* gets the arguments after the name */
} command;

static const command commands[] = {
    {"resolve", cmd_resolve},
    {"validate", cmd_validate},
    {"probe", cli_probe},
    {"watch", cli_watch},
    {"help", cmd_help},
};

int main(int argc, char **argv)
{
    char quoted[160];
    if (argc < 2) {
        cli_usage_error("no command given");
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return cli_print_usage();
    }
    if (strcmp(name, "--version") == 0) {
        if (argc > 2) {
            cli_usage_error("unexpected argument %s", cli_quote(quoted, sizeof(quoted), argv[2]));
            return CLI_EXIT_USAGE;
        }
        return print_version();
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return commands[i].run(argc - 2, argv + 2);
        }
    }
    if (name[0] == '-') {
        cli_usage_error("no command given before the option %s",
                        cli_quote(quoted, sizeof(quoted), name));
    } else {
        cli_usage_error("unknown command %s", cli_quote(quoted, sizeof(quoted), name));
    }
    return CLI_EXIT_USAGE;
}
