/* probe.c: `dynhc probe` (SPEC 4): one check, one verdict, as a Kubernetes
 * exec probe wants it: exit 0 healthy, 1 unhealthy, one line on stderr. */
#include "http.h"

#include <stdio.h>

static int probe(const cli_target *t, uint64_t timeout_ns)
{
    cli_exchange *x = cli_exchange_new(t, timeout_ns);
    if (x == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    char msg[512];
    int healthy = cli_exchange_judge(x, curl_easy_perform(cli_exchange_easy(x)), msg, sizeof(msg));
    fprintf(stderr, "dynhc: %s: %s: %s\n", healthy ? "healthy" : "unhealthy", t->shown, msg);
    cli_exchange_free(x);
    return healthy ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int cli_probe(int argc, char **argv)
{
    cli_options opts;
    int code = cli_parse_options(CLI_PROBE, argc, argv, &opts);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (opts.help) {
        return cli_print_usage("probe");
    }
    if (opts.url_count != 1) {
        cli_usage_error(opts.url_count == 0 ? "probe needs --url URL" : "probe takes one --url");
        return CLI_EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error("libcurl cannot start");
        return CLI_EXIT_ERROR;
    }
    dynhc_result *res = NULL;
    cli_http_options http;
    cli_target t;
    code = cli_resolve_payload(&opts, &res);
    if (code == CLI_EXIT_OK) {
        code = cli_http_options_init(&http, &opts);
        if (code == CLI_EXIT_OK) {
            code = cli_target_init(&t, opts.urls[0], res, opts.model, &http);
            if (code == CLI_EXIT_OK) {
                code = probe(&t, dynhc_result_timeout_ns(res));
            }
            cli_target_clear(&t);
        }
        cli_http_options_clear(&http);
    }
    dynhc_result_free(res);
    curl_global_cleanup();
    return code;
}
