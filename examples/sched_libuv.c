/* sched_libuv.c: drive the scheduler from a libuv loop. Two handles are all
 * the glue there is:
 *   - one uv_timer_t, always armed for the scheduler's next deadline;
 *   - one uv_async_t as the scheduler's wakeup function: when a check is
 *     completed on another thread, the next deadline may move earlier, and
 *     uv_async_send() (safe from any thread) makes the loop re-arm the timer.
 *
 * The "inference server" is a thread that answers each check 20 ms later by
 * calling dynhc_sched_complete() itself. It stalls on the third request for
 * longer than the timeout: that check fails as a timeout, the endpoint turns
 * not ready, and the server's late answer is counted and ignored.
 *
 *   ./sched_libuv           runs for three seconds, then prints the status
 */
#include <stdio.h>

#include <uv.h>

#include <dynhc/dynhc.h>
#include <dynhc/sched.h>

#define MS 1000000ull

/* Check ids handed from the loop (send callback) to the server thread. */
typedef struct server {
    uv_mutex_t lock;
    uv_cond_t more;
    uint64_t queue[16];
    unsigned queued;
    int quit;
    dynhc_sched *sched;
} server;

typedef struct app {
    dynhc_sched *sched;
    uv_timer_t tick_timer;
    uv_async_t wakeup;
    uv_timer_t end_timer;
    server srv;
    uv_thread_t server_thread;
} app;

static uint64_t start_ns;

static unsigned long long ms_since_start(void)
{
    return (unsigned long long)((dynhc_now_ns() - start_ns) / MS);
}

static void server_main(void *arg)
{
    server *srv = arg;
    unsigned served = 0;
    uv_mutex_lock(&srv->lock);
    for (;;) {
        while (srv->queued == 0 && !srv->quit) {
            uv_cond_wait(&srv->more, &srv->lock);
        }
        if (srv->quit) {
            break;
        }
        uint64_t id = srv->queue[0];
        srv->queued--;
        for (unsigned i = 0; i < srv->queued; i++) {
            srv->queue[i] = srv->queue[i + 1];
        }
        uv_mutex_unlock(&srv->lock);

        uv_sleep(++served == 3 ? 150 : 20);
        int rc = dynhc_sched_complete(srv->sched, id, DYNHC_CHECK_SUCCESS, NULL);
        if (rc == DYNHC_ERR_NOT_FOUND) {
            printf("%5llu ms  late answer for check %llx ignored\n", ms_since_start(),
                   (unsigned long long)id);
        }
        uv_mutex_lock(&srv->lock);
    }
    uv_mutex_unlock(&srv->lock);
}

static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    server *srv = user_data;
    printf("%5llu ms  check %llx sent to %s\n", ms_since_start(), (unsigned long long)check->id,
           check->endpoint);
    uv_mutex_lock(&srv->lock);
    int full = srv->queued == sizeof(srv->queue) / sizeof(srv->queue[0]);
    if (!full) {
        srv->queue[srv->queued++] = check->id;
        uv_cond_signal(&srv->more);
    }
    uv_mutex_unlock(&srv->lock);
    return full ? -1 : 0; /* non-zero: the check fails at once */
}

static void on_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                          void *user_data)
{
    (void)s;
    (void)ep;
    (void)user_data;
    const char *what = ready ? "ready" : "not ready";
    if (name != NULL) {
        printf("%5llu ms  endpoint %s is now %s\n", ms_since_start(), name, what);
    } else {
        printf("%5llu ms  overall status is now %s\n", ms_since_start(), what);
    }
}

static void on_tick(uv_timer_t *timer);

/* Arms the timer for the next deadline. dynhc_sched_timeout_ms() rounds it
 * up to libuv's milliseconds, so that the timer never fires just before the
 * deadline and finds nothing due; -1: nothing is scheduled. */
static void rearm(app *a)
{
    int ms = dynhc_sched_timeout_ms(a->sched, dynhc_now_ns());
    if (ms < 0) {
        uv_timer_stop(&a->tick_timer);
        return;
    }
    uv_timer_start(&a->tick_timer, on_tick, (uint64_t)ms, 0);
}

static void on_tick(uv_timer_t *timer)
{
    app *a = timer->data;
    dynhc_sched_tick(a->sched, dynhc_now_ns());
    rearm(a);
}

static void on_wakeup(uv_async_t *async)
{
    rearm(async->data);
}

/* The scheduler's wakeup function: may run on any thread. */
static void wake_loop(dynhc_sched *s, void *user_data)
{
    (void)s;
    uv_async_send(user_data);
}

static void on_end(uv_timer_t *timer)
{
    app *a = timer->data;
    /* No completion may call wake_loop once the async handle is closing:
     * stop the server first, then unhook the wakeup. */
    uv_mutex_lock(&a->srv.lock);
    a->srv.quit = 1;
    uv_cond_signal(&a->srv.more);
    uv_mutex_unlock(&a->srv.lock);
    uv_thread_join(&a->server_thread);
    dynhc_sched_set_wakeup(a->sched, NULL, NULL);

    uv_close((uv_handle_t *)&a->tick_timer, NULL);
    uv_close((uv_handle_t *)&a->wakeup, NULL);
    uv_close((uv_handle_t *)&a->end_timer, NULL);
}

int main(void)
{
    dynhc_resolver *resolver = dynhc_resolver_new();
    dynhc_result *payload = NULL;
    if (resolver == NULL || dynhc_resolver_set_model_type(resolver, "generate") != DYNHC_OK ||
        dynhc_resolver_resolve(resolver, &payload) != DYNHC_OK) {
        fprintf(stderr, "sched_libuv: no health-check payload\n");
        return 1;
    }
    dynhc_resolver_free(resolver);

    app a = {0};
    a.sched = dynhc_sched_new();
    if (a.sched == NULL) {
        return 1;
    }
    a.srv.sched = a.sched;
    uv_loop_t *loop = uv_default_loop();
    if (uv_mutex_init(&a.srv.lock) != 0 || uv_cond_init(&a.srv.more) != 0 ||
        uv_timer_init(loop, &a.tick_timer) != 0 || uv_timer_init(loop, &a.end_timer) != 0 ||
        uv_async_init(loop, &a.wakeup, on_wakeup) != 0 ||
        uv_thread_create(&a.server_thread, server_main, &a.srv) != 0) {
        return 1;
    }
    a.tick_timer.data = a.end_timer.data = a.wakeup.data = &a;

    dynhc_sched_set_mode(a.sched, DYNHC_MODE_PERIODIC);
    dynhc_sched_set_interval_ns(a.sched, 250 * MS);
    dynhc_sched_set_timeout_ns(a.sched, 100 * MS);
    dynhc_sched_set_spread_ns(a.sched, 0);
    dynhc_sched_set_transition_callback(a.sched, on_transition, NULL);
    dynhc_sched_set_wakeup(a.sched, wake_loop, &a.wakeup);
    start_ns = dynhc_now_ns();
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = "generate";
    o.payload = payload;
    o.send = send_check;
    o.user_data = &a.srv;
    if (dynhc_sched_add(a.sched, &o, NULL) != DYNHC_OK) {
        return 1;
    }
    dynhc_result_free(payload);

    rearm(&a);
    uv_timer_start(&a.end_timer, on_end, 3000, 0);
    uv_run(loop, UV_RUN_DEFAULT);

    char *status = dynhc_sched_status_json(a.sched, 1);
    printf("status: %s\n", status != NULL ? status : "(out of memory)");
    dynhc_free(status);

    dynhc_sched_free(a.sched);
    uv_loop_close(loop);
    uv_cond_destroy(&a.srv.more);
    uv_mutex_destroy(&a.srv.lock);
    return 0;
}
