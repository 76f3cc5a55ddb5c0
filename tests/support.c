/* support.c: see support.h. */
#include "support.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dynhc/dynhc.h>
#include <dirent.h>
#include <unistd.h>

void fake_env_set(fake_env *env, const char *name, const char *value)
{
    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->names[i], name) == 0) {
            env->values[i] = value;
            return;
        }
    }
    assert_true(env->count < 16);
    env->names[env->count] = name;
    env->values[env->count] = value;
    env->count++;
}

const char *fake_env_get(const char *name, void *user_data)
{
    const fake_env *env = user_data;
    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->names[i], name) == 0) {
            return env->values[i];
        }
    }
    return NULL;
}

char *temp_dir_create(void)
{
    char *dir = malloc(64);
    assert_non_null(dir);
    snprintf(dir, 64, "/tmp/dynhc-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

void temp_dir_remove(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
    free(dir);
}

char *temp_file(const char *dir, const char *name, const char *text)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = malloc(size);
    assert_non_null(path);
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

void assert_json_equal(const char *expected_text, const char *actual_text)
{
    assert_non_null(actual_text);
    cJSON *expected = cJSON_Parse(expected_text);
    cJSON *actual = cJSON_Parse(actual_text);
    assert_non_null(expected);
    assert_non_null(actual);
    int same = cJSON_Compare(expected, actual, 1);
    cJSON_Delete(expected);
    cJSON_Delete(actual);
    if (!same) {
        fail_msg("JSON differs\nexpected: %s\n  actual: %s", expected_text, actual_text);
    }
}

int sched_add(dynhc_sched *s, const char *name, const dynhc_result *payload, dynhc_send_fn send,
              void *user_data, dynhc_destroy_fn destroy, dynhc_endpoint **out)
{
    dynhc_endpoint_options o = DYNHC_ENDPOINT_OPTIONS_INIT;
    o.name = name;
    o.payload = payload;
    o.send = send;
    o.user_data = user_data;
    o.destroy = destroy;
    return dynhc_sched_add(s, &o, out);
}

dynhc_result *builtin_payload(void)
{
    fake_env env = {0};
    dynhc_resolver *r = dynhc_resolver_new();
    assert_non_null(r);
    assert_int_equal(dynhc_resolver_set_getenv(r, fake_env_get, &env), DYNHC_OK);
    dynhc_result *res = NULL;
    assert_int_equal(dynhc_resolver_resolve(r, &res), DYNHC_OK);
    dynhc_resolver_free(r);
    return res;
}

/* The scheduler calls back from any thread (the stress tests tick, complete
 * and record traffic from several): appends are serialized, or two would
 * write past the end of a buffer together. */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

static void record_line(char *buf, size_t size, const char *line)
{
    pthread_mutex_lock(&record_lock);
    strncat(buf, line, size - strlen(buf) - 1);
    pthread_mutex_unlock(&record_lock);
}

void sched_record_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                             void *record)
{
    (void)s;
    sched_record *r = record;
    char line[64];
    snprintf(line, sizeof(line), "%s=%s;", ep != NULL ? name : "*", ready ? "up" : "down");
    record_line(r->transitions, sizeof(r->transitions), line);
}

void sched_record_log(dynhc_log_level level, const char *message, void *record)
{
    sched_record *r = record;
    char line[600];
    snprintf(line, sizeof(line), "%d|%s\n", (int)level, message);
    record_line(r->log, sizeof(r->log), line);
}

void sched_record_destroy(void *record)
{
    pthread_mutex_lock(&record_lock);
    ((sched_record *)record)->destroyed++;
    pthread_mutex_unlock(&record_lock);
}
