/* embedded_runtime.c: a miniature serving runtime that embeds dynhc the way a
 * real worker would: the resolver picks the payload, the request path
 * reports each request's begin, tokens and end, the scheduler judges a busy
 * endpoint by its progress and an idle one by a canary, and the status
 * server shows the result to Kubernetes and Prometheus.
 *
 * The "engine" is a thread that runs a batch of requests one step at a
 * time, a token per request per step; canaries wait behind the batch, as
 * they would in a real engine. The story, in about four seconds:
 *   0.0 s  user traffic: requests stream tokens, the endpoint turns ready
 *   0.6 s  traffic stops: after 300 ms of quiet a canary goes out
 *   1.0 s  the engine saturates: a token every 150 ms, 4 long requests. A
 *          canary would wait behind them past its 200 ms timeout; none is
 *          sent, and the endpoint stays ready on its progress
 *   2.3 s  the engine wedges with requests in flight (an NCCL hang); the
 *          server still accepts requests. 500 ms without a token: not
 *          ready, "stalled"
 *   3.2 s  the engine comes back: the next token makes it ready again
 *   3.6 s  the engine hangs while idle: the next canary times out
 * It fetches its own /health at each stage, then /metrics (a few samples).
 *
 *   ./embedded_runtime [CONFIG]
 *
 * CONFIG is the runtime's own config file (examples/config.yaml in the
 * demo): the payload, model type and model name come from it as they would
 * in a worker. Its interval and timeout are overridden by the runtime (300
 * and 200 ms), and the stall threshold is 500 ms (a real one would be 30 s
 * or more: DYN_HEALTH_CHECK_STALL_TIMEOUT), so that the story fits in four
 * seconds. DYN_SYSTEM_PORT picks the status server's port; default: any
 * free one.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <dynhc/dynhc.h>

#define MS 1000000ull
#define BATCH 16

/* The engine: a batch of user requests (tokens left for each), a queue of
 * canaries behind it, the time a step takes, and a switch that hangs it. */
typedef struct engine {
    dynhc_sched *sched;
    dynhc_endpoint *ep; /* a reference: the request path's handle */
    pthread_mutex_t lock;
    pthread_cond_t work;
    unsigned tokens_left[BATCH];
    size_t active;
    uint64_t canaries[64];
    size_t head, tail;
    atomic_uint step_ms;
    atomic_int hung;
    atomic_int stop;
} engine;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One step at a time: a token for every request in the batch (the request
 * path reports it as progress), and a request that has all its tokens
 * ends. Canaries are served only when no request is in the batch. A hung
 * engine takes its steps and produces nothing. */
static void *engine_main(void *arg)
{
    engine *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!atomic_load(&e->stop)) {
        if (e->active == 0 && e->head == e->tail) {
            pthread_cond_wait(&e->work, &e->lock);
            continue;
        }
        pthread_mutex_unlock(&e->lock);
        sleep_ms(atomic_load(&e->step_ms));
        pthread_mutex_lock(&e->lock);
        if (atomic_load(&e->hung)) {
            continue;
        }
        if (e->active > 0) {
            for (size_t i = 0; i < e->active;) {
                dynhc_endpoint_record_progress(e->ep); /* a token streamed */
                if (--e->tokens_left[i] == 0) {
                    dynhc_endpoint_request_end(e->ep, 1);
                    e->tokens_left[i] = e->tokens_left[--e->active];
                } else {
                    i++;
                }
            }
            continue;
        }
        uint64_t id = e->canaries[e->head++ % 64];
        pthread_mutex_unlock(&e->lock);
        dynhc_sched_complete(e->sched, id, DYNHC_CHECK_SUCCESS, NULL);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* The API server takes a user request: begun now, in the batch (a full
 * batch turns it away, as a server under load would). */
static void submit(engine *e, unsigned tokens)
{
    pthread_mutex_lock(&e->lock);
    if (e->active < BATCH) {
        dynhc_endpoint_request_begin(e->ep);
        e->tokens_left[e->active++] = tokens;
        pthread_cond_signal(&e->work);
    }
    pthread_mutex_unlock(&e->lock);
}

/* The scheduler's send callback: hand the check to the engine like any request. */
static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    engine *e = user_data;
    printf("  canary %s: %s\n", check->endpoint, check->payload_text);
    pthread_mutex_lock(&e->lock);
    e->canaries[e->tail++ % 64] = check->id;
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

static void on_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                          void *user_data)
{
    (void)s;
    (void)ep;
    (void)user_data;
    printf("  %s is now %s\n", name != NULL ? name : "the worker", ready ? "ready" : "NOT ready");
}

/* GET http://127.0.0.1:port/path and print the answer, to show what a probe
 * sees; with only set, the lines that start with it (metric samples). */
static void show(int port, const char *path, const char *only)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char request[256];
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        write(fd, request, (size_t)n) != n) {
        perror("GET");
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    static char answer[65536];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof(answer) - 1 && (got = read(fd, answer + len, sizeof(answer) - 1 - len)) > 0) {
        len += (size_t)got;
    }
    close(fd);
    answer[len] = '\0';
    char *body = strstr(answer, "\r\n\r\n");
    char *status_end = strstr(answer, "\r\n");
    if (body == NULL || status_end == NULL) {
        printf("GET %s: no HTTP answer\n", path);
        return;
    }
    *status_end = '\0';
    body += 4;
    printf("GET %s -> %s\n", path, answer);
    for (char *line = strtok(body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (only == NULL || strncmp(line, only, strlen(only)) == 0) {
            printf("%s\n", line);
        }
    }
}

int main(int argc, char **argv)
{
    /* What to send: the config file as a worker would read it; the runtime's
     * own settings beat it and the environment. */
    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_result *payload = NULL;
    if (argc > 1) {
        dynhc_resolver_set_config_file(r, argv[1]);
    }
    dynhc_resolver_set_interval_ns(r, 300 * MS);
    dynhc_resolver_set_timeout_ns(r, 200 * MS);
    int status = dynhc_resolver_resolve(r, &payload);
    for (size_t i = 0; i < dynhc_result_diag_count(payload); i++) {
        char line[512];
        dynhc_diag_format(dynhc_result_diag(payload, i), line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    dynhc_resolver_free(r);
    if (status != DYNHC_OK) {
        fprintf(stderr, "no health-check payload: %s\n", dynhc_strerror(status));
        dynhc_result_free(payload);
        return 1;
    }
    const char *model = dynhc_result_model_name(payload);
    /* Registration logs "Health check payload for endpoint 'generate' from
     * SOURCE: JSON" on stderr (the default log sink, DYN_LOG=info). */

    engine e = {.lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};
    dynhc_sched *s = dynhc_sched_new();
    e.sched = s;
    dynhc_sched_apply_result(s, payload);
    dynhc_sched_set_spread_ns(s, 0);
    dynhc_sched_set_stall_ns(s, 500 * MS);
    dynhc_sched_load_env(s, NULL, NULL);
    dynhc_sched_set_transition_callback(s, on_transition, NULL);
    /* The model name labels the metrics, as metrics_labels=[("model", ...)]
     * does in the guide. */
    const dynhc_label labels[] = {{"model", model != NULL ? model : "unknown"}};
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = "generate";
    o.payload = payload;
    o.labels = labels;
    o.label_count = 1;
    o.send = send_check;
    o.user_data = &e;
    if (dynhc_sched_add(s, &o, NULL) != DYNHC_OK) {
        return 1;
    }
    dynhc_result_free(payload);
    /* The request path's handle: a reference, valid whatever happens to the
     * registration, released when the engine is done. */
    e.ep = dynhc_sched_find(s, "generate");
    atomic_store(&e.step_ms, 5);

    dynhc_server *srv = dynhc_server_new(s);
    if (srv == NULL) {
        fprintf(stderr, "this dynhc was built without the status server\n");
        return 1;
    }
    dynhc_server_set_host(srv, "127.0.0.1");
    dynhc_server_set_port(srv, 0);
    dynhc_server_load_env(srv, NULL, NULL);
    int sys_errno = 0;
    int rc = dynhc_server_start(srv, &sys_errno);
    if (rc != DYNHC_OK) {
        fprintf(stderr, "the status server did not start: %s\n",
                rc == DYNHC_ERR_SYSTEM ? strerror(sys_errno) : dynhc_strerror(rc));
        return 1;
    }
    int port = dynhc_server_port(srv);
    printf("status server on http://127.0.0.1:%d (/health, /live, /metrics)\n", port);

    pthread_t engine_thread;
    pthread_create(&engine_thread, NULL, engine_main, &e);
    if ((rc = dynhc_sched_start_thread(s, &sys_errno)) != DYNHC_OK) {
        fprintf(stderr, "the scheduler's thread did not start: %s\n",
                rc == DYNHC_ERR_SYSTEM ? strerror(sys_errno) : dynhc_strerror(rc));
        return 1;
    }

    printf("0.0 s: user traffic: each request begins, streams 3 tokens, ends\n");
    for (int i = 0; i < 30; i++) {
        submit(&e, 3);
        sleep_ms(20);
    }
    printf("0.6 s: traffic stops; a canary after 300 ms of quiet\n");
    sleep_ms(400);

    printf("1.0 s: the engine saturates: 4 long requests, a token every 150 ms; a canary\n"
           "       would wait behind them past its 200 ms timeout, so none is sent\n");
    atomic_store(&e.step_ms, 150);
    for (int i = 0; i < 4; i++) {
        submit(&e, 8);
    }
    sleep_ms(600);
    show(port, "/health?verbose", NULL);
    sleep_ms(700);

    printf("2.3 s: the engine wedges with requests in flight; the server still takes more\n");
    atomic_store(&e.step_ms, 5);
    atomic_store(&e.hung, 1);
    submit(&e, 3);
    submit(&e, 3);
    sleep_ms(200);
    submit(&e, 3);
    sleep_ms(500);
    show(port, "/health?verbose", NULL);
    sleep_ms(200);

    printf("3.2 s: the engine comes back: its next token makes it ready\n");
    atomic_store(&e.hung, 0);
    sleep_ms(400);

    printf("3.6 s: the engine hangs while idle: the next canary times out\n");
    atomic_store(&e.hung, 1);
    sleep_ms(700);
    show(port, "/health", NULL);
    show(port, "/metrics", "dynhc_endpoint_");

    dynhc_server_free(srv);
    dynhc_sched_free(s); /* stops the runner */
    pthread_mutex_lock(&e.lock);
    atomic_store(&e.stop, 1);
    pthread_cond_signal(&e.work);
    pthread_mutex_unlock(&e.lock);
    pthread_join(engine_thread, NULL);
    dynhc_endpoint_release(e.ep); /* the last reference: the endpoint is freed */
    return 0;
}
