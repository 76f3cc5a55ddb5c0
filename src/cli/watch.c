/* watch.c: `dynhc watch` (SPEC 4), a sidecar health checker. One scheduler
 * endpoint per --url, checked every interval (periodic mode: a sidecar sees
 * no traffic) over one libcurl multi handle, all driven from one poll loop
 * by the scheduler's deadlines: no thread per check. The status server shows
 * the outcome. SIGINT and SIGTERM stop it cleanly (exit 0) from the moment
 * the command starts. */
#include "http.h"
#include "scrape.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The status server's port when neither --port nor DYN_SYSTEM_PORT gives
 * one: the guide's troubleshooting step is `curl http://localhost:8082/health`. */
#define WATCH_DEFAULT_PORT 8082

/* With nothing due the loop still wakes this often (milliseconds): curl
 * takes no "forever". */
#define IDLE_WAIT_MS 60000

/* The signal handler's way into the loop: a flag, and a pipe that wakes the
 * poll. */
static volatile sig_atomic_t stopping;
static int signal_pipe[2] = {-1, -1};

typedef struct check_in_flight check_in_flight;

typedef struct watch {
    dynhc_sched *sched;
    CURLM *multi;
    check_in_flight *checks;
    cli_http_options http; /* what every check carries besides its body */
} watch;

/* An endpoint's user data. */
typedef struct server_target {
    watch *w;
    cli_target target;
    cli_scraper *scraper; /* NULL: canaries only (--no-metrics) */
} server_target;

/* A round: the scrape of the server's metrics (x NULL), then, when the
 * scrape says so, the canary. */
struct check_in_flight {
    cli_exchange *x;
    server_target *st;
    uint64_t id;
    uint64_t timeout_ns;
    uint64_t deadline_ns;
    check_in_flight *next;
};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    stopping = 1;
    /* Non-blocking: a full pipe already holds a wakeup. */
    ssize_t ignored = write(signal_pipe[1], "", 1);
    (void)ignored;
    errno = saved;
}

/* Handles SIGINT and SIGTERM from now on, and ignores SIGPIPE. */
static int catch_signals(void)
{
    if (pipe(signal_pipe) != 0 || fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    /* A signal during start-up must not turn into a failed read or write. */
    sa.sa_flags = SA_RESTART;
    struct sigaction ignore = sa;
    /* A peer gone mid-write must cost a failed check, not the sidecar. */
    ignore.sa_handler = SIG_IGN;
    /* Whoever started watch may have left them blocked: one sent before
     * now is delivered as soon as they are unblocked, and handled. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    return sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
                   sigaction(SIGPIPE, &ignore, NULL) != 0 ||
                   sigprocmask(SIG_UNBLOCK, &stop_signals, NULL) != 0
               ? -1
               : 0;
}

/* The status server's connection limit follows the soft file limit: a
 * process of its own, watch takes all that it is allowed. Best effort: the
 * limit it has still works. */
static void raise_file_limit(void)
{
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &files);
    }
}

static void free_target(void *user_data)
{
    server_target *st = user_data;
    cli_target_clear(&st->target);
    cli_scraper_free(st->scraper);
    free(st);
}

/* The easy handle of c's transfer: the canary's, or the scrape's. */
static CURL *transfer_of(const check_in_flight *c)
{
    return c->x != NULL ? cli_exchange_easy(c->x) : cli_scraper_handle(c->st->scraper);
}

/* Starts c's canary with the round's timeout (expire() ends it at the
 * round's deadline, so that its failure says the timeout the operator set).
 * 0, or -1 when it cannot start. */
static int start_canary(watch *w, check_in_flight *c, uint64_t timeout_ns)
{
    if ((c->x = cli_exchange_new(&c->st->target, timeout_ns)) == NULL) {
        return -1;
    }
    CURL *easy = cli_exchange_easy(c->x);
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, c) != CURLE_OK ||
        curl_multi_add_handle(w->multi, easy) != CURLM_OK) {
        cli_exchange_free(c->x);
        c->x = NULL;
        return -1;
    }
    return 0;
}

static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    server_target *st = user_data;
    check_in_flight *c = calloc(1, sizeof(*c));
    uint64_t timeout_ns = check->deadline_ns - check->sent_ns;
    if (c == NULL) {
        return -1;
    }
    c->st = st;
    /* The round starts with the metrics, within half its time, so that a
     * canary still has the other half. */
    int started;
    if (st->scraper != NULL) {
        CURL *scrape = cli_scraper_start(st->scraper, timeout_ns / 2);
        started = scrape != NULL && curl_easy_setopt(scrape, CURLOPT_PRIVATE, c) == CURLE_OK &&
                          curl_multi_add_handle(st->w->multi, scrape) == CURLM_OK
                      ? 0
                      : -1;
    } else {
        started = start_canary(st->w, c, timeout_ns);
    }
    if (started != 0) {
        cli_scraper_cancel(st->scraper);
        free(c);
        return -1;
    }
    c->id = check->id;
    c->timeout_ns = timeout_ns;
    c->deadline_ns = check->deadline_ns;
    c->next = st->w->checks;
    st->w->checks = c;
    return 0;
}

/* Unlinks c and frees it, its transfer stopped. */
static void drop(watch *w, check_in_flight *c)
{
    check_in_flight **p = &w->checks;
    while (*p != c) {
        p = &(*p)->next;
    }
    *p = c->next;
    curl_multi_remove_handle(w->multi, transfer_of(c));
    if (c->x != NULL) {
        cli_exchange_free(c->x);
    } else {
        cli_scraper_cancel(c->st->scraper);
    }
    free(c);
}

/* A scrape ended with rc at now: judges the server by its metrics, or
 * starts the canary, which expire() stops at the round's deadline. Returns
 * 1 when the round goes on (the canary started). */
static int scraped(watch *w, check_in_flight *c, CURLcode rc, uint64_t now)
{
    char msg[512];
    curl_multi_remove_handle(w->multi, cli_scraper_handle(c->st->scraper));
    cli_scrape_verdict verdict = cli_scraper_judge(c->st->scraper, rc, now, msg, sizeof(msg));
    if (verdict == CLI_SCRAPE_STALLED) {
        dynhc_sched_complete(w->sched, c->id, DYNHC_CHECK_FAILURE, msg);
    } else if (verdict != CLI_SCRAPE_CANARY) {
        /* Busy and making progress (or within the stall threshold): a
         * canary would only queue behind the requests. */
        dynhc_sched_complete(w->sched, c->id, DYNHC_CHECK_SUCCESS, NULL);
    } else if (now < c->deadline_ns && start_canary(w, c, c->timeout_ns) == 0) {
        return 1;
    } else if (now < c->deadline_ns) {
        dynhc_sched_complete(w->sched, c->id, DYNHC_CHECK_FAILURE, "the canary could not start");
    } else {
        dynhc_sched_complete(w->sched, c->id, DYNHC_CHECK_TIMEOUT,
                             "timeout: reading the metrics took the whole round");
    }
    return 0;
}

/* Judges c's transfer, which ended with rc, and reports it. */
static void complete(watch *w, check_in_flight *c, CURLcode rc)
{
    char msg[512];
    if (c->x == NULL) {
        if (!scraped(w, c, rc, dynhc_now_ns())) {
            drop(w, c);
        }
        return;
    }
    int healthy = cli_exchange_judge(c->x, rc, msg, sizeof(msg));
    dynhc_check_result result = healthy                          ? DYNHC_CHECK_SUCCESS
                                : rc == CURLE_OPERATION_TIMEDOUT ? DYNHC_CHECK_TIMEOUT
                                                                 : DYNHC_CHECK_FAILURE;
    /* The scheduler logs a failure with msg as its reason. */
    dynhc_sched_complete(w->sched, c->id, result, healthy ? NULL : msg);
    drop(w, c);
}

/* Checks past their deadline time out here, just before the tick would time
 * them out itself, so that the transfer stops and the reason is ours. */
static void expire(watch *w, uint64_t now)
{
    check_in_flight *next;
    for (check_in_flight *c = w->checks; c != NULL; c = next) {
        next = c->next;
        if (c->deadline_ns <= now) {
            complete(w, c, CURLE_OPERATION_TIMEDOUT);
        }
    }
}

static void finish_transfers(watch *w)
{
    CURLMsg *m;
    int queued;
    while ((m = curl_multi_info_read(w->multi, &queued)) != NULL) {
        void *c = NULL;
        if (m->msg == CURLMSG_DONE &&
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c) == CURLE_OK && c != NULL) {
            complete(w, c, m->data.result);
        }
    }
}

/* How long to sleep: until the scheduler's deadline or curl's (the
 * scheduler's rounded up, so that the loop never wakes early and spins), at
 * most IDLE_WAIT_MS. */
static int wait_ms(watch *w, uint64_t now)
{
    long ms = dynhc_sched_timeout_ms(w->sched, now); /* -1: nothing scheduled */
    if (ms < 0 || ms > IDLE_WAIT_MS) {
        ms = IDLE_WAIT_MS;
    }
    long curl_ms = -1;
    if (curl_multi_timeout(w->multi, &curl_ms) == CURLM_OK && curl_ms >= 0 && curl_ms < ms) {
        ms = curl_ms;
    }
    return (int)ms;
}

static int run(watch *w)
{
    while (!stopping) {
        uint64_t now = dynhc_now_ns();
        expire(w, now);
        dynhc_sched_tick(w->sched, now);
        struct curl_waitfd wake = {signal_pipe[0], CURL_WAIT_POLLIN, 0};
        int running = 0;
        CURLMcode mc = curl_multi_poll(w->multi, &wake, 1, wait_ms(w, now), NULL);
        if (mc == CURLM_OK) {
            mc = curl_multi_perform(w->multi, &running);
        }
        if (mc != CURLM_OK) {
            cli_error("libcurl: %s", curl_multi_strerror(mc));
            return CLI_EXIT_ERROR;
        }
        finish_transfers(w);
    }
    return CLI_EXIT_OK;
}

/* One endpoint per URL, named by the URL as given, credentials redacted. */
static int add_endpoints(watch *w, const cli_options *opts, const dynhc_result *res)
{
    char quoted[160];
    const char *model = opts->model != NULL ? opts->model : dynhc_result_model_name(res);
    const dynhc_label labels[] = {{"model", model}};
    for (size_t i = 0; i < opts->url_count; i++) {
        server_target *st = calloc(1, sizeof(*st));
        if (st == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_ERROR;
        }
        st->w = w;
        int code = cli_target_init(&st->target, opts->urls[i], res, opts->model, &w->http);
        dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
        /* The name is shown everywhere (status JSON, labels, logs): no
         * credentials in it. */
        o.name = st->target.name;
        o.payload = res;
        o.labels = labels;
        o.label_count = model != NULL ? 1 : 0;
        o.send = send_check;
        o.user_data = st;
        o.destroy = free_target;
        dynhc_endpoint *ep = NULL;
        int rc = code != CLI_EXIT_OK ? DYNHC_OK : dynhc_sched_add(w->sched, &o, &ep);
        if (rc == DYNHC_ERR_INVALID_ARG) {
            /* The URL was checked: only a second one of the same name is left. */
            cli_usage_error("--url %s is given twice",
                            cli_quote(quoted, sizeof(quoted), o.name));
        }
        if (code != CLI_EXIT_OK || rc != DYNHC_OK) {
            free_target(st);
        }
        if (rc == DYNHC_ERR_INVALID_ARG) {
            return CLI_EXIT_USAGE;
        }
        if (rc != DYNHC_OK) {
            cli_error("%s", dynhc_strerror(rc));
            return CLI_EXIT_ERROR;
        }
        if (code != CLI_EXIT_OK) {
            return code;
        }
        /* The endpoint owns st from here; the scraper lives as long. */
        if (!opts->no_metrics &&
            (code = cli_scraper_new(opts->urls[i], opts->metrics_url, opts, &w->http, ep,
                                   &st->scraper)) !=
                CLI_EXIT_OK) {
            return code;
        }
    }
    return CLI_EXIT_OK;
}

/* The scheduler: periodic, settings from the resolution (where --interval
 * and --timeout went) and the status variables, first checks at once so
 * that the sidecar turns ready as soon as the servers are. */
static int configure(watch *w, const dynhc_result *res)
{
    int rc = dynhc_sched_set_mode(w->sched, DYNHC_MODE_PERIODIC);
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_apply_result(w->sched, res);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_load_env(w->sched, NULL, NULL);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_set_spread_ns(w->sched, 0);
    }
    if (rc != DYNHC_OK) {
        cli_error("%s", dynhc_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

/*
 * Starts the status server: --host and --port beat DYN_SYSTEM_HOST and
 * DYN_SYSTEM_PORT. A watch exists to serve, so a port left off (-1, unset)
 * means WATCH_DEFAULT_PORT: a pod spec needs a port it can name. Prints
 * "listening on http://HOST:PORT" as the first line of stdout.
 */
static int serve(dynhc_server *srv, const cli_options *opts)
{
    char quoted[160], address[96], line[160];
    int sys_errno = 0;
    int rc = dynhc_server_load_env(srv, NULL, NULL);
    if (rc == DYNHC_OK && opts->host != NULL &&
        dynhc_server_set_host(srv, opts->host) == DYNHC_ERR_INVALID_ARG) {
        cli_usage_error("--host %s: expected an IPv4 or IPv6 address, or localhost",
                        cli_quote(quoted, sizeof(quoted), opts->host));
        return CLI_EXIT_USAGE;
    }
    if (rc == DYNHC_OK && opts->port >= 0) {
        rc = dynhc_server_set_port(srv, opts->port);
    }
    if (rc == DYNHC_OK && (rc = dynhc_server_start(srv, &sys_errno)) == DYNHC_DISABLED &&
        (rc = dynhc_server_set_port(srv, WATCH_DEFAULT_PORT)) == DYNHC_OK) {
        rc = dynhc_server_start(srv, &sys_errno);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_server_address(srv, address, sizeof(address));
    }
    if (rc != DYNHC_OK) {
        cli_error("the status server cannot start: %s",
                  rc == DYNHC_ERR_SYSTEM ? strerror(sys_errno) : dynhc_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    snprintf(line, sizeof(line), "listening on http://%s\n", address);
    return cli_write_stdout(line);
}

int cli_watch(int argc, char **argv)
{
    /* First of all, so that a SIGTERM in the first milliseconds still ends
     * in a clean exit 0. The pipe and the handlers stay for the life of the
     * process: a late signal must still find them. */
    if (catch_signals() != 0) {
        cli_error("cannot catch signals: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    cli_options opts;
    int code = cli_parse_options(CLI_WATCH, argc, argv, &opts);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (opts.help) {
        return cli_print_usage("watch");
    }
    if (opts.url_count == 0) {
        cli_usage_error("watch needs at least one --url URL");
        return CLI_EXIT_USAGE;
    }
    if (opts.metrics_url != NULL && opts.url_count > 1) {
        cli_usage_error("--metrics-url names the metrics of one --url, and there are %zu",
                        opts.url_count);
        return CLI_EXIT_USAGE;
    }
    /* The stall threshold of the scrapes: the option, else the variable
     * (the scheduler warns about a bad value when it reads it). */
    const char *stall = getenv("DYN_HEALTH_CHECK_STALL_TIMEOUT");
    if (opts.stall_ns == 0 && stall != NULL &&
        dynhc_parse_duration(stall, &opts.stall_ns) != DYNHC_OK) {
        opts.stall_ns = 0;
    }
    if (!dynhc_server_supported()) {
        cli_error("watch needs the status server; this dynhc was built without libmicrohttpd");
        return CLI_EXIT_USAGE;
    }
    raise_file_limit();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error("libcurl cannot start");
        return CLI_EXIT_ERROR;
    }
    watch w;
    memset(&w, 0, sizeof(w));
    dynhc_server *srv = NULL;
    dynhc_result *res = NULL;
    code = cli_resolve_payload(&opts, &res);
    if (code == CLI_EXIT_OK) {
        w.sched = dynhc_sched_new();
        w.multi = curl_multi_init();
        srv = w.sched != NULL ? dynhc_server_new(w.sched) : NULL;
        if (srv == NULL || w.multi == NULL) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    if (code == CLI_EXIT_OK) {
        code = configure(&w, res);
    }
    if (code == CLI_EXIT_OK) {
        code = cli_http_options_init(&w.http, &opts);
    }
    if (code == CLI_EXIT_OK) {
        code = add_endpoints(&w, &opts, res);
    }
    /* Stopped already: no server to start and stop again. */
    if (code == CLI_EXIT_OK && !stopping) {
        code = serve(srv, &opts);
    }
    if (code == CLI_EXIT_OK) {
        code = run(&w);
    }
    /* The server reads the scheduler, the checks use the endpoints' targets. */
    dynhc_server_free(srv);
    while (w.checks != NULL) {
        drop(&w, w.checks);
    }
    dynhc_sched_free(w.sched);
    cli_http_options_clear(&w.http);
    curl_multi_cleanup(w.multi);
    dynhc_result_free(res);
    curl_global_cleanup();
    return code;
}
