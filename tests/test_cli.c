/*
 * test_cli.c: the command-line contract of SPEC 2, driven by data.
 *
 * Usage: test_cli DYNHC_BINARY CASES_DIR [FILTER]
 *
 * Every folder CASES_DIR/<case>/ is one test, run in name order:
 *   args             the arguments, one per line, the command first
 *   env              NAME=VALUE lines: the child's whole environment, plus
 *                    PATH unless given, so the caller's settings never leak in
 *   status           the expected exit status
 *   stdout           the exact expected standard output, or
 *   stdout.json      a JSON document the output must equal (cJSON_Compare), or
 *   stdout.contains  substrings, one per line, that the output must contain;
 *                    with none of the three, the output must be empty
 *   stdout.lines     the number of lines the output must have
 *   stdout.redirect  a path opened as the child's standard output instead
 *                    (e.g. /dev/full); the output is then not captured
 *   stdin            the child's standard input (else /dev/null)
 *   stderr, stderr.contains  as for stdout; with neither, stderr must be empty
 * The child runs in the case folder, so relative paths name its files. In
 * every file but the inputs, {DIR} stands for the case folder's absolute path
 * and {VERSION} for the version of the headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dynhc/version.h>

#define CHILD_TIMEOUT_MS 10000

/* The absolute path of the binary under test, from argv. */
static const char *cli_binary;

typedef struct buffer {
    char *data;
    size_t len;
    size_t cap;
} buffer;

static void buffer_append(buffer *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        assert_non_null(grown);
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static char *path_join(const char *dir, const char *name)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = malloc(size);
    assert_non_null(path);
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

/* The whole file, NUL-terminated; NULL when it does not exist. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno != ENOENT) {
            fail_msg("cannot open %s: %s", path, strerror(errno));
        }
        return NULL;
    }
    buffer b = {0};
    buffer_append(&b, "", 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buffer_append(&b, chunk, n);
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    return b.data;
}

/* text with every occurrence of the placeholders replaced. Frees text. */
static char *substitute(char *text, const char *dir)
{
    static const char *const names[] = {"{DIR}", "{VERSION}"};
    const char *values[] = {dir, DYNHC_VERSION_STRING};
    const size_t count = sizeof(names) / sizeof(names[0]);
    buffer b = {0};
    buffer_append(&b, "", 0);
    const char *p = text;
    while (*p != '\0') {
        size_t i = 0;
        while (i < count && strncmp(p, names[i], strlen(names[i])) != 0) {
            i++;
        }
        if (i < count) {
            buffer_append(&b, values[i], strlen(values[i]));
            p += strlen(names[i]);
        } else {
            buffer_append(&b, p, 1);
            p++;
        }
    }
    free(text);
    return b.data;
}

/* A file of the case with its placeholders replaced; NULL when absent. */
static char *case_file(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    char *text = read_file(path);
    free(path);
    return text != NULL ? substitute(text, dir) : NULL;
}

/* Splits text in place into lines (a final newline ends the last line, it
 * does not start an empty one). Returns a NULL-terminated array to free(). */
static char **split_lines(char *text, size_t *count)
{
    size_t n = 0, cap = 8;
    char **lines = malloc(cap * sizeof(*lines));
    assert_non_null(lines);
    char *p = text;
    while (*p != '\0') {
        if (n + 2 > cap) {
            cap *= 2;
            char **grown = realloc(lines, cap * sizeof(*lines));
            assert_non_null(grown);
            lines = grown;
        }
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    lines[n] = NULL;
    *count = n;
    return lines;
}

typedef struct outcome {
    int status; /* exit status, or -1 when killed by a signal */
    int signal;
    int timed_out;
    buffer out;
    buffer err;
} outcome;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
    long long left = deadline - now_ms();
    return left > 0 ? (int)left : 0;
}

/* Runs the binary in dir; only async-signal-safe calls after fork(). */
static void run_child(const char *dir, char **argv, char **envp, const char *redirect,
                      outcome *res)
{
    int out_pipe[2], err_pipe[2];
    assert_int_equal(pipe(out_pipe), 0);
    assert_int_equal(pipe(err_pipe), 0);
    int out_fd = redirect != NULL ? open(redirect, O_WRONLY) : out_pipe[1];
    if (out_fd < 0) {
        fail_msg("cannot open %s: %s", redirect, strerror(errno));
    }
    char input[4096];
    snprintf(input, sizeof(input), "%s/stdin", dir);
    int null_fd = open(access(input, F_OK) == 0 ? input : "/dev/null", O_RDONLY);
    assert_true(null_fd >= 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
            dup2(err_pipe[1], 2) < 0) {
            _exit(126);
        }
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(err_pipe[0]);
        close(err_pipe[1]);
        if (out_fd != out_pipe[1]) {
            close(out_fd);
        }
        close(null_fd);
        execve(cli_binary, argv, envp);
        _exit(127);
    }
    close(null_fd);
    if (out_fd != out_pipe[1]) {
        close(out_fd);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);

    /* Drain both pipes together so that a full one never blocks the child. */
    long long deadline = now_ms() + CHILD_TIMEOUT_MS;
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    buffer *sinks[2] = {&res->out, &res->err};
    int open_count = 2;
    while (open_count > 0 && !res->timed_out) {
        int ready = poll(fds, 2, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        assert_true(ready >= 0);
        if (ready == 0) {
            res->timed_out = 1;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            char chunk[4096];
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n > 0) {
                buffer_append(sinks[i], chunk, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_count--;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0) {
            close(fds[i].fd);
        }
    }

    int wstatus = 0;
    pid_t done = 0;
    while (!res->timed_out && (done = waitpid(pid, &wstatus, WNOHANG)) == 0) {
        if (remaining_ms(deadline) == 0) {
            res->timed_out = 1;
        } else {
            poll(NULL, 0, 5);
        }
    }
    if (res->timed_out) {
        kill(pid, SIGKILL);
        done = waitpid(pid, &wstatus, 0);
    }
    assert_int_equal(done, pid);
    res->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    res->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
}

/* The child's environment: the env file, plus PATH unless it sets one.
 * *path_entry receives the PATH string to free. */
static char **child_env(char *env_text, char **path_entry)
{
    char empty[] = "";
    size_t count = 0;
    char **lines = split_lines(env_text != NULL ? env_text : empty, &count);
    int has_path = 0;
    for (size_t i = 0; i < count; i++) {
        has_path |= strncmp(lines[i], "PATH=", 5) == 0;
    }
    const char *path = getenv("PATH");
    *path_entry = NULL;
    if (!has_path && path != NULL) {
        size_t size = strlen(path) + sizeof("PATH=");
        *path_entry = malloc(size);
        assert_non_null(*path_entry);
        snprintf(*path_entry, size, "PATH=%s", path);
        char **grown = realloc(lines, (count + 2) * sizeof(*lines));
        assert_non_null(grown);
        lines = grown;
        lines[count++] = *path_entry;
        lines[count] = NULL;
    }
    return lines;
}

/* Compares one output stream against the case's expectation files. Returns
 * the number of mismatches, each reported. */
static int check_stream(const char *dir, const char *stream, const buffer *actual)
{
    char name[64];
    int failures = 0;
    const char *text = actual->data != NULL ? actual->data : "";

    snprintf(name, sizeof(name), "%s", stream);
    char *exact = case_file(dir, name);
    snprintf(name, sizeof(name), "%s.json", stream);
    char *json = case_file(dir, name);
    snprintf(name, sizeof(name), "%s.contains", stream);
    char *contains = case_file(dir, name);
    snprintf(name, sizeof(name), "%s.lines", stream);
    char *lines = case_file(dir, name);

    if (exact != NULL && strcmp(exact, text) != 0) {
        print_error("%s differs.\n--- expected\n%s--- actual\n%s---\n", stream, exact, text);
        failures++;
    }
    if (json != NULL) {
        cJSON *want = cJSON_Parse(json);
        cJSON *got = cJSON_ParseWithOpts(text, NULL, 1);
        if (want == NULL) {
            print_error("%s.json itself is not valid JSON\n", stream);
            failures++;
        } else if (got == NULL || !cJSON_Compare(want, got, 1)) {
            char *printed = cJSON_PrintUnformatted(want);
            print_error("%s is not the expected JSON.\n--- expected\n%s\n--- actual\n%s---\n",
                        stream, printed, text);
            cJSON_free(printed);
            failures++;
        } else if (actual->len == 0 || text[actual->len - 1] != '\n') {
            print_error("%s does not end with a newline\n", stream);
            failures++;
        }
        cJSON_Delete(want);
        cJSON_Delete(got);
    }
    if (contains != NULL) {
        size_t count = 0;
        char **wanted = split_lines(contains, &count);
        for (size_t i = 0; i < count; i++) {
            if (wanted[i][0] != '\0' && strstr(text, wanted[i]) == NULL) {
                print_error("%s lacks \"%s\".\n--- actual\n%s---\n", stream, wanted[i], text);
                failures++;
            }
        }
        free(wanted);
    }
    if (lines != NULL) {
        long want = strtol(lines, NULL, 10);
        long got = 0;
        for (const char *p = text; *p != '\0'; p++) {
            got += *p == '\n';
        }
        if (got != want) {
            print_error("%s has %ld lines, not %ld\n", stream, got, want);
            failures++;
        }
    }
    if (exact == NULL && json == NULL && contains == NULL && actual->len > 0) {
        print_error("%s should be empty.\n--- actual\n%s---\n", stream, text);
        failures++;
    }
    free(exact);
    free(json);
    free(contains);
    free(lines);
    return failures;
}

static void run_case(void **state)
{
    const char *dir = *state;

    char *args_text = case_file(dir, "args");
    assert_non_null(args_text);
    char *status_text = case_file(dir, "status");
    if (status_text == NULL) {
        fail_msg("%s/status is missing", dir);
    }
    char *env_text = case_file(dir, "env");
    char *redirect = case_file(dir, "stdout.redirect");
    if (redirect != NULL) {
        redirect[strcspn(redirect, "\n")] = '\0';
    }

    /* argv[0] is the program name, as a shell would pass it. */
    size_t argc = 0;
    char **args = split_lines(args_text, &argc);
    char **argv = malloc((argc + 2) * sizeof(*argv));
    assert_non_null(argv);
    static char program_name[] = "dynhc";
    argv[0] = program_name;
    memcpy(argv + 1, args, (argc + 1) * sizeof(*argv));
    char *path_entry;
    char **envp = child_env(env_text, &path_entry);

    outcome res = {0};
    run_child(dir, argv, envp, redirect, &res);

    int failures = 0;
    if (res.timed_out) {
        print_error("killed after %d ms\n", CHILD_TIMEOUT_MS);
        failures++;
    } else if (res.signal != 0) {
        print_error("killed by signal %d\n", res.signal);
        failures++;
    }
    int want_status = atoi(status_text);
    if (res.status != want_status) {
        print_error("exit status %d, expected %d\n", res.status, want_status);
        failures++;
    }
    if (redirect == NULL) {
        failures += check_stream(dir, "stdout", &res.out);
    }
    failures += check_stream(dir, "stderr", &res.err);

    free(res.out.data);
    free(res.err.data);
    free(envp);
    free(path_entry);
    free(argv);
    free(args);
    free(redirect);
    free(env_text);
    free(status_text);
    free(args_text);
    if (failures > 0) {
        fail_msg("%d mismatch(es) in %s", failures, dir);
    }
}

/* path made absolute against the working directory (not canonical: the
 * child only needs it to stay valid after changing folders). */
static char *absolute_path(const char *path)
{
    if (path[0] == '/') {
        return strdup(path);
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return NULL;
    }
    return path_join(cwd, path);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The case folders of dir, sorted by name. */
static char **list_cases(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof(*names));
    struct dirent *e;
    while (names != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char *path = path_join(dir, e->d_name);
        struct stat st;
        int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        free(path);
        if (!is_dir) {
            continue;
        }
        if (n == cap) {
            cap *= 2;
            char **grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL) {
                break;
            }
            names = grown;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (names == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    qsort(names, n, sizeof(*names), compare_names);
    *count = n;
    return names;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s DYNHC_BINARY CASES_DIR [FILTER]\n", argv[0]);
        return 2;
    }
    /* Absolute, because each child changes into its case folder. */
    char *binary = absolute_path(argv[1]);
    char *cases = absolute_path(argv[2]);
    if (binary == NULL || cases == NULL || access(binary, X_OK) != 0) {
        fprintf(stderr, "cannot run %s\n", argv[1]);
        return 2;
    }
    cli_binary = binary;
    if (argc == 4) {
        cmocka_set_test_filter(argv[3]);
    }

    size_t count = 0;
    char **names = list_cases(cases, &count);
    struct CMUnitTest *tests = calloc(count ? count : 1, sizeof(*tests));
    char **dirs = calloc(count ? count : 1, sizeof(*dirs));
    if (tests == NULL || dirs == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        dirs[i] = path_join(cases, names[i]);
        tests[i].name = names[i];
        tests[i].test_func = run_case;
        tests[i].initial_state = dirs[i];
    }
    int failed = _cmocka_run_group_tests("cli", tests, count, NULL, NULL);
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
        free(dirs[i]);
    }
    free(names);
    free(dirs);
    free(tests);
    free(cases);
    free(binary);
    return failed;
}
