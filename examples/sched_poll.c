/* sched_poll.c: drive the scheduler from a poll() loop, the way a
 * single-threaded server would. The loop sleeps until either one of its file
 * descriptors is readable or the scheduler's next deadline comes, then ticks.
 *
 * The "inference server" is a thread at the far end of two pipes: it reads
 * check ids, takes 20 ms per request as a model would, and writes back a
 * verdict. It fails the 4th and 5th requests, so the endpoint (which needs 2
 * failures in a row) goes not ready and comes back. The loop reads verdicts
 * from its end of the pipe and completes the checks itself: every scheduler
 * call stays on the loop's thread, so no wakeup function is needed.
 *
 *   ./sched_poll            runs for three seconds, then prints the status
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <dynhc/dynhc.h>
#include <dynhc/sched.h>

#define MS 1000000ull

typedef struct verdict {
    uint64_t check_id;
    int ok;
} verdict;

/* Pipe ends: the loop writes requests and reads verdicts. */
typedef struct server {
    int requests[2];
    int verdicts[2];
} server;

static uint64_t start_ns;

static unsigned long long ms_since_start(void)
{
    return (unsigned long long)((dynhc_now_ns() - start_ns) / MS);
}

static void *server_main(void *arg)
{
    const server *srv = arg;
    uint64_t id;
    unsigned served = 0;
    /* A closed request pipe ends the server. */
    while (read(srv->requests[0], &id, sizeof(id)) == (ssize_t)sizeof(id)) {
        struct timespec work = {0, 20 * (long)MS};
        nanosleep(&work, NULL);
        served++;
        verdict v = {id, served != 4 && served != 5};
        if (write(srv->verdicts[1], &v, sizeof(v)) != (ssize_t)sizeof(v)) {
            break;
        }
    }
    return NULL;
}

/* The send callback: hand the check to the server. The payload would go
 * with it over the network; here the id is enough. */
static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    const server *srv = user_data;
    printf("%5llu ms  check %llx sent to %s\n", ms_since_start(), (unsigned long long)check->id,
           check->endpoint);
    /* A non-zero return fails the check at once. */
    return write(srv->requests[1], &check->id, sizeof(check->id)) == (ssize_t)sizeof(check->id)
               ? 0
               : -1;
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

int main(void)
{
    /* The payload, from the environment, a config file or the built-in
     * table, exactly as the runtime would resolve it at start-up. */
    dynhc_resolver *resolver = dynhc_resolver_new();
    dynhc_result *payload = NULL;
    if (resolver == NULL || dynhc_resolver_set_model_type(resolver, "chat") != DYNHC_OK ||
        dynhc_resolver_resolve(resolver, &payload) != DYNHC_OK) {
        fprintf(stderr, "sched_poll: no health-check payload\n");
        return 1;
    }
    dynhc_resolver_free(resolver);

    server srv;
    pthread_t server_thread;
    if (pipe(srv.requests) != 0 || pipe(srv.verdicts) != 0 ||
        pthread_create(&server_thread, NULL, server_main, &srv) != 0) {
        perror("sched_poll");
        return 1;
    }

    /* A real runtime would take interval and timeout from the resolution
     * (dynhc_sched_apply_result); the demo wants them short. */
    dynhc_sched *s = dynhc_sched_new();
    if (s == NULL) {
        return 1;
    }
    dynhc_sched_set_mode(s, DYNHC_MODE_PERIODIC);
    dynhc_sched_set_interval_ns(s, 250 * MS);
    dynhc_sched_set_timeout_ns(s, 100 * MS);
    dynhc_sched_set_spread_ns(s, 0);
    dynhc_sched_set_thresholds(s, 2, 1);
    dynhc_sched_set_transition_callback(s, on_transition, NULL);
    start_ns = dynhc_now_ns();
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = "generate";
    o.payload = payload;
    o.send = send_check;
    o.user_data = &srv;
    if (dynhc_sched_add(s, &o, NULL) != DYNHC_OK) {
        return 1;
    }
    dynhc_result_free(payload); /* the scheduler keeps its own reference */

    uint64_t end = start_ns + 3000 * MS;
    for (;;) {
        uint64_t now = dynhc_now_ns();
        if (now >= end) {
            break;
        }
        /* Wait for whichever comes first: a verdict, the scheduler's next
         * deadline, the end of the demo. dynhc_sched_timeout_ms() gives
         * poll()'s timeout for the deadline: -1 when nothing is scheduled,
         * else rounded up, so that the loop never wakes a little early and
         * spins on zero timeouts until the deadline. */
        int wait = dynhc_sched_timeout_ms(s, now);
        int until_end = (int)((end - now + MS - 1) / MS);
        struct pollfd fd = {.fd = srv.verdicts[0], .events = POLLIN};
        int ready = poll(&fd, 1, wait < 0 || wait > until_end ? until_end : wait);
        if (ready > 0) {
            verdict v;
            if (read(srv.verdicts[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) {
                if (!v.ok) {
                    printf("%5llu ms  check %llx failed\n", ms_since_start(),
                           (unsigned long long)v.check_id);
                }
                dynhc_sched_complete(s, v.check_id,
                                     v.ok ? DYNHC_CHECK_SUCCESS : DYNHC_CHECK_FAILURE,
                                     v.ok ? NULL : "the server answered 500");
            }
        }
        /* Cheap when nothing is due. */
        dynhc_sched_tick(s, dynhc_now_ns());
    }

    char *status = dynhc_sched_status_json(s, 1);
    printf("status: %s\n", status != NULL ? status : "(out of memory)");
    dynhc_free(status);

    close(srv.requests[1]);
    pthread_join(server_thread, NULL);
    dynhc_sched_free(s);
    close(srv.requests[0]);
    close(srv.verdicts[0]);
    close(srv.verdicts[1]);
    return 0;
}
