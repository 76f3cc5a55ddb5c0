/* watch.c: `dynhc watch` (SPEC 4 and 6), a sidecar or fleet health
 * checker. One scheduler endpoint per target (fleet.c), checked every
 * interval (periodic mode: a checker sees no traffic) over a connection per
 * target kept alive (the built-in client's, h1.c, or libcurl's), all driven
 * from one epoll loop by the scheduler's deadlines: no thread per check. The status server
 * shows the outcome. SIGINT and SIGTERM stop it cleanly (exit 0) from the
 * moment the command starts; SIGHUP, or a change of a --targets file, reads
 * the targets again. */
#include "watch.h"
#ifdef DYNHC_CLI_HAVE_CARES
#include "dns.h"
#endif

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

/* The loop's wake-ups are on a grid of at most this (wait_ms() says why). */
#define WAKE_GRAIN_MAX_MS 10u

/* The first checks are spread over the interval, at most this long
 * (nanoseconds): enough to keep thousands of targets from firing in one
 * burst, short enough that a sidecar still turns ready within a second. */
#define DEFAULT_SPREAD_MAX_NS 1000000000u

/* Each interval drawn within this fraction of it: never in lock step. */
#define DEFAULT_JITTER 0.1

/* At most this many lines about single targets per period, the others
 * counted in one line: a rack going down at once is a few lines. */
#define DEFAULT_LOG_BURST 20
#define DEFAULT_LOG_PERIOD_NS 10000000000u

/* How often the --targets files are looked at for a change (ns). */
#define LOOK_EVERY_NS 1000000000u

/* Failed checks are summed up every ten intervals, 10 s to a minute apart:
 * a target's repeated failures are logged at debug level only. */
#define SUMMARY_INTERVALS 10
#define SUMMARY_MIN_NS 10000000000u
#define SUMMARY_MAX_NS 60000000000u

/* The signal handler's way into the loop: flags, and a pipe that wakes the
 * poll. */
static volatile sig_atomic_t stopping;
static volatile sig_atomic_t reloading;
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        reloading = 1;
    } else {
        stopping = 1;
    }
    /* Non-blocking: a full pipe already holds a wakeup. */
    ssize_t ignored = write(signal_pipe[1], "", 1);
    (void)ignored;
    errno = saved;
}

/* Handles SIGINT, SIGTERM and SIGHUP from now on, and ignores SIGPIPE. */
static int catch_signals(void)
{
    /* Non-blocking both ways: the loop drains what SIGHUP wrote. */
    if (pipe(signal_pipe) != 0 || fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(signal_pipe[0], F_SETFL, O_NONBLOCK) != 0) {
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
    sigaddset(&stop_signals, SIGHUP);
    return sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
                   sigaction(SIGHUP, &sa, NULL) != 0 ||
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

/* Takes c out of the list of the built-in client's scrapes, if there. */
static void unlink_scrape(watch *w, check_in_flight *c)
{
    if (!c->in_scrapes) {
        return;
    }
    if (c->scrape_prev != NULL) {
        c->scrape_prev->scrape_next = c->scrape_next;
    } else {
        w->scrapes = c->scrape_next;
    }
    if (c->scrape_next != NULL) {
        c->scrape_next->scrape_prev = c->scrape_prev;
    } else {
        w->last_scrape = c->scrape_prev;
    }
    c->in_scrapes = 0;
}

/* Takes c out of the list of checks in flight (and of scrapes). */
static void unlink_check(watch *w, check_in_flight *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->checks = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        w->last_check = c->prev;
    }
    unlink_scrape(w, c);
    c->st->check = NULL;
}

/* Starts c's exchange of kind over its target's connection. A scrape
 * joins the list that expire() ends at half the round, as libcurl's
 * scrapes end (every round has the same timeout, so the list stays in the
 * order of those deadlines). One that ends at once (the connection
 * refused) is reported before this returns, and the round may be over. */
static void start_h1(watch *w, check_in_flight *c, cli_h1_kind kind)
{
    c->native = 1;
    if (kind == CLI_H1_SCRAPE) {
        c->scrape_deadline_ns = dynhc_now_ns() + c->timeout_ns / 2;
        c->scrape_prev = w->last_scrape;
        c->scrape_next = NULL;
        if (w->last_scrape != NULL) {
            w->last_scrape->scrape_next = c;
        } else {
            w->scrapes = c;
        }
        w->last_scrape = c;
        c->in_scrapes = 1;
    }
    if (cli_h1_start(c->st->h1, kind, w->epoll_fd) == CLI_H1_ENDED) {
        watch_h1_complete(w, c);
    }
}

/* Starts c's canary with the round's timeout (expire() ends it at the
 * round's deadline, so that its failure says the timeout the operator set).
 * 0, or -1 when it cannot start; the round may be over when it ended at
 * once (start_h1()). */
static int start_canary(watch *w, check_in_flight *c)
{
    c->scraping = 0;
    if (c->st->h1 != NULL) {
        start_h1(w, c, CLI_H1_CANARY);
        return 0;
    }
    c->native = 0;
    if ((c->x = cli_exchange_new(&c->st->target, c->timeout_ns)) == NULL) {
        return -1;
    }
    CURL *easy = cli_exchange_easy(c->x);
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, c) != CURLE_OK ||
        curl_multi_add_handle(c->st->group->multi, easy) != CURLM_OK) {
        cli_exchange_free(c->x);
        c->x = NULL;
        return -1;
    }
    return 0;
}

/* Starts the round's scrape through libcurl. 0, or -1. */
static int start_curl_scrape(check_in_flight *c)
{
    server_target *st = c->st;
    /* Half the round's time, so that a canary still has the other half. */
    CURL *scrape = cli_scraper_start(st->scraper, c->timeout_ns / 2);
    if (scrape != NULL && curl_easy_setopt(scrape, CURLOPT_PRIVATE, c) == CURLE_OK &&
        curl_multi_add_handle(st->group->multi, scrape) == CURLM_OK) {
        return 0;
    }
    cli_scraper_cancel(st->scraper);
    return -1;
}

int watch_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check, void *user_data)
{
    (void)s;
    (void)ep;
    server_target *st = user_data;
    watch *w = st->w;
    if (st->check != NULL) { /* ended by the scheduler's clock before ours: gone */
        watch_drop(w, st->check);
    }
    check_in_flight *c = &st->round;
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->id = check->id;
    c->timeout_ns = check->deadline_ns - check->sent_ns;
    c->deadline_ns = check->deadline_ns;
    /* Last: every check has the same timeout, so the list stays in the
     * order of deadlines and expire() looks only at the due ones. */
    c->prev = w->last_check;
    if (w->last_check != NULL) {
        w->last_check->next = c;
    } else {
        w->checks = c;
    }
    w->last_check = c;
    st->check = c;
    /* The round starts with the metrics. */
    if (st->scraper != NULL && st->h1 != NULL && cli_h1_scrapes(st->h1)) {
        c->scraping = 1;
        start_h1(w, c, CLI_H1_SCRAPE);
        return 0;
    }
    c->scraping = st->scraper != NULL;
    if ((c->scraping ? start_curl_scrape(c) : start_canary(w, c)) != 0) {
        unlink_check(w, c);
        return -1;
    }
    return 0;
}

void watch_drop(watch *w, check_in_flight *c)
{
    unlink_check(w, c);
    if (c->native) {
        cli_h1_abort(c->st->h1);
    } else if (c->scraping) {
        curl_multi_remove_handle(c->st->group->multi, cli_scraper_handle(c->st->scraper));
        cli_scraper_cancel(c->st->scraper);
    } else {
        curl_multi_remove_handle(c->st->group->multi, cli_exchange_easy(c->x));
        cli_exchange_free(c->x);
        c->x = NULL;
    }
}

/* A scrape's verdict at now: reports the round, or starts its canary,
 * which expire() stops at the round's deadline. Returns 1 when the round
 * goes on (the canary started; it may be over already, start_canary()
 * says why). */
static int scraped(watch *w, check_in_flight *c, cli_scrape_verdict verdict, const char *msg,
                   uint64_t now)
{
    if (verdict == CLI_SCRAPE_CANARY && now < c->deadline_ns && start_canary(w, c) == 0) {
        return 1;
    }
    dynhc_check_result result = DYNHC_CHECK_FAILURE;
    const char *why = msg;
    if (verdict == CLI_SCRAPE_PROGRESS || verdict == CLI_SCRAPE_BUSY) {
        /* Busy and making progress (or within the stall threshold): a
         * canary would only queue behind the requests. */
        result = DYNHC_CHECK_SUCCESS;
        why = NULL;
    } else if (verdict == CLI_SCRAPE_CANARY && now < c->deadline_ns) {
        why = "the canary could not start";
    } else if (verdict == CLI_SCRAPE_CANARY) {
        result = DYNHC_CHECK_TIMEOUT;
        why = "timeout: reading the metrics took the whole round";
    }
    dynhc_sched_complete(w->sched, c->id, result, why);
    w->failed_checks += result != DYNHC_CHECK_SUCCESS;
    return 0;
}

/* Reports c's canary, healthy or not (msg says why): the round is over. */
static void report(watch *w, check_in_flight *c, int healthy, int timed_out, const char *msg)
{
    dynhc_check_result result = healthy     ? DYNHC_CHECK_SUCCESS
                                : timed_out ? DYNHC_CHECK_TIMEOUT
                                            : DYNHC_CHECK_FAILURE;
    /* The scheduler logs a failure with msg as its reason. */
    dynhc_sched_complete(w->sched, c->id, result, healthy ? NULL : msg);
    w->failed_checks += !healthy;
    watch_drop(w, c);
}

/* The built-in client's scrape ended (failure: why it got no answer, or
 * NULL): its verdict, and the round goes on or ends. */
static void h1_scraped(watch *w, check_in_flight *c, const char *failure)
{
    char msg[512];
    size_t len = 0;
    server_target *st = c->st;
    uint64_t now = dynhc_now_ns();
    unlink_scrape(w, c);
    const char *body = failure == NULL ? cli_h1_body(st->h1, &len) : "";
    cli_scrape_verdict verdict = cli_scraper_judge_answer(
        st->scraper, st->ep, failure, cli_h1_status(st->h1), body, now, msg, sizeof(msg));
    cli_h1_trim(st->h1);
    if (!scraped(w, c, verdict, msg, now)) {
        watch_drop(w, c);
    }
}

void watch_complete(watch *w, check_in_flight *c, CURLcode rc)
{
    char msg[512];
    if (c->native) { /* only a timeout comes here for it */
        cli_h1_abort(c->st->h1);
        if (c->scraping) {
            cli_timeout_message(c->timeout_ns / 2, msg, sizeof(msg));
            h1_scraped(w, c, msg);
            return;
        }
        cli_timeout_message(c->timeout_ns, msg, sizeof(msg));
        report(w, c, 0, 1, msg);
        return;
    }
    if (c->scraping) {
        uint64_t now = dynhc_now_ns();
        curl_multi_remove_handle(c->st->group->multi, cli_scraper_handle(c->st->scraper));
        cli_scrape_verdict verdict =
            cli_scraper_judge(c->st->scraper, c->st->ep, rc, now, msg, sizeof(msg));
        if (!scraped(w, c, verdict, msg, now)) {
            watch_drop(w, c);
        }
        return;
    }
    int healthy = cli_exchange_judge(c->x, rc, msg, sizeof(msg));
    report(w, c, healthy, rc == CURLE_OPERATION_TIMEDOUT, msg);
}

void watch_h1_complete(watch *w, check_in_flight *c)
{
    char msg[512];
    if (c->scraping) {
        h1_scraped(w, c, cli_h1_failure(c->st->h1, msg, sizeof(msg)) ? msg : NULL);
        return;
    }
    int healthy = cli_h1_judge(c->st->h1, msg, sizeof(msg));
    report(w, c, healthy, 0, msg);
}

/* Checks past their deadline time out here, just before the tick would time
 * them out itself, so that the transfer stops and the reason is ours; the
 * built-in client's scrapes, at half the round. */
static void expire(watch *w, uint64_t now)
{
    while (w->scrapes != NULL && w->scrapes->scrape_deadline_ns <= now) {
        watch_complete(w, w->scrapes, CURLE_OPERATION_TIMEDOUT);
    }
    while (w->checks != NULL && w->checks->deadline_ns <= now) {
        watch_complete(w, w->checks, CURLE_OPERATION_TIMEDOUT);
    }
}

/* How long to sleep for the scheduler: until its deadline (rounded up,
 * so that the loop never wakes early and spins), at most IDLE_WAIT_MS, and
 * on to the next multiple of grain_ms of the clock. So the checks due within
 * one grain go out together and their answers mostly come back together: a
 * fleet costs a few hundred wake-ups a second instead of two per check (the
 * context switches were the larger part of a check's CPU), for a check at
 * most one grain late. transfers_wait() wakes earlier for curl's timers. */
static int wait_ms(watch *w, uint64_t now, uint64_t grain_ms)
{
    long ms = dynhc_sched_timeout_ms(w->sched, now); /* -1: nothing scheduled */
    if (w->scrapes != NULL) { /* the built-in client's scrapes end on their own deadline */
        uint64_t at = w->scrapes->scrape_deadline_ns;
        long left = at > now ? (long)((at - now + 999999) / 1000000) : 0;
        ms = ms < 0 || left < ms ? left : ms;
    }
    if (ms < 0 || ms > IDLE_WAIT_MS) {
        return IDLE_WAIT_MS;
    }
    uint64_t now_ms = now / 1000000u;
    uint64_t wake = (now_ms + (uint64_t)ms + grain_ms - 1) / grain_ms * grain_ms;
    return (int)(wake - now_ms);
}

/* Reads the targets again on SIGHUP, or when a --targets file changed
 * (looked at once a second at most). */
static void look_at_targets(watch *w, uint64_t now, uint64_t *last_look)
{
    if (!reloading && (w->opts->target_file_count == 0 || now - *last_look < LOOK_EVERY_NS)) {
        return;
    }
    *last_look = now;
    int changed = cli_targets_changed(w->opts, w->stamps);
    if (changed || reloading) {
        reloading = 0;
        fleet_reload(w);
    }
}

#ifdef DYNHC_CLI_HAVE_CARES
/* The default time between two DNS lookups of a name: Prometheus's. */
#define DNS_REFRESH_NS (30 * 1000000000ull)

/* Starts --dns discovery, which wakes the loop through the signals' pipe. */
static int start_discovery(watch *w, const cli_options *opts)
{
    cli_dns_name *names = calloc(opts->dns_name_count, sizeof(*names));
    if (names == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    char why[160];
    for (size_t i = 0; i < opts->dns_name_count; i++) {
        (void)cli_dns_parse(opts->dns_names[i], &names[i], why, sizeof(why)); /* parsed before */
    }
    w->dns = cli_dns_start(names, opts->dns_name_count, opts->dns_server,
                           opts->dns_refresh_ns != 0 ? opts->dns_refresh_ns : DNS_REFRESH_NS,
                           signal_pipe[1], w->sched);
    free(names);
    return w->dns != NULL ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* Applies what DNS found, when it changed. */
static void take_discovered(watch *w)
{
    char **found;
    size_t count;
    if (w->dns == NULL || !cli_dns_take(w->dns, &found, &count)) {
        return;
    }
    cli_dns_free_targets(w->discovered, w->discovered_count);
    w->discovered = found;
    w->discovered_count = count;
    cli_log(w->sched, DYNHC_LOG_INFO, "DNS found %zu targets", count);
    fleet_reload(w);
}

static void stop_discovery(watch *w)
{
    cli_dns_stop(w->dns);
    cli_dns_free_targets(w->discovered, w->discovered_count);
}
#else
/* --dns is refused when parsed: nothing to start, take or stop. */
static int start_discovery(watch *w, const cli_options *opts)
{
    (void)w;
    (void)opts;
    return CLI_EXIT_USAGE;
}

static void take_discovered(watch *w)
{
    (void)w;
}

static void stop_discovery(watch *w)
{
    (void)w;
}
#endif

/* Sums up the failed checks since the last summary, when there were any. */
static void summarize(watch *w, uint64_t now, uint64_t *last, uint64_t every)
{
    if (now - *last < every) {
        return;
    }
    if (w->failed_checks > 0) {
        size_t not_ready = 0;
        for (size_t i = 0; i < w->target_count; i++) {
            not_ready += !dynhc_endpoint_is_ready(w->targets[i]->ep);
        }
        cli_log(w->sched, DYNHC_LOG_WARNING,
                "%zu of %zu targets not ready; %llu checks failed in %llu s", not_ready,
                w->target_count, (unsigned long long)w->failed_checks,
                (unsigned long long)((now - *last + 500000000u) / 1000000000u));
    }
    w->failed_checks = 0;
    *last = now;
}

static int run(watch *w, uint64_t interval_ns)
{
    /* A hundredth of the interval, 1 to 10 ms. */
    uint64_t grain_ms = interval_ns / 100 / 1000000u;
    grain_ms = grain_ms < 1 ? 1 : grain_ms > WAKE_GRAIN_MAX_MS ? WAKE_GRAIN_MAX_MS : grain_ms;
    uint64_t every = interval_ns > SUMMARY_MAX_NS / SUMMARY_INTERVALS
                         ? SUMMARY_MAX_NS
                         : interval_ns * SUMMARY_INTERVALS;
    every = every < SUMMARY_MIN_NS ? SUMMARY_MIN_NS : every;
    uint64_t last_look = dynhc_now_ns(), last_summary = last_look;
    while (!stopping) {
        uint64_t now = dynhc_now_ns();
        look_at_targets(w, now, &last_look);
        take_discovered(w);
        summarize(w, now, &last_summary, every);
        expire(w, now);
        dynhc_sched_tick(w->sched, now);
        if (transfers_wait(w, wait_ms(w, now, grain_ms)) != 0) {
            cli_error("the transfers stopped: %s", strerror(errno));
            return CLI_EXIT_ERROR;
        }
    }
    return CLI_EXIT_OK;
}

/* The scheduler: periodic, settings from the resolution (where --interval
 * and --timeout went) and the status variables; the first checks spread
 * over the interval (at most a second, so that a sidecar still turns ready
 * at once) and every interval jittered, unless --spread and --jitter say
 * otherwise; the lines about single targets limited (--log-limit). */
static int configure(watch *w, const cli_options *opts, const dynhc_result *res)
{
    uint64_t interval = dynhc_result_interval_ns(res);
    uint64_t spread = interval < DEFAULT_SPREAD_MAX_NS ? interval : DEFAULT_SPREAD_MAX_NS;
    int rc = dynhc_sched_set_mode(w->sched, DYNHC_MODE_PERIODIC);
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_apply_result(w->sched, res);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_load_env(w->sched, NULL, NULL);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_set_spread_ns(w->sched, opts->spread_set ? opts->spread_ns : spread);
    }
    if (rc == DYNHC_OK) {
        rc = dynhc_sched_set_jitter(w->sched, opts->jitter_set ? opts->jitter : DEFAULT_JITTER);
    }
    if (rc == DYNHC_OK) {
        rc = opts->log_limit_set
                 ? dynhc_sched_set_log_limit(w->sched, opts->log_burst, opts->log_period_ns)
                 : dynhc_sched_set_log_limit(w->sched, DEFAULT_LOG_BURST, DEFAULT_LOG_PERIOD_NS);
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
        cli_options_free(&opts);
        return cli_print_usage("watch");
    }
    if (opts.url_count == 0 && opts.target_file_count == 0 && opts.dns_name_count == 0) {
        cli_options_free(&opts);
        cli_usage_error("watch needs at least one --url URL, --targets FILE or --dns NAME");
        return CLI_EXIT_USAGE;
    }
    if (opts.metrics_url != NULL && (opts.url_count > 1 || opts.target_file_count > 0)) {
        if (opts.target_file_count > 0) {
            cli_usage_error("--metrics-url names the metrics of one --url, not of --targets");
        } else {
            cli_usage_error("--metrics-url names the metrics of one --url, and there are %zu",
                            opts.url_count);
        }
        cli_options_free(&opts);
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
        cli_options_free(&opts);
        cli_error("watch needs the status server; this dynhc was built without libmicrohttpd");
        return CLI_EXIT_USAGE;
    }
    raise_file_limit();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_options_free(&opts);
        cli_error("libcurl cannot start");
        return CLI_EXIT_ERROR;
    }
    watch w;
    memset(&w, 0, sizeof(w));
    w.opts = &opts;
    w.epoll_fd = -1;
    w.wake_fd = signal_pipe[0];
    dynhc_server *srv = NULL;
    cli_target_list list = {NULL, 0, 0};
    code = cli_resolve_payload(&opts, &w.payload);
    if (code == CLI_EXIT_OK) {
        code = cli_http_options_init(&w.http, &opts);
    }
    if (code == CLI_EXIT_OK) {
        w.stamps = calloc(opts.target_file_count + 1, sizeof(*w.stamps));
        if (w.stamps == NULL) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        }
    }
    if (code == CLI_EXIT_OK) {
        /* Stamped before reading: a change made meanwhile is seen next time. */
        (void)cli_targets_changed(&opts, w.stamps);
        code = cli_targets_read(&opts, NULL, 0, &list);
    }
    if (code == CLI_EXIT_OK) {
        w.sched = dynhc_sched_new();
        srv = w.sched != NULL ? dynhc_server_new(w.sched) : NULL;
        if (srv == NULL) {
            cli_error("out of memory");
            code = CLI_EXIT_ERROR;
        } else if (transfers_init(&w, signal_pipe[0]) != 0) {
            cli_error("cannot start the transfers: %s", strerror(errno));
            code = CLI_EXIT_ERROR;
        }
    }
    if (code == CLI_EXIT_OK) {
        code = configure(&w, &opts, w.payload);
    }
    if (code == CLI_EXIT_OK) {
        code = fleet_apply(&w, &list);
    }
    if (code == CLI_EXIT_OK && opts.dns_name_count > 0) {
        code = start_discovery(&w, &opts);
    }
    cli_targets_clear(&list);
    /* Stopped already: no server to start and stop again. */
    if (code == CLI_EXIT_OK && !stopping) {
        code = serve(srv, &opts);
    }
    if (code == CLI_EXIT_OK) {
        code = run(&w, dynhc_result_interval_ns(w.payload));
    }
    /* The server reads the scheduler, the checks use the endpoints' targets. */
    stop_discovery(&w);
    dynhc_server_free(srv);
    fleet_clear(&w);
    dynhc_sched_free(w.sched);
    transfers_free(&w);
    dynhc_result_free(w.payload);
    for (size_t i = 0; i < WATCH_MODEL_TYPES; i++) {
        dynhc_result_free(w.by_type[i]);
    }
    free(w.stamps);
    cli_http_options_clear(&w.http);
    cli_options_free(&opts);
    curl_global_cleanup();
    return code;
}
