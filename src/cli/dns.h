/* dns.h: DNS discovery for watch (SPEC 6): names re-resolved periodically,
 * the way a Kubernetes headless service is found. A name with a port
 * ("vllm.ns.svc.cluster.local:8000") gives one target per A/AAAA address;
 * an SRV name ("_http._tcp.vllm.ns.svc.cluster.local") one per SRV record
 * and address of its host, on the record's port. Resolution runs with
 * c-ares on a thread of its own, so a slow DNS server never delays a
 * check; each change of the whole list is handed to the watch loop, which
 * a write to a descriptor wakes. Built only with c-ares. */
#ifndef DYNHC_CLI_DNS_H
#define DYNHC_CLI_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

typedef struct cli_dns_name {
    const char *name; /* borrowed (argv) */
    unsigned port;    /* A/AAAA: the port of every address; 0 for SRV */
} cli_dns_name;

/* Parses a --dns value: "NAME:PORT", or an SRV name "_SERVICE._PROTO.NAME"
 * (no port: the records give it). Returns 0, or -1 with why set to what
 * was expected. */
int cli_dns_parse(const char *arg, cli_dns_name *out, char *why, size_t size);

typedef struct cli_dns cli_dns;

/*
 * Starts resolving names[0..n) now and every refresh_ns after. server is
 * "HOST[:PORT][,...]" (NULL: the system's resolv.conf). After each round
 * whose list differs from the last one handed over, one byte is written to
 * wake_fd (non-blocking: a full pipe already holds a wakeup). A name that
 * fails to resolve keeps its last addresses, and the failure is logged
 * through log's sink (cli_log) when it starts and when it ends, not every
 * round; an answer that there is no such name or record (NXDOMAIN, NODATA)
 * is no failure but an empty list: a service scaled to zero. Returns NULL
 * after printing why (c-ares cannot start, a bad server list, no memory).
 */
cli_dns *cli_dns_start(const cli_dns_name *names, size_t n, const char *server,
                       uint64_t refresh_ns, int wake_fd, const dynhc_sched *log);

/*
 * The newest list, when one came since the last call: *targets holds
 * *count "ADDRESS:PORT" texts (IPv6 in brackets), sorted and without
 * repeats; free it with cli_dns_free_targets(). Returns 1 with a new list, 0
 * when nothing changed (*targets untouched).
 */
int cli_dns_take(cli_dns *d, char ***targets, size_t *count);

void cli_dns_free_targets(char **targets, size_t count);

/* Stops the thread (within one round's DNS timeout) and frees d. */
void cli_dns_stop(cli_dns *d);

#endif
