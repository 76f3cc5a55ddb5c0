/*
 * bench_resolve: the cost of one resolution through the public API
 * (dynhc_resolver_resolve + dynhc_result_free on a resolver created once),
 * per payload source, beside a floor measured in the same run:
 *
 *   defaults  nothing set: the built-in table. There is no parse to compare
 *             with, so the absolute cost is printed with its ratio to the
 *             env-json floor (a bare cJSON_Parse of a ~150-byte payload):
 *             "a default costs N bare parses".
 *   env-json  DYN_HEALTH_CHECK_PAYLOAD holds the payload text (through an
 *             injected getenv, never setenv); floor: cJSON_Parse +
 *             cJSON_Delete of the same text. Goal: ratio <= 3.
 *   env-file  DYN_HEALTH_CHECK_PAYLOAD=@FILE, the same payload in a temp
 *             file; floor: open + read + close of that file + cJSON_Parse +
 *             cJSON_Delete. Goal: ratio <= 1.5.
 *   yaml      a ~15-line YAML config file with health_check_payload as a
 *             mapping; floor: open + read + close + every libyaml event
 *             (yaml_parser_parse loop). No goal: the ratio is reported.
 *
 * Method: warm up, size a batch so that it takes about BATCH_TARGET_NS, then
 * alternate library and floor batches REPS times and report the median ns
 * per operation of each side, so that noise on a shared machine hits both
 * sides alike. The ratio is median(dynhc) / median(floor).
 *
 * Clock: by default the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, user +
 * system, so the file cases' system calls count). On a loaded 2-core machine
 * wall-clock batches (CLOCK_MONOTONIC) absorb whole time slices given to
 * other processes, and batches about as long as a slice can alias with the
 * scheduler so that one side is preempted more often than the other: seen
 * here as env-file ratios jumping from 1.2 to 5.9 between runs. CPU time
 * still feels cache and frequency effects, but not preemption. --wall
 * selects CLOCK_MONOTONIC.
 *
 * Usage: bench_resolve [--wall]        the benchmark (about 3 s of CPU)
 *        bench_resolve --quick [--wall] fewer, shorter batches (under 1 s)
 *        bench_resolve --profile CASE N  N library resolutions of CASE
 *                                      (defaults, env-json, env-file, yaml),
 *                                      or N floor operations (floor-json,
 *                                      floor-file, floor-yaml), for callgrind:
 *                                      one timed batch, no warm-up.
 * Exits 0 even when a goal is missed (the line then says MISSED); 1 when the
 * setup fails or a resolution does not give the expected payload.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include <dynhc/dynhc.h>

/* The standard chat payload with a system message: 155 bytes. */
static const char payload_text[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a health check.\"},"
    "{\"role\":\"user\",\"content\":\"The sky is\"}],"
    "\"max_tokens\":5,\"temperature\":0.7,\"stream\":false}";

/* A serving runtime's config: unknown keys beside the ones dynhc reads. */
static const char config_text[] =
    "# serving runtime configuration\n"
    "model: meta-llama/Llama-3.1-8B-Instruct\n"
    "model_type: chat\n"
    "tensor_parallel_size: 1\n"
    "max_model_len: 8192\n"
    "health_check_enabled: true\n"
    "health_check_interval: 10\n"
    "health_check_timeout: 3s\n"
    "health_check_payload:\n"
    "  messages:\n"
    "    - role: user\n"
    "      content: \"The sky is\"\n"
    "  max_tokens: 5\n"
    "  temperature: 0.7\n"
    "  stream: false\n";

#define REPS_FULL 15
#define REPS_QUICK 5
#define MAX_REPS 15
#define BATCH_TARGET_NS_FULL 20000000.0 /* 20 ms */
#define BATCH_TARGET_NS_QUICK 5000000.0 /* 5 ms */

static volatile size_t sink; /* keeps the floors' work observable */

static char payload_path[] = "/tmp/dynhc-bench-payload-XXXXXX";
static char config_path[] = "/tmp/dynhc-bench-config-XXXXXX";
static int payload_made;
static int config_made;
static char env_file_value[sizeof(payload_path) + 1];

/* ---- the injected environment ------------------------------------------- */

typedef struct fake_env {
    const char *payload; /* DYN_HEALTH_CHECK_PAYLOAD, or NULL */
} fake_env;

static const char *fake_getenv(const char *name, void *user_data)
{
    const fake_env *env = user_data;
    if (env->payload != NULL && strcmp(name, "DYN_HEALTH_CHECK_PAYLOAD") == 0) {
        return env->payload;
    }
    return NULL;
}

/* ---- timing --------------------------------------------------------------- */

static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef int (*op_fn)(void *arg); /* one operation; non-zero on failure */

/* ns per operation over a batch of n, or a negative value on failure. */
static double time_batch(op_fn op, void *arg, long n)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        if (op(arg) != 0) {
            return -1.0;
        }
    }
    return (now_ns() - start) / (double)n;
}

/* A batch size for which op takes about target_ns. */
static long batch_size(op_fn op, void *arg, double target_ns)
{
    long n = 16;
    for (;;) {
        double start = now_ns();
        for (long i = 0; i < n; i++) {
            if (op(arg) != 0) {
                return -1;
            }
        }
        double took = now_ns() - start;
        if (took >= 2e6 || n >= (1L << 24)) {
            double per_op = took / (double)n;
            long sized = (long)(target_ns / (per_op > 1.0 ? per_op : 1.0));
            return sized > 0 ? sized : 1;
        }
        n *= 4;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- the library side ---------------------------------------------------- */

typedef struct lib_case {
    const char *name;
    dynhc_resolver *resolver;
    fake_env env;
    dynhc_source expected;
} lib_case;

static int lib_op(void *arg)
{
    lib_case *lc = arg;
    dynhc_result *res = NULL;
    int status = dynhc_resolver_resolve(lc->resolver, &res);
    dynhc_result_free(res);
    return status != DYNHC_OK;
}

/* One checked resolution: the expected source, no diagnostic. */
static int lib_check(lib_case *lc)
{
    dynhc_result *res = NULL;
    int status = dynhc_resolver_resolve(lc->resolver, &res);
    int ok = status == DYNHC_OK && res != NULL && dynhc_result_source(res) == lc->expected &&
             dynhc_result_text(res) != NULL && dynhc_result_diag_count(res) == 0;
    if (!ok) {
        fprintf(stderr, "bench_resolve: %s: status %d, source %s, %zu diagnostic(s)\n", lc->name,
                status, res ? dynhc_source_name(dynhc_result_source(res)) : "-",
                res ? dynhc_result_diag_count(res) : (size_t)0);
        for (size_t i = 0; res != NULL && i < dynhc_result_diag_count(res); i++) {
            const dynhc_diag *d = dynhc_result_diag(res, i);
            fprintf(stderr, "  %s:%u:%u: %s\n", d->source, d->line, d->column, d->message);
        }
    }
    dynhc_result_free(res);
    return ok ? 0 : -1;
}

/* ---- the floors ------------------------------------------------------------ */

static int floor_parse(void *arg)
{
    (void)arg;
    cJSON *json = cJSON_Parse(payload_text);
    if (json == NULL) {
        return -1;
    }
    sink += (size_t)(json->child != NULL);
    cJSON_Delete(json);
    return 0;
}

/* open + read + close into buf (NUL-terminated); the length or -1. */
static long read_whole(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf + total, size - 1 - total);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
        if (total == size - 1) {
            break;
        }
    }
    close(fd);
    buf[total] = '\0';
    return (long)total;
}

static int floor_file_parse(void *arg)
{
    (void)arg;
    char buf[1024];
    if (read_whole(payload_path, buf, sizeof(buf)) < 0) {
        return -1;
    }
    cJSON *json = cJSON_Parse(buf);
    if (json == NULL) {
        return -1;
    }
    sink += (size_t)(json->child != NULL);
    cJSON_Delete(json);
    return 0;
}

static int floor_yaml_events(void *arg)
{
    (void)arg;
    char buf[2048];
    long len = read_whole(config_path, buf, sizeof(buf));
    if (len < 0) {
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, (size_t)len);
    int rc = -1;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            break;
        }
        int done = event.type == YAML_STREAM_END_EVENT;
        sink += (size_t)event.type;
        yaml_event_delete(&event);
        if (done) {
            rc = 0;
            break;
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- setup ------------------------------------------------------------------ */

static int write_temp(char *path_template, const char *text, int *made)
{
    int fd = mkstemp(path_template);
    if (fd < 0) {
        perror("bench_resolve: mkstemp");
        return -1;
    }
    *made = 1;
    size_t len = strlen(text);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n <= 0) {
            perror("bench_resolve: write");
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

static void remove_temps(void)
{
    if (payload_made) {
        unlink(payload_path);
    }
    if (config_made) {
        unlink(config_path);
    }
}

enum { CASE_DEFAULTS, CASE_ENV_JSON, CASE_ENV_FILE, CASE_YAML, CASE_COUNT };

static const char *const case_names[CASE_COUNT] = {"defaults", "env-json", "env-file", "yaml"};

static int setup_cases(lib_case cases[CASE_COUNT])
{
    if (write_temp(payload_path, payload_text, &payload_made) != 0 ||
        write_temp(config_path, config_text, &config_made) != 0) {
        return -1;
    }
    snprintf(env_file_value, sizeof(env_file_value), "@%s", payload_path);
    for (int i = 0; i < CASE_COUNT; i++) {
        lib_case *lc = &cases[i];
        lc->name = case_names[i];
        lc->env.payload = NULL;
        lc->resolver = dynhc_resolver_new();
        if (lc->resolver == NULL ||
            dynhc_resolver_set_getenv(lc->resolver, fake_getenv, &lc->env) != DYNHC_OK) {
            fprintf(stderr, "bench_resolve: cannot create a resolver\n");
            return -1;
        }
    }
    cases[CASE_DEFAULTS].expected = DYNHC_SOURCE_DEFAULT;
    cases[CASE_ENV_JSON].env.payload = payload_text;
    cases[CASE_ENV_JSON].expected = DYNHC_SOURCE_ENV;
    cases[CASE_ENV_FILE].env.payload = env_file_value;
    cases[CASE_ENV_FILE].expected = DYNHC_SOURCE_ENV_FILE;
    cases[CASE_YAML].expected = DYNHC_SOURCE_CONFIG;
    /* The payloads are chat requests: without the model type the payload
     * checks would warn, and the figures would include the diagnostics. */
    if (dynhc_resolver_set_model_type(cases[CASE_ENV_JSON].resolver, "chat") != DYNHC_OK ||
        dynhc_resolver_set_model_type(cases[CASE_ENV_FILE].resolver, "chat") != DYNHC_OK ||
        dynhc_resolver_set_config_file(cases[CASE_YAML].resolver, config_path) != DYNHC_OK) {
        fprintf(stderr, "bench_resolve: cannot set up the resolvers\n");
        return -1;
    }
    for (int i = 0; i < CASE_COUNT; i++) {
        if (lib_check(&cases[i]) != 0) {
            return -1;
        }
    }
    /* The floors must work on the same inputs. */
    if (floor_parse(NULL) != 0 || floor_file_parse(NULL) != 0 || floor_yaml_events(NULL) != 0) {
        fprintf(stderr, "bench_resolve: a floor operation failed\n");
        return -1;
    }
    return 0;
}

/* ---- measuring ----------------------------------------------------------------- */

typedef struct figures {
    double lib_ns;
    double floor_ns;
} figures;

/* Alternates library and floor batches reps times; medians per operation. */
static int measure(lib_case *lc, op_fn floor_op, int reps, double target_ns, figures *out)
{
    double lib[MAX_REPS];
    double flo[MAX_REPS];
    /* Warm up both sides (caches, allocator, page cache), then size them. */
    if (time_batch(lib_op, lc, 2000) < 0 || time_batch(floor_op, NULL, 2000) < 0) {
        return -1;
    }
    long n_lib = batch_size(lib_op, lc, target_ns);
    long n_floor = batch_size(floor_op, NULL, target_ns);
    if (n_lib < 0 || n_floor < 0) {
        return -1;
    }
    for (int i = 0; i < reps; i++) {
        /* Swap the order every repetition so neither side always goes first. */
        if (i % 2 == 0) {
            lib[i] = time_batch(lib_op, lc, n_lib);
            flo[i] = time_batch(floor_op, NULL, n_floor);
        } else {
            flo[i] = time_batch(floor_op, NULL, n_floor);
            lib[i] = time_batch(lib_op, lc, n_lib);
        }
        if (lib[i] < 0 || flo[i] < 0) {
            return -1;
        }
    }
    out->lib_ns = median(lib, reps);
    out->floor_ns = median(flo, reps);
    return 0;
}

static void print_goal(double ratio, double goal)
{
    if (goal > 0) {
        printf(" (goal <= %g)%s", goal, ratio <= goal ? "" : " MISSED");
    }
    printf("\n");
}

static int profile(lib_case cases[CASE_COUNT], const char *name, long n)
{
    for (int i = 0; i < CASE_COUNT; i++) {
        if (strcmp(name, case_names[i]) == 0) {
            double per_op = time_batch(lib_op, &cases[i], n);
            if (per_op < 0) {
                fprintf(stderr, "bench_resolve: %s: a resolution failed\n", name);
                return -1;
            }
            printf("profile %s: %ld resolutions, %.0f ns each\n", name, n, per_op);
            return 0;
        }
    }
    static const struct {
        const char *name;
        op_fn op;
    } floor_ops[] = {{"floor-json", floor_parse},
                     {"floor-file", floor_file_parse},
                     {"floor-yaml", floor_yaml_events}};
    for (size_t i = 0; i < sizeof(floor_ops) / sizeof(floor_ops[0]); i++) {
        if (strcmp(name, floor_ops[i].name) == 0) {
            double per_op = time_batch(floor_ops[i].op, NULL, n);
            if (per_op < 0) {
                fprintf(stderr, "bench_resolve: %s failed\n", name);
                return -1;
            }
            printf("profile %s: %ld operations, %.0f ns each\n", name, n, per_op);
            return 0;
        }
    }
    fprintf(stderr,
            "bench_resolve: unknown case '%s' (defaults, env-json, env-file, yaml, "
            "floor-json, floor-file, floor-yaml)\n",
            name);
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_resolve [--quick] [--wall] | --profile CASE N\n");
    return 2;
}

int main(int argc, char **argv)
{
    int reps = REPS_FULL;
    double target_ns = BATCH_TARGET_NS_FULL;
    const char *profile_case = NULL;
    long profile_n = 0;
    if (argc == 4 && strcmp(argv[1], "--profile") == 0) {
        profile_case = argv[2];
        char *end;
        profile_n = strtol(argv[3], &end, 10);
        if (*end != '\0' || profile_n <= 0) {
            return usage();
        }
    } else {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--quick") == 0) {
                reps = REPS_QUICK;
                target_ns = BATCH_TARGET_NS_QUICK;
            } else if (strcmp(argv[i], "--wall") == 0) {
                bench_clock = CLOCK_MONOTONIC;
            } else {
                return usage();
            }
        }
    }

    lib_case cases[CASE_COUNT];
    memset(cases, 0, sizeof(cases));
    int rc = 1;
    if (setup_cases(cases) != 0) {
        goto done;
    }
    if (profile_case != NULL) {
        rc = profile(cases, profile_case, profile_n) == 0 ? 0 : 1;
        goto done;
    }

    figures f[CASE_COUNT];
    /* defaults alternates with the env-json floor: it is its yardstick. */
    static const op_fn floors[CASE_COUNT] = {floor_parse, floor_parse, floor_file_parse,
                                             floor_yaml_events};
    for (int i = 0; i < CASE_COUNT; i++) {
        if (measure(&cases[i], floors[i], reps, target_ns, &f[i]) != 0) {
            fprintf(stderr, "bench_resolve: %s: an operation failed while timing\n",
                    case_names[i]);
            goto done;
        }
    }
    printf("bench_resolve: %s time, median of %d alternating batches of ~%.0f ms per side\n",
           bench_clock == CLOCK_MONOTONIC ? "wall-clock" : "thread CPU", reps, target_ns / 1e6);
    double ratio[CASE_COUNT];
    for (int i = 0; i < CASE_COUNT; i++) {
        ratio[i] = f[i].lib_ns / f[i].floor_ns;
    }
    printf("resolve defaults: dynhc %.0f ns (absolute; %.2f x a bare cJSON_Parse of the "
           "%zu-byte payload, %.0f ns)\n",
           f[CASE_DEFAULTS].lib_ns, ratio[CASE_DEFAULTS], strlen(payload_text),
           f[CASE_DEFAULTS].floor_ns);
    printf("resolve env-json: dynhc %.0f ns, floor (cJSON_Parse) %.0f ns, ratio %.2f",
           f[CASE_ENV_JSON].lib_ns, f[CASE_ENV_JSON].floor_ns, ratio[CASE_ENV_JSON]);
    print_goal(ratio[CASE_ENV_JSON], 3.0);
    printf("resolve env-file: dynhc %.0f ns, floor (open+read+close+cJSON_Parse) %.0f ns, "
           "ratio %.2f",
           f[CASE_ENV_FILE].lib_ns, f[CASE_ENV_FILE].floor_ns, ratio[CASE_ENV_FILE]);
    print_goal(ratio[CASE_ENV_FILE], 1.5);
    printf("resolve yaml: dynhc %.0f ns, floor (open+read+close+libyaml events) %.0f ns, "
           "ratio %.2f",
           f[CASE_YAML].lib_ns, f[CASE_YAML].floor_ns, ratio[CASE_YAML]);
    print_goal(ratio[CASE_YAML], 0);
    printf("resolve-bench: defaults_ns=%.0f env_json_ratio=%.2f%s env_file_ratio=%.2f%s "
           "yaml_ratio=%.2f\n",
           f[CASE_DEFAULTS].lib_ns, ratio[CASE_ENV_JSON],
           ratio[CASE_ENV_JSON] <= 3.0 ? "" : " MISSED", ratio[CASE_ENV_FILE],
           ratio[CASE_ENV_FILE] <= 1.5 ? "" : " MISSED", ratio[CASE_YAML]);
    rc = 0;
done:
    for (int i = 0; i < CASE_COUNT; i++) {
        dynhc_resolver_free(cases[i].resolver);
    }
    remove_temps();
    return rc;
}
