/* watch.h: what watch.c (the loop, signals, the status server) and
 * fleet.c (one endpoint per target, kept in step with the target list)
 * share. Built only with libcurl. */
#ifndef DYNHC_CLI_WATCH_H
#define DYNHC_CLI_WATCH_H

#include "http.h"
#include "targets.h"

typedef struct check_in_flight check_in_flight;
typedef struct server_target server_target;

/* The payloads by model type: the options' own, and one per type that a
 * target's __dynhc_model_type asks for, resolved when first needed. */
#define WATCH_MODEL_TYPES 4

typedef struct watch {
    dynhc_sched *sched;
    CURLM *multi;
    check_in_flight *checks; /* doubly linked */
    const cli_options *opts;
    dynhc_result *payload;                       /* the options' resolution */
    dynhc_result *by_type[WATCH_MODEL_TYPES];    /* NULL: not resolved yet */
    server_target **targets;                     /* sorted by name */
    size_t target_count;
    cli_file_stamp *stamps;                      /* one per --targets file */
} watch;

/* An endpoint's user data: its target, and the check it has in flight. */
struct server_target {
    watch *w;
    cli_target_spec spec;
    cli_target target;
    dynhc_endpoint *ep; /* borrowed: this thread alone adds and removes */
    check_in_flight *check;
};

struct check_in_flight {
    cli_exchange *x;
    server_target *st;
    uint64_t id;
    uint64_t deadline_ns;
    check_in_flight *prev, *next;
};

/* Stops c's transfer and frees it (fleet.c removes a target's so). */
void watch_drop(watch *w, check_in_flight *c);

/* Starts a check (the scheduler's send callback). */
int watch_send(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check, void *user_data);

/*
 * Makes the endpoints those of list (taken over, left empty): targets that
 * are gone are removed (a check in flight stopped), new ones added, those
 * whose key is unchanged kept with their state. All or nothing: on failure
 * (after printing why) the endpoints are as they were. Returns CLI_EXIT_OK
 * or another exit status.
 */
int fleet_apply(watch *w, cli_target_list *list);

/* Reads the targets again and applies them; a failure keeps the current
 * ones and says so. */
void fleet_reload(watch *w);

/* Removes every endpoint. */
void fleet_clear(watch *w);

#endif
