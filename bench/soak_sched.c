/*
 * soak_sched: the scheduler under a long, messy load (issue 7's soak),
 * checking its books at every report and its memory over time.
 *
 * Workload: N stable endpoints (default 100,000) in periodic mode, interval
 * 1 s, timeout 200 ms, jitter 0.1, plus a churn pool of 1,000 endpoints of
 * which 100 are removed and registered again every second. One thread
 * ticks (a plain deadline loop); the send callback hands each check to one
 * of W worker threads (default 4) that complete it: 60% success at once,
 * 15% failure at once, 10% success after 50 ms (in time), 10% after the
 * timeout (late: the scheduler has already timed it out) and 5% never.
 *
 * Every R seconds (default 10) the reporter pauses ticking and completions
 * (a lock the tick loop holds around each tick and the workers around each
 * completion), reads the metrics and the verbose status JSON and checks, for
 * every stable endpoint:
 *   sent == success + failure + timeout + (1 if a check is in flight)
 *   late completions counted == completions refused as late (NOT_FOUND)
 *   success + failure == completions accepted
 * with sent, accepted and refused counted by this program, and that every
 * endpoint is listed once. It then prints RSS. The first tenth of the run
 * (at least one report) is the warm-up; RSS growth is measured from its end.
 *
 * Usage: soak_sched [--endpoints N] [--seconds S] [--workers W] [--report R]
 * Last line: soak: endpoints=N seconds=S checks=C violations=V
 *   rss_warm_mib=A rss_end_mib=B rss_max_mib=M growth_pct=G
 * Exit 0 when no violation was found and RSS grew by less than 5% after
 * the warm-up; 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dynhc/dynhc.h>

#define MS 1000000ull
#define CHURN_POOL 1000u
#define CHURN_PER_SECOND 100u
#define TIMEOUT_NS (200 * MS)
#define DELAY_IN_TIME_NS (50 * MS)
#define DELAY_LATE_NS (TIMEOUT_NS + 100 * MS)

/* What a worker does with a check. */
enum outcome { NOW_SUCCESS, NOW_FAILURE, IN_TIME, LATE, NEVER };

typedef struct job {
    uint64_t id;
    uint64_t due_ns;
    int32_t stable; /* index of a stable endpoint, -1 for churn */
    uint8_t success;
} job;

/* A FIFO of jobs that share one delay, so its head is always the first due. */
typedef struct fifo {
    job *items;
    size_t head, len, capacity;
} fifo;

typedef struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fifo queues[3]; /* at once, in time, late */
    int stop;
} worker;

typedef struct stable_counts {
    atomic_uint sent, accepted, refused;
} stable_counts;

static dynhc_sched *sched;
static unsigned endpoint_count = 100000, worker_count = 4;
static stable_counts *counts;
static worker *workers;
static dynhc_endpoint *churn[CHURN_POOL];
static atomic_uint_fast64_t total_sent;
/* Held by the tick loop around a tick and by workers around a completion;
 * the reporter takes it for writing to see everything at rest. */
static pthread_rwlock_t quiet = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int stopping;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void)
{
    return dynhc_now_ns();
}

static unsigned random_percent(void)
{
    pthread_mutex_lock(&rng_lock);
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    pthread_mutex_unlock(&rng_lock);
    return (unsigned)((x * 0x2545F4914F6CDD1Dull) >> 33) % 100u;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void fifo_push(fifo *q, job j)
{
    if (q->len == q->capacity) {
        size_t capacity = q->capacity ? q->capacity * 2 : 1024;
        job *items = malloc(capacity * sizeof(*items));
        if (items == NULL) {
            fprintf(stderr, "soak: out of memory\n");
            exit(1);
        }
        for (size_t i = 0; i < q->len; i++) {
            items[i] = q->items[(q->head + i) % q->capacity];
        }
        free(q->items);
        q->items = items;
        q->head = 0;
        q->capacity = capacity;
    }
    q->items[(q->head + q->len++) % q->capacity] = j;
}

/* ---- the checks ----------------------------------------------------------- */

static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check, void *data)
{
    (void)s;
    (void)ep;
    int32_t stable = (int32_t)(intptr_t)data;
    atomic_fetch_add(&total_sent, 1);
    if (stable >= 0) {
        atomic_fetch_add(&counts[stable].sent, 1);
    }
    unsigned roll = random_percent();
    enum outcome what = roll < 60 ? NOW_SUCCESS
                        : roll < 75 ? NOW_FAILURE
                        : roll < 85 ? IN_TIME
                        : roll < 95 ? LATE
                                    : NEVER;
    if (what == NEVER) {
        return 0;
    }
    static const unsigned queue_of[] = {0, 0, 1, 2};
    static const uint64_t delay_of[] = {0, 0, DELAY_IN_TIME_NS, DELAY_LATE_NS};
    job j = {check->id, now_ns() + delay_of[what], stable, what != NOW_FAILURE};
    worker *w = &workers[check->id % worker_count];
    pthread_mutex_lock(&w->lock);
    fifo *q = &w->queues[queue_of[what]];
    /* A worker with work queued is awake or wakes for its head anyway. */
    int was_empty = q->len == 0;
    fifo_push(q, j);
    if (was_empty) {
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        uint64_t now = now_ns();
        uint64_t next = UINT64_MAX;
        fifo *ready = NULL;
        for (int q = 0; q < 3; q++) {
            fifo *f = &w->queues[q];
            if (f->len == 0) {
                continue;
            }
            uint64_t due = f->items[f->head].due_ns;
            if (due <= now) {
                ready = f;
                break;
            }
            next = due < next ? due : next;
        }
        if (ready == NULL) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            uint64_t wait = next == UINT64_MAX ? 100 * MS : next - now;
            uint64_t nsec = (uint64_t)until.tv_nsec + wait;
            until.tv_sec += (time_t)(nsec / 1000000000u);
            until.tv_nsec = (long)(nsec % 1000000000u);
            pthread_cond_timedwait(&w->cond, &w->lock, &until);
            continue;
        }
        job j = ready->items[ready->head];
        ready->head = (ready->head + 1) % ready->capacity;
        ready->len--;
        pthread_mutex_unlock(&w->lock);

        pthread_rwlock_rdlock(&quiet);
        int rc = dynhc_sched_complete(sched, j.id,
                                      j.success ? DYNHC_CHECK_SUCCESS : DYNHC_CHECK_FAILURE,
                                      j.success ? NULL : "soak: failure");
        if (j.stable >= 0) {
            atomic_fetch_add(rc == DYNHC_OK ? &counts[j.stable].accepted
                                            : &counts[j.stable].refused,
                             1);
        }
        pthread_rwlock_unlock(&quiet);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *tick_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        pthread_rwlock_rdlock(&quiet);
        uint64_t deadline = dynhc_sched_next_deadline(sched);
        uint64_t now = now_ns();
        if (deadline <= now) {
            dynhc_sched_tick(sched, now);
        }
        pthread_rwlock_unlock(&quiet);
        if (deadline > now) {
            /* Capped so that churn registrations are picked up soon. */
            uint64_t wait = deadline - now;
            sleep_ns(wait < 5 * MS ? wait : 5 * MS);
        }
    }
    return NULL;
}

/* ---- the books -------------------------------------------------------------- */

typedef struct seen {
    uint64_t results[3];
    uint64_t late;
    uint8_t in_flight;
    uint8_t listed;
} seen;

/* "ep-000123" -> 123, or -1 for any other name. */
static long stable_index(const char *name, size_t len)
{
    if (len != 9 || memcmp(name, "ep-", 3) != 0) {
        return -1;
    }
    long v = 0;
    for (size_t i = 3; i < 9; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }
        v = v * 10 + (name[i] - '0');
    }
    return v < (long)endpoint_count ? v : -1;
}

/* Reads the per-endpoint counters of the stable endpoints from metrics. */
static void read_metrics(const char *text, seen *out)
{
    static const char checks[] = "dynhc_health_checks_total{dynhc_endpoint=\"";
    static const char late[] = "dynhc_health_check_late_completions_total{dynhc_endpoint=\"";
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL) {
            end = line + strlen(line);
        }
        const char *name = NULL;
        int is_late = 0;
        if (strncmp(line, checks, sizeof(checks) - 1) == 0) {
            name = line + sizeof(checks) - 1;
        } else if (strncmp(line, late, sizeof(late) - 1) == 0) {
            name = line + sizeof(late) - 1;
            is_late = 1;
        }
        const char *close = name != NULL ? strchr(name, '"') : NULL;
        long i = close != NULL ? stable_index(name, (size_t)(close - name)) : -1;
        if (i >= 0) {
            const char *value = end;
            while (value > close && value[-1] != ' ') {
                value--;
            }
            uint64_t v = strtoull(value, NULL, 10);
            /* The result label is the last one: its value ends the braces. */
            const char *brace = value - 2;
            if (is_late) {
                out[i].late = v;
            } else if (brace - close > 9 && memcmp(brace - 8, "success", 7) == 0) {
                out[i].results[0] = v;
            } else if (brace - close > 9 && memcmp(brace - 8, "failure", 7) == 0) {
                out[i].results[1] = v;
            } else {
                out[i].results[2] = v;
            }
        }
        line = *end != '\0' ? end + 1 : end;
    }
}

/* Marks listed endpoints and their checks in flight from the status JSON;
 * returns how many problems it found in its shape. */
static unsigned read_status(const char *text, seen *out)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks");
    const cJSON *endpoints = cJSON_GetObjectItemCaseSensitive(root, "endpoints");
    unsigned problems = checks == NULL || endpoints == NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, endpoints)
    {
        long i = stable_index(item->string, strlen(item->string));
        if (i >= 0) {
            problems += out[i].listed++ != 0;
        }
    }
    cJSON_ArrayForEach(item, checks)
    {
        long i = stable_index(item->string, strlen(item->string));
        if (i >= 0) {
            out[i].in_flight =
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "in_flight")) ? 1 : 0;
        }
    }
    cJSON_Delete(root);
    return problems;
}

static unsigned check_books(void)
{
    seen *books = calloc(endpoint_count, sizeof(*books));
    if (books == NULL) {
        return 1;
    }
    pthread_rwlock_wrlock(&quiet);
    char *metrics = dynhc_sched_metrics(sched);
    char *status = dynhc_sched_status_json(sched, 1);
    unsigned violations = metrics == NULL || status == NULL;
    if (!violations) {
        read_metrics(metrics, books);
        violations += read_status(status, books);
    }
    for (unsigned i = 0; i < endpoint_count && metrics != NULL && status != NULL; i++) {
        const seen *b = &books[i];
        unsigned sent = atomic_load(&counts[i].sent);
        unsigned accepted = atomic_load(&counts[i].accepted);
        unsigned refused = atomic_load(&counts[i].refused);
        uint64_t booked = b->results[0] + b->results[1] + b->results[2] + b->in_flight;
        int bad = !b->listed || booked != sent || b->late != refused ||
                  b->results[0] + b->results[1] != accepted;
        if (bad && violations < 5) {
            fprintf(stderr,
                    "soak: ep-%06u: sent %u, booked %" PRIu64 " (ok %" PRIu64 " fail %" PRIu64
                    " timeout %" PRIu64 " in flight %u); accepted %u; late %" PRIu64
                    " refused %u; listed %u\n",
                    i, sent, booked, b->results[0], b->results[1], b->results[2], b->in_flight,
                    accepted, b->late, refused, b->listed);
        }
        violations += (unsigned)bad;
    }
    pthread_rwlock_unlock(&quiet);
    dynhc_free(metrics);
    dynhc_free(status);
    free(books);
    return violations;
}

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* ---- setup ------------------------------------------------------------------ */

static void add(const char *name, const dynhc_result *payload, intptr_t stable,
                dynhc_endpoint **out)
{
    char model[16];
    snprintf(model, sizeof(model), "m%u", (unsigned)(stable >= 0 ? stable % 10 : 10));
    const dynhc_label labels[] = {{"model", model}};
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = name;
    o.payload = payload;
    o.labels = labels;
    o.label_count = 1;
    o.send = send_check;
    o.user_data = (void *)stable;
    if (dynhc_sched_add(sched, &o, out) != DYNHC_OK) {
        fprintf(stderr, "soak: cannot add %s\n", name);
        exit(1);
    }
}

static unsigned parse_option(int argc, char **argv, int *i, const char *flag)
{
    if (strcmp(argv[*i], flag) != 0 || *i + 1 >= argc) {
        return 0;
    }
    char *end;
    unsigned long v = strtoul(argv[++*i], &end, 10);
    if (*end != '\0' || v == 0 || v > 10000000ul) {
        fprintf(stderr, "soak: %s: expected a positive integer\n", flag);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    unsigned seconds = 600, report_every = 10, v;
    for (int i = 1; i < argc; i++) {
        if ((v = parse_option(argc, argv, &i, "--endpoints")) != 0) {
            endpoint_count = v;
        } else if ((v = parse_option(argc, argv, &i, "--seconds")) != 0) {
            seconds = v;
        } else if ((v = parse_option(argc, argv, &i, "--workers")) != 0) {
            worker_count = v;
        } else if ((v = parse_option(argc, argv, &i, "--report")) != 0) {
            report_every = v;
        } else {
            fprintf(stderr, "usage: soak_sched [--endpoints N] [--seconds S] [--workers W] "
                            "[--report R]\n");
            return 2;
        }
    }

    dynhc_resolver *r = dynhc_resolver_new();
    dynhc_result *payload = NULL;
    counts = calloc(endpoint_count, sizeof(*counts));
    workers = calloc(worker_count, sizeof(*workers));
    sched = dynhc_sched_new();
    if (r == NULL || counts == NULL || workers == NULL || sched == NULL ||
        dynhc_resolver_resolve(r, &payload) != DYNHC_OK) {
        fprintf(stderr, "soak: setup failed\n");
        return 1;
    }
    dynhc_sched_set_mode(sched, DYNHC_MODE_PERIODIC);
    dynhc_sched_set_interval_ns(sched, 1000 * MS);
    dynhc_sched_set_timeout_ns(sched, TIMEOUT_NS);
    dynhc_sched_set_jitter(sched, 0.1);
    dynhc_sched_set_spread_ns(sched, 1000 * MS);
    dynhc_sched_set_log(sched, NULL, NULL);

    for (unsigned i = 0; i < worker_count; i++) {
        pthread_mutex_init(&workers[i].lock, NULL);
        pthread_cond_init(&workers[i].cond, NULL);
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    char name[32];
    for (unsigned i = 0; i < endpoint_count; i++) {
        dynhc_endpoint *ep;
        snprintf(name, sizeof(name), "ep-%06u", i);
        add(name, payload, (intptr_t)i, &ep);
    }
    for (unsigned i = 0; i < CHURN_POOL; i++) {
        snprintf(name, sizeof(name), "churn-%04u", i);
        add(name, payload, -1, &churn[i]);
    }
    pthread_t ticker;
    pthread_create(&ticker, NULL, tick_main, NULL);
    printf("soak: %u endpoints (+%u churning), %u workers, %u s, report every %u s\n",
           endpoint_count, CHURN_POOL, worker_count, seconds, report_every);
    fflush(stdout);

    unsigned warm_up = seconds / 10 > report_every ? seconds / 10 : report_every;
    unsigned violations = 0, next_churn = 0;
    double rss_warm = 0, rss_max = 0, rss_end = 0;
    uint64_t start = now_ns(), last_sent = 0;
    for (unsigned t = 1; t <= seconds; t++) {
        sleep_ns(start + (uint64_t)t * 1000 * MS > now_ns() ? start + (uint64_t)t * 1000 * MS - now_ns() : 0);
        for (unsigned k = 0; k < CHURN_PER_SECOND; k++, next_churn = (next_churn + 1) % CHURN_POOL) {
            dynhc_sched_remove_endpoint(sched, churn[next_churn]);
            snprintf(name, sizeof(name), "churn-%04u", next_churn);
            add(name, payload, -1, &churn[next_churn]);
        }
        if (t % report_every != 0 && t != seconds) {
            continue;
        }
        unsigned found = check_books();
        violations += found;
        double rss = rss_mib();
        uint64_t sent = atomic_load(&total_sent);
        printf("soak: t=%us checks/s=%.0f rss_mib=%.1f violations=%u\n", t,
               (double)(sent - last_sent) / report_every, rss, found);
        fflush(stdout);
        last_sent = sent;
        if (t <= warm_up) {
            rss_warm = rss;
        } else if (rss > rss_max) {
            rss_max = rss;
        }
        rss_end = rss;
    }

    atomic_store(&stopping, 1);
    pthread_join(ticker, NULL);
    for (unsigned i = 0; i < worker_count; i++) {
        pthread_mutex_lock(&workers[i].lock);
        workers[i].stop = 1;
        pthread_cond_signal(&workers[i].cond);
        pthread_mutex_unlock(&workers[i].lock);
        pthread_join(workers[i].thread, NULL);
        for (int q = 0; q < 3; q++) {
            free(workers[i].queues[q].items);
        }
    }
    dynhc_sched_free(sched);
    dynhc_result_free(payload);
    dynhc_resolver_free(r);
    double growth = rss_warm > 0 && rss_max > rss_warm ? (rss_max - rss_warm) * 100 / rss_warm : 0;
    printf("soak: endpoints=%u seconds=%u checks=%" PRIu64 " violations=%u rss_warm_mib=%.1f "
           "rss_end_mib=%.1f rss_max_mib=%.1f growth_pct=%.2f\n",
           endpoint_count, seconds, (uint64_t)atomic_load(&total_sent), violations, rss_warm,
           rss_end, rss_max, growth);
    free(counts);
    free(workers);
    return violations == 0 && growth < 5 ? 0 : 1;
}
