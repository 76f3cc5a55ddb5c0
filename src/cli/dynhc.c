/* dynhc.c: the dynhc command-line tool (SPEC 2): commands and exit statuses.
 * Option parsing is in options.c, printing in output.c, probe and watch
 * (SPEC 4) in probe.c and watch.c on the HTTP code of http.c. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The help is written in parts so that each command's help shows what it
 * takes, and `dynhc --help` the whole. */
static const char general_intro[] =
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
    "  help      print this help, or a command's: dynhc help COMMAND\n"
    "\n";

static const char resolve_intro[] =
    "Usage: dynhc resolve [OPTION]...\n"
    "\n"
    "Prints the resolved health-check payload, a JSON object, on stdout and\n"
    "nothing else; diagnostics go to stderr. `dynhc validate` takes the same\n"
    "options and checks every setting strictly instead.\n"
    "\n";

static const char validate_intro[] =
    "Usage: dynhc validate [OPTION]...\n"
    "\n"
    "Resolves strictly and checks every setting dynhc reads (the scheduler's and\n"
    "the status server's variables too); prints every problem on stderr and\n"
    "nothing on stdout. Takes the options of `dynhc resolve`.\n"
    "\n";

static const char probe_intro[] =
    "Usage: dynhc probe --url URL [OPTION]...\n"
    "\n"
    "Sends the resolved payload once to an OpenAI-compatible server and judges\n"
    "the answer: exit 0 healthy, 1 unhealthy. Usable as a Kubernetes exec probe.\n"
    "A vLLM server started with --api-key KEY wants the key:\n"
    "  dynhc probe --url http://127.0.0.1:8000 --bearer-token-file /etc/vllm/key\n"
    "\n";

static const char watch_intro[] =
    "Usage: dynhc watch (--url URL | --targets FILE)... [OPTION]...\n"
    "\n"
    "Checks each server every interval and serves their status over HTTP\n"
    "(/health, /live, /metrics): a sidecar, or a fleet's health checker\n"
    "(docs/fleet.md). SIGINT or SIGTERM stops it (exit 0); SIGHUP reads the\n"
    "--targets files again.\n"
    "\n";

static const char payload_options[] =
    "Options that choose the payload (every command but help):\n"
    "  --model-type T    generate (aliases completion, completions, text), chat\n"
    "                    (chat-completions), embedding (embeddings, embed) or\n"
    "                    tokens; default: the config's model_type, else generate\n"
    "  --level L         built-in default level: minimal, standard or comprehensive\n"
    "  --config FILE     the serving runtime's config file: JSON when FILE ends in\n"
    "                    .json, else YAML\n"
    "  --payload JSON    the payload to use, JSON object text\n"
    "  --payload @FILE   the payload to use, read from a JSON file (@- reads\n"
    "                    standard input)\n"
    "  --bos-token-id N  beginning-of-sequence token id of the tokens defaults (1)\n"
    "  --marker-key K    mark the payload with key K instead of _health_check\n"
    "  --no-marker       do not mark the payload\n"
    "  --strict          every warning is an error\n"
    "  --explain         also tell on stderr where the payload and settings come\n"
    "                    from\n"
    "  -h, --help        print the help of the command\n"
    "Options take their value as --opt VALUE or --opt=VALUE; -- ends the options.\n"
    "\n";

static const char resolve_options[] =
    "Option of resolve (validate accepts and ignores it):\n"
    "  --compact         print the payload on one line\n"
    "\n";

static const char sending_options[] =
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
    "  --header 'NAME: VALUE'\n"
    "                    a header to send with every check (repeatable); the\n"
    "                    process list shows it: put secrets in a file instead\n"
    "  --header-file FILE\n"
    "                    headers to send, one 'Name: value' a line; blank lines\n"
    "                    and lines starting with # are skipped\n"
    "  --bearer-token-file FILE\n"
    "                    send 'Authorization: Bearer TOKEN', TOKEN read from\n"
    "                    FILE (vLLM's --api-key); a trailing newline is dropped\n"
    "  --cacert FILE     verify https servers against the CA certificates in\n"
    "                    FILE (PEM) instead of the system's store\n"
    "  --cert FILE       client certificate (PEM) for servers that ask for one\n"
    "  --key FILE        the private key of --cert, when not in its file\n"
    "  --insecure        do not verify the server's certificate (tests only)\n"
    "A URL's user:password is sent as basic authentication. Credentials in URLs,\n"
    "header values and the token are never shown: the URL reads\n"
    "http://REDACTED@host, messages say REDACTED.\n"
    "\n";

static const char watch_options[] =
    "Options of watch:\n"
    "  --interval D      time between checks (DYN_HEALTH_CHECK_INTERVAL, 10s)\n"
    "  --host H          status server address (DYN_SYSTEM_HOST, 0.0.0.0)\n"
    "  --port P          status server port (DYN_SYSTEM_PORT, else 8082; 0: any\n"
    "                    free port); the first line of stdout tells the URL\n"
    "  --targets FILE    more servers, from a Prometheus file_sd file (JSON when\n"
    "                    FILE ends in .json, else YAML): a list of {\"targets\":\n"
    "                    [host:port or URL...], \"labels\": {...}}; read again when\n"
    "                    it changes. Labels become metric labels; __dynhc_model_type\n"
    "                    and __dynhc_model choose the model type and name\n"
    "  --dns NAME:PORT   more servers, from DNS: one per A/AAAA address of NAME,\n"
    "                    on PORT (a Kubernetes headless service); an SRV name\n"
    "                    _SERVICE._PROTO.NAME gives one per record, on its port\n"
    "  --dns-refresh D   time between two lookups of each --dns name (30s)\n"
    "  --dns-server HOST[:PORT]  ask this DNS server (default: resolv.conf's)\n"
    "  --shard I/N       check only the targets of shard I of N (0 <= I < N): those\n"
    "                    whose URL hashes (FNV-1a 64) to I modulo N\n"
    "  --spread D        spread the first checks over D (default: the interval, at\n"
    "                    most 1s; 0: all at once)\n"
    "  --jitter F        draw each interval within F of it, 0 <= F < 1 (0.1)\n"
    "  --log-limit N/D   at most N log lines about single servers per duration D\n"
    "                    (20/10s), the others counted in one line; 0: no limit\n"
    "  --status-endpoints W  which servers /health names: all, failing (with\n"
    "                    counts), none (counts only), or auto (all up to 100\n"
    "                    targets, else failing; default); ?verbose names all\n"
    "  --metrics-url URL the server's Prometheus metrics, read at each round (one\n"
    "                    --url only, no --targets); default: the --url's host and\n"
    "                    port, /metrics\n"
    "  --running-metric NAME  requests running (vllm:num_requests_running)\n"
    "  --tokens-metric NAME   tokens generated, a counter\n"
    "                    (vllm:generation_tokens_total)\n"
    "  --stall-timeout D with requests running, time without a new token before\n"
    "                    the server is stalled (DYN_HEALTH_CHECK_STALL_TIMEOUT, off)\n"
    "  --no-metrics      canaries only: do not read the server's metrics\n"
    "  --libcurl         send every canary through libcurl (by default the\n"
    "                    built-in client sends those to http://IP:PORT servers)\n"
    "\n";

static const char version_option[] =
    "Other options:\n"
    "  -V, --version     print the version and the optional parts built in\n"
    "\n";

static const char precedence_and_environment[] =
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
    "  DYN_HEALTH_CHECK_STALL_TIMEOUT         with requests in flight, time without\n"
    "                                         progress before \"stalled\" (off)\n"
    "  DYN_SYSTEM_STARTING_HEALTH_STATUS      status before the first check: ready\n"
    "                                         or notready (notready)\n"
    "  DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS  JSON array of the endpoints that make\n"
    "                                         the overall status\n"
    "  DYN_SYSTEM_HOST, DYN_SYSTEM_PORT       status server address (port -1 or\n"
    "                                         unset: off, 0: any free port)\n"
    "  DYN_SYSTEM_HEALTH_PATH                 status server health path (/health)\n"
    "  DYN_SYSTEM_LIVE_PATH                   status server liveness path (/live)\n"
    "  DYN_LOG                                the log level of the scheduler and\n"
    "                                         status server (watch): error, warn,\n"
    "                                         info or debug (info)\n"
    "\n"
    "Exit status:\n"
    "  0  the payload was printed (validate: no problem found; probe: healthy;\n"
    "     watch: stopped by SIGINT or SIGTERM)\n"
    "  1  error: strict failure, unreadable or invalid config file, output not\n"
    "     written (validate: a problem was found; probe: unhealthy)\n"
    "  2  usage error\n"
    "  3  payloads are disabled (nothing printed, nothing sent; stderr says why)\n";

int cli_print_usage(const char *command)
{
    const char *intro = general_intro, *own = NULL, *sending = NULL, *watching = NULL;
    const char *version = NULL;
    if (command == NULL) {
        own = resolve_options;
        sending = sending_options;
        watching = watch_options;
        version = version_option;
    } else if (strcmp(command, "resolve") == 0) {
        intro = resolve_intro;
        own = resolve_options;
    } else if (strcmp(command, "validate") == 0) {
        intro = validate_intro;
        own = resolve_options;
    } else if (strcmp(command, "probe") == 0) {
        intro = probe_intro;
        sending = sending_options;
    } else if (strcmp(command, "watch") == 0) {
        intro = watch_intro;
        sending = sending_options;
        watching = watch_options;
    }
    const char *parts[] = {intro,    payload_options, own, sending, watching, version,
                           precedence_and_environment};
    /* One write, so that a failed one changes the exit status. */
    size_t total = 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        total += parts[i] != NULL ? strlen(parts[i]) : 0;
    }
    char *text = malloc(total);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    size_t len = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size_t n = parts[i] != NULL ? strlen(parts[i]) : 0;
        memcpy(text + len, parts[i] != NULL ? parts[i] : "", n);
        len += n;
    }
    text[len] = '\0';
    int status = cli_write_stdout(text);
    free(text);
    return status;
}

static int print_version(void)
{
    char text[256];
    snprintf(text, sizeof(text),
             "dynhc %s\n"
             "status server (libmicrohttpd): %s\n"
             "probe and watch (libcurl): %s\n",
             dynhc_version(), dynhc_server_supported() ? "yes" : "no",
#ifdef DYNHC_CLI_HAVE_CURL
             "yes"
#else
             "no"
#endif
    );
    return cli_write_stdout(text);
}

/* Exit status 3 alone looks like a failure: say which setting disabled the
 * payloads, as --explain words it ("(from environment VARIABLE)"). */
static void say_why_disabled(const dynhc_result *res, const char *consequence)
{
    const char *kind = dynhc_result_setting_kind(res, DYNHC_SETTING_DISABLED);
    const char *name = dynhc_result_setting_origin(res, DYNHC_SETTING_DISABLED);
    fprintf(stderr, "dynhc: health-check payloads are disabled (from %s%s%s): %s\n", kind,
            name != NULL ? " " : "", name != NULL ? name : "", consequence);
}

int cli_payload_status(const dynhc_result *res, size_t problems, const char *consequence)
{
    int status = dynhc_result_status(res);
    if (status == DYNHC_DISABLED) {
        say_why_disabled(res, consequence);
        return CLI_EXIT_DISABLED;
    }
    if (status != DYNHC_OK) {
        /* The diagnostics tell why; speak only when they are silent. */
        if (problems == 0) {
            cli_error("%s", dynhc_strerror(status));
        }
        return CLI_EXIT_ERROR;
    }
    if (dynhc_result_text(res) == NULL) {
        cli_error("no payload was resolved");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

static int print_payload(const dynhc_result *res, size_t problems, int compact)
{
    int code = cli_payload_status(res, problems, "nothing to print");
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
        return cli_print_usage(validating ? "validate" : "resolve");
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

static int cmd_help(int argc, char **argv);

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

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void unknown_command(const char *name)
{
    char quoted[160];
    const char *names[sizeof(commands) / sizeof(commands[0])];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        names[i] = commands[i].name;
    }
    const char *guess = cli_closest(name, names, sizeof(names) / sizeof(names[0]));
    if (guess != NULL) {
        cli_usage_error("unknown command %s (did you mean '%s'?)",
                        cli_quote(quoted, sizeof(quoted), name), guess);
    } else {
        cli_usage_error("unknown command %s", cli_quote(quoted, sizeof(quoted), name));
    }
}

/* `dynhc help [COMMAND]`: the whole help, or one command's. */
static int cmd_help(int argc, char **argv)
{
    char quoted[160];
    if (argc > 1) {
        cli_usage_error("unexpected argument %s", cli_quote(quoted, sizeof(quoted), argv[1]));
        return CLI_EXIT_USAGE;
    }
    if (argc == 0 || strcmp(argv[0], "help") == 0) {
        return cli_print_usage(NULL);
    }
    if (find_command(argv[0]) != NULL) {
        return cli_print_usage(argv[0]);
    }
    unknown_command(argv[0]);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    char quoted[160];
    if (argc < 2) {
        cli_usage_error("no command given");
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return cli_print_usage(NULL);
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        if (argc > 2) {
            cli_usage_error("unexpected argument %s", cli_quote(quoted, sizeof(quoted), argv[2]));
            return CLI_EXIT_USAGE;
        }
        return print_version();
    }
    const command *cmd = find_command(name);
    if (cmd != NULL) {
        return cmd->run(argc - 2, argv + 2);
    }
    if (name[0] == '-') {
        cli_usage_error("no command given before the option %s",
                        cli_quote(quoted, sizeof(quoted), name));
    } else {
        unknown_command(name);
    }
    return CLI_EXIT_USAGE;
}
