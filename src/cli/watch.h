/* watch.h: what watch.c (the loop, signals, the status server) and
 * fleet.c (one endpoint per target, kept in step with the target list)
 * share. Built only with libcurl. */
#ifndef DYNHC_CLI_WATCH_H
#define DYNHC_CLI_WATCH_H

#include "h1.h"
#include "http.h"
#include "scrape.h"
#include "targets.h"

typedef struct check_in_flight check_in_flight;
typedef struct cli_dns cli_dns; /* dns.h, with c-ares */
typedef struct server_target server_target;
typedef struct watch watch;

/* The libcurl multi handles that checks share out (transfers.c says why
 * more than one). */
#define CURL_GROUPS 64

typedef struct curl_group {
    watch *w;
    uint32_t index;
    CURLM *multi;
    uint64_t timer_ns; /* when libcurl wants to be called; UINT64_MAX: never */
} curl_group;

/* The payloads by model type: the options' own, and one per type that a
 * target's __dynhc_model_type asks for, resolved when first needed. */
#define WATCH_MODEL_TYPES 4

struct watch {
    dynhc_sched *sched;
    curl_group groups[CURL_GROUPS];
    int epoll_fd;
    int wake_fd;             /* the signals' pipe, read end */
    check_in_flight *checks; /* doubly linked, oldest first: by deadline */
    check_in_flight *last_check;
    check_in_flight *scrapes; /* the built-in client's, the same way */
    check_in_flight *last_scrape;
    const cli_options *opts;
    cli_http_options http; /* what every transfer carries besides its body */
    dynhc_result *payload;                       /* the options' resolution */
    dynhc_result *by_type[WATCH_MODEL_TYPES];    /* NULL: not resolved yet */
    server_target **targets;                     /* sorted by name */
    size_t target_count;
    cli_file_stamp *stamps;                      /* one per --targets file */
    cli_dns *dns;                                /* --dns discovery; NULL: none */
    char **discovered;                           /* what it found last: ADDRESS:PORT */
    size_t discovered_count;
    uint64_t failed_checks;                      /* since the last summary */
    /* The targets with a built-in client's connection, by the slot that
     * their connection's epoll events carry; NULL: a free slot. */
    server_target **slots;
    uint32_t slot_count; /* used so far */
    uint32_t slot_cap;
    uint32_t *free_slots; /* a stack of the free ones below slot_count */
    uint32_t free_count;
};

/* A round: the scrape of the server's metrics, then, when the scrape says
 * so, the canary. */
struct check_in_flight {
    cli_exchange *x; /* the canary through libcurl */
    int scraping;    /* the round reads the metrics (else: its canary) */
    int native;      /* through st->h1 (else: libcurl) */
    server_target *st;
    uint64_t id;
    uint64_t timeout_ns;
    uint64_t deadline_ns;
    check_in_flight *prev, *next; /* w->checks, by deadline_ns */
    /* A scrape of st->h1's is also in w->scrapes, by its own deadline (half
     * the round's, as libcurl's scrapes have). */
    int in_scrapes;
    uint64_t scrape_deadline_ns;
    check_in_flight *scrape_prev, *scrape_next;
};

/* An endpoint's user data: its target, and the round it has in flight. */
struct server_target {
    watch *w;
    cli_target_spec spec;
    cli_target target;
    cli_scraper *scraper; /* NULL: canaries only (--no-metrics) */
    dynhc_endpoint *ep; /* borrowed: this thread alone adds and removes */
    curl_group *group;  /* where its transfers go, so that its connection is reused */
    cli_h1 *h1;         /* its connection; NULL: libcurl carries its transfers */
    uint32_t slot;      /* of h1, in w->slots */
    check_in_flight *check; /* &round while a round is in flight, else NULL */
    check_in_flight round;
};

/* transfers.c: the multi handles and the epoll that drives them, waking
 * also for wake_fd. 0, or -1 (errno says why; transfers_free() then). */
int transfers_init(watch *w, int wake_fd);
void transfers_free(watch *w);
/* The group of a target name. */
curl_group *transfers_group(watch *w, const char *name);
/* Sizes the connection caches for a number of targets. */
void transfers_fit(watch *w, size_t targets);

/* Gives st a built-in client's connection when its target can use one
 * (h1.h) and --libcurl is not given: st->h1 and st->slot set, or st->h1
 * NULL. 0, or -1 when out of memory. */
int transfers_h1_new(watch *w, server_target *st);
/* Frees st's connection and its slot. */
void transfers_h1_free(watch *w, server_target *st);
/* Waits for sockets or libcurl's timers, at most limit_ms, and moves the
 * transfers on; finished ones go to watch_complete(). 0, or -1 when
 * libcurl or epoll failed. */
int transfers_wait(watch *w, int limit_ms);

/* Judges c's finished transfer, and reports it and frees it, or, after a
 * scrape that asks for one, starts the round's canary. */
void watch_complete(watch *w, check_in_flight *c, CURLcode rc);

/* The same for c's canary over the built-in client, which ended. */
void watch_h1_complete(watch *w, check_in_flight *c);

/* Stops c's transfer (scrape or canary) and ends the round without a
 * report (fleet.c removes a target's so). */
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
