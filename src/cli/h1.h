/* h1.h: watch's built-in HTTP/1.1 client, for the canaries and metrics
 * scrapes of plain http:// targets at an IP address (a fleet's pods): one
 * kept-alive connection per target, the requests built once, an exchange
 * costing one write and one read. libcurl stays for the rest (TLS, host names, credentials in the
 * URL) and for probe; docs/fleet.md says why. Built only with libcurl (the
 * URL parser and the target are curl's and http.c's). */
#ifndef DYNHC_CLI_H1_H
#define DYNHC_CLI_H1_H

#include "http.h"

typedef struct cli_h1 cli_h1;

/* What an exchange sends. */
typedef enum cli_h1_kind {
    CLI_H1_CANARY, /* the target's POST */
    CLI_H1_SCRAPE  /* a GET of its metrics */
} cli_h1_kind;

/* What an exchange did after a call. */
typedef enum cli_h1_state {
    CLI_H1_GOING, /* still going (or no exchange: an idle connection's event) */
    CLI_H1_ENDED  /* ended: judge it with cli_h1_judge() */
} cli_h1_state;

/*
 * The built-in client's connection for t (borrowed: it must outlive the
 * connection), when t can use it: an http:// URL whose host is an IPv4 or
 * IPv6 address and that carries no user or password. It also scrapes
 * metrics_url (may be NULL) when that is on the same server. Returns 0 with
 * *out set, or with *out NULL when t needs libcurl; -1 when out of memory.
 * slot is what the connection's epoll events carry besides a generation
 * (cli_h1_tag_slot() reads it back): the caller's index of it.
 */
int cli_h1_new(const cli_target *t, const char *metrics_url, uint32_t slot, cli_h1 **out);

/* Whether it scrapes the target's metrics too. */
int cli_h1_scrapes(const cli_h1 *c);

/* Closes the connection and frees it. NULL is a no-op. */
void cli_h1_free(cli_h1 *c);

/* Whether an epoll event's tag is a connection's; its slot. */
int cli_h1_is_tag(uint64_t tag);
uint32_t cli_h1_tag_slot(uint64_t tag);

/* Starts an exchange (one at a time): sends the request of kind
 * over the kept connection, or over a new one added to epoll_fd.
 * CLI_H1_ENDED when it ended at once (the connection refused, say). */
cli_h1_state cli_h1_start(cli_h1 *c, cli_h1_kind kind, int epoll_fd);

/* Moves the exchange on for the events of an epoll event tagged tag; an
 * event of a connection closed since is ignored. An idle connection that the
 * server closed is closed too. */
cli_h1_state cli_h1_on_event(cli_h1 *c, int epoll_fd, uint64_t tag, uint32_t events);

/* Ends the exchange in flight, if any: the connection is closed, as an
 * answer may still come on it. */
void cli_h1_abort(cli_h1 *c);

/* What the exchange that ended got: 1 with why it has no whole answer in
 * msg (one line), or 0 and the answer's status and body (NUL-terminated,
 * *len bytes, valid until the next exchange or cli_h1_trim()). */
int cli_h1_failure(const cli_h1 *c, char *msg, size_t size);
long cli_h1_status(const cli_h1 *c);
const char *cli_h1_body(const cli_h1 *c, size_t *len);

/* Judges the canary that ended, as cli_target_judge() does: healthy (1),
 * or not (0) with msg saying why. */
int cli_h1_judge(const cli_h1 *c, char *msg, size_t size);

/* Frees the answer's room when an answer made it large (a scrape): a
 * fleet's connections would otherwise hold one exposition each. */
void cli_h1_trim(cli_h1 *c);

#endif
