/* sched_thread.c: let the scheduler run on a thread of its own, and show
 * idle mode (Dynamo's canary): checks go only to an endpoint that has seen no
 * traffic for the interval.
 *
 * The main thread plays the serving runtime. A first canary at start-up
 * finds the endpoint ready. For the next 1.2 s two worker threads serve
 * requests and record them with dynhc_endpoint_record_activity(): traffic
 * proves the endpoint alive, so no canary is sent. Then traffic stops, and a
 * canary follows every 300 ms of silence.
 *
 *   ./sched_thread          runs for about three seconds, then prints the status
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <dynhc/dynhc.h>
#include <dynhc/sched.h>

#define MS 1000000ull

static uint64_t start_ns;

static unsigned long long ms_since_start(void)
{
    return (unsigned long long)((dynhc_now_ns() - start_ns) / MS);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The send callback, on the runner's thread. The fake model answers at
 * once; a real one would complete later, from any thread. */
static int send_canary(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                       void *user_data)
{
    (void)ep;
    (void)user_data;
    printf("%5llu ms  canary sent to %s: %s\n", ms_since_start(), check->endpoint,
           check->payload_text);
    return dynhc_sched_complete(s, check->id, DYNHC_CHECK_SUCCESS, NULL) == DYNHC_OK ? 0 : -1;
}

/* Called on whichever thread caused the change: a worker or the runner. */
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

typedef struct worker {
    dynhc_endpoint *ep;
    atomic_int *serving;
    pthread_t thread;
} worker;

/* A request handler: every finished request is recorded, which is a few
 * atomic operations (no lock) once the endpoint is ready. The worker holds
 * a reference to the endpoint (see "Endpoint handles" in dynhc/sched.h): it
 * stays valid even if the runtime removes the endpoint meanwhile. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    unsigned served = 0;
    while (atomic_load(w->serving)) {
        sleep_ms(40); /* one request */
        dynhc_endpoint_record_activity(w->ep, 1);
        served++;
    }
    printf("%5llu ms  a worker stops after %u requests\n", ms_since_start(), served);
    dynhc_endpoint_release(w->ep);
    return NULL;
}

int main(void)
{
    dynhc_resolver *resolver = dynhc_resolver_new();
    dynhc_result *payload = NULL;
    if (resolver == NULL || dynhc_resolver_set_model_type(resolver, "embedding") != DYNHC_OK ||
        dynhc_resolver_resolve(resolver, &payload) != DYNHC_OK) {
        fprintf(stderr, "sched_thread: no health-check payload\n");
        return 1;
    }
    dynhc_resolver_free(resolver);

    dynhc_sched *s = dynhc_sched_new();
    if (s == NULL) {
        return 1;
    }
    /* Idle mode is the default; the interval is the idle time before a
     * canary. */
    dynhc_sched_set_interval_ns(s, 300 * MS);
    dynhc_sched_set_timeout_ns(s, 100 * MS);
    dynhc_sched_set_spread_ns(s, 0); /* the first canary at once */
    dynhc_sched_set_transition_callback(s, on_transition, NULL);
    start_ns = dynhc_now_ns();
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = "embed";
    o.payload = payload;
    o.send = send_canary;
    if (dynhc_sched_add(s, &o, NULL) != DYNHC_OK) {
        return 1;
    }
    dynhc_result_free(payload);
    /* Endpoints first, then the runner: once it runs, configuration belongs
     * to it (see the thread-safety rules in dynhc/sched.h). */
    int sys_errno = 0;
    if (dynhc_sched_start_thread(s, &sys_errno) != DYNHC_OK) {
        fprintf(stderr, "sched_thread: dynhc_sched_start_thread: %s\n", strerror(sys_errno));
        return 1;
    }

    atomic_int serving = 1;
    worker workers[2];
    for (int i = 0; i < 2; i++) {
        /* A reference per worker, released by the worker. */
        workers[i] = (worker){.ep = dynhc_sched_find(s, "embed"), .serving = &serving};
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            return 1;
        }
    }
    sleep_ms(1200);
    atomic_store(&serving, 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(workers[i].thread, NULL);
    }
    sleep_ms(1800); /* quiet: canaries */

    /* Any thread may read the status while the runner runs. */
    char *status = dynhc_sched_status_json(s, 1);
    printf("status: %s\n", status != NULL ? status : "(out of memory)");
    dynhc_free(status);

    dynhc_sched_stop_thread(s);
    dynhc_sched_free(s);
    return 0;
}
