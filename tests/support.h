/* support.h: helpers shared by the tests: a fake environment, temporary
 * files, and JSON comparison. */
#ifndef DYNHCP_TEST_SUPPORT_H
#define DYNHCP_TEST_SUPPORT_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <dynhc/sched.h>

/* A fake environment: up to 16 NAME=VALUE pairs. */
typedef struct fake_env {
    const char *names[16];
    const char *values[16];
    size_t count;
} fake_env;

void fake_env_set(fake_env *env, const char *name, const char *value);
/* A dynhc_getenv_fn reading a fake_env passed as user data. */
const char *fake_env_get(const char *name, void *user_data);

/* The built-in payload resolved with an empty environment (free it with
 * dynhc_result_free); fails the test when resolution fails. */
struct dynhc_result *builtin_payload(void);

/* dynhc_sched_add() of an endpoint without labels, the options given one by
 * one; returns its status (out may be NULL). */
int sched_add(dynhc_sched *s, const char *name, const dynhc_result *payload, dynhc_send_fn send,
              void *user_data, dynhc_destroy_fn destroy, dynhc_endpoint **out);

/* A fresh temporary folder (removed with everything in it by
 * temp_dir_remove); returns its path, static storage per call site. */
char *temp_dir_create(void);
void temp_dir_remove(char *dir);
/* Writes text to DIR/NAME and returns the full path (caller frees). */
char *temp_file(const char *dir, const char *name, const char *text);

/* Fails the test unless actual parses to the same JSON as expected_text. */
void assert_json_equal(const char *expected_text, const char *actual_text);

/* What a scheduler test records of its callbacks: transitions ("NAME=up;",
 * "*=down;" for the overall status), log lines ("LEVEL|MESSAGE\n") and
 * endpoints destroyed. The callbacks below take it as their user data: a
 * fixture that starts with one can be given to them as it is. */
typedef struct sched_record {
    char transitions[512];
    char log[4096];
    int destroyed;
} sched_record;

void sched_record_transition(dynhc_sched *s, dynhc_endpoint *ep, const char *name, int ready,
                             void *record);
void sched_record_log(dynhc_log_level level, const char *message, void *record);
void sched_record_destroy(void *record);

#endif
