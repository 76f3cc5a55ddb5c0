/* dns.c: see dns.h. One c-ares channel, used only by the discovery thread;
 * the watch loop sees nothing but finished lists, under a mutex. */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <sys/select.h> /* ares.h uses fd_set and struct timeval without it */

#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* "[ipv6]:65535" and a NUL. */
#define TARGET_TEXT_SIZE (INET6_ADDRSTRLEN + 9)

/* How often a round in progress looks at the stop flag (milliseconds). */
#define STOP_POLL_MS 100

typedef struct list {
    char **items;
    size_t count;
    size_t capacity;
} list;

/* One name's state across rounds. */
typedef struct name_state {
    cli_dns_name name;
    list last;    /* its addresses at the last round that resolved it */
    list fresh;   /* this round's */
    int failed;   /* this round failed for it */
    int failing;  /* the last round failed for it: said once, until it resolves */
    char problem[128];
} name_state;

struct cli_dns {
    name_state *names;
    size_t name_count;
    uint64_t refresh_ns;
    int wake_fd;
    const dynhc_sched *log; /* whose sink the lines go through */
    ares_channel channel;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;   /* under lock */
    list handed;    /* the last list published, thread-only */
    int handed_any; /* one was, even an empty one */
    list pending;   /* published, not taken yet; under lock */
    int has_pending;
};

/* A lookup of one name, or of one SRV record's host. */
typedef struct query {
    name_state *state;
    unsigned port;
} query;

static void list_clear(list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i]);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static int list_add(list *l, const char *text)
{
    if (l->count == l->capacity) {
        size_t capacity = l->capacity ? l->capacity * 2 : 16;
        char **items = realloc(l->items, capacity * sizeof(*items));
        if (items == NULL) {
            return -1;
        }
        l->items = items;
        l->capacity = capacity;
    }
    if ((l->items[l->count] = strdup(text)) == NULL) {
        return -1;
    }
    l->count++;
    return 0;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_list(const list *a, const list *b)
{
    if (a->count != b->count) {
        return 0;
    }
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->items[i], b->items[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

int cli_dns_parse(const char *arg, cli_dns_name *out, char *why, size_t size)
{
    memset(out, 0, sizeof(*out));
    out->name = arg;
    if (arg[0] == '_') {
        /* SRV: the port comes with each record. */
        if (strchr(arg, ':') != NULL) {
            snprintf(why, size, "an SRV name (_SERVICE._PROTO.NAME) takes no port");
            return -1;
        }
        if (strstr(arg, "._") == NULL || arg[strlen(arg) - 1] == '.') {
            snprintf(why, size, "an SRV name of the form _SERVICE._PROTO.NAME");
            return -1;
        }
        return 0;
    }
    const char *colon = strrchr(arg, ':');
    char *end = NULL;
    unsigned long port = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == arg || colon[1] < '0' || colon[1] > '9' || *end != '\0' ||
        port == 0 || port > 65535) {
        snprintf(why, size,
                 "NAME:PORT with a port from 1 to 65535 (A/AAAA), or an SRV name "
                 "_SERVICE._PROTO.NAME");
        return -1;
    }
    out->port = (unsigned)port;
    return 0;
}

static void add_addresses(query *q, const struct ares_addrinfo *info)
{
    for (const struct ares_addrinfo_node *n = info->nodes; n != NULL; n = n->ai_next) {
        char address[INET6_ADDRSTRLEN];
        char text[TARGET_TEXT_SIZE];
        if (n->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)n->ai_addr;
            inet_ntop(AF_INET, &sin->sin_addr, address, sizeof(address));
            snprintf(text, sizeof(text), "%s:%u", address, q->port);
        } else if (n->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 =
                (const struct sockaddr_in6 *)(const void *)n->ai_addr;
            inet_ntop(AF_INET6, &sin6->sin6_addr, address, sizeof(address));
            snprintf(text, sizeof(text), "[%s]:%u", address, q->port);
        } else {
            continue;
        }
        if (list_add(&q->state->fresh, text) != 0) {
            q->state->failed = 1;
            snprintf(q->state->problem, sizeof(q->state->problem), "out of memory");
            return;
        }
    }
}

/* Whether status is the server's answer that there is nothing (NXDOMAIN or
 * no record of the type): a service scaled to zero, not a failure. */
static int is_empty_answer(int status)
{
    return status == ARES_ENOTFOUND || status == ARES_ENODATA;
}

static void fail(name_state *s, int status)
{
    s->failed = 1;
    snprintf(s->problem, sizeof(s->problem), "%s", ares_strerror(status));
}

static void on_addresses(void *arg, int status, int timeouts, struct ares_addrinfo *info)
{
    (void)timeouts;
    query *q = arg;
    if (status == ARES_SUCCESS) {
        add_addresses(q, info);
    } else if (!is_empty_answer(status)) {
        fail(q->state, status);
    }
    ares_freeaddrinfo(info);
    free(q);
}

static void look_up(ares_channel channel, name_state *s, const char *host, unsigned port)
{
    query *q = malloc(sizeof(*q));
    if (q == NULL) {
        s->failed = 1;
        snprintf(s->problem, sizeof(s->problem), "out of memory");
        return;
    }
    q->state = s;
    q->port = port;
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    ares_getaddrinfo(channel, host, NULL, &hints, on_addresses, q);
}

typedef struct srv_query {
    name_state *state;
    ares_channel channel;
} srv_query;

static void on_srv(void *arg, int status, int timeouts, unsigned char *answer, int length)
{
    (void)timeouts;
    srv_query *q = arg;
    struct ares_srv_reply *records = NULL;
    if (status == ARES_SUCCESS) {
        status = ares_parse_srv_reply(answer, length, &records);
    }
    if (status == ARES_SUCCESS) {
        for (const struct ares_srv_reply *r = records; r != NULL; r = r->next) {
            look_up(q->channel, q->state, r->host, r->port);
        }
    } else if (!is_empty_answer(status)) {
        fail(q->state, status);
    }
    ares_free_data(records);
    free(q);
}

/* Runs the channel until every query of the round has called back (0), or
 * stop is asked for (1: the rest are cancelled). */
static int run_channel(cli_dns *d)
{
    for (;;) {
        ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
        /* ares.h's ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign
         * bit for the last socket (UBSan: undefined): its bits, unsigned. */
        unsigned mask = (unsigned)ares_getsock(d->channel, sockets, ARES_GETSOCK_MAXNUM);
        struct pollfd fds[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short events = (short)((mask & (1u << i) ? POLLIN : 0) |
                                   (mask & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
            if (events != 0) {
                fds[n].fd = sockets[i];
                fds[n].events = events;
                fds[n].revents = 0;
                n++;
            }
        }
        if (n == 0) {
            return 0; /* nothing pending */
        }
        pthread_mutex_lock(&d->lock);
        int stopping = d->stopping;
        pthread_mutex_unlock(&d->lock);
        if (stopping) {
            ares_cancel(d->channel);
            return 1;
        }
        struct timeval max = {0, STOP_POLL_MS * 1000}, tv;
        struct timeval *wait = ares_timeout(d->channel, &max, &tv);
        int ms = (int)(wait->tv_sec * 1000 + wait->tv_usec / 1000);
        int ready = poll(fds, n, ms);
        if (ready <= 0) {
            ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
            continue;
        }
        for (nfds_t i = 0; i < n; i++) {
            short r = fds[i].revents;
            ares_process_fd(d->channel,
                            (r & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                            (r & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
        }
    }
}

/* Tells the operator when a name starts and stops failing, not each round. */
static void report(const cli_dns *d, name_state *s)
{
    if (s->failed && !s->failing) {
        cli_log(d->log, DYNHC_LOG_WARNING,
                "DNS lookup of %s failed: %s; keeping its %zu last targets until it resolves",
                s->name.name, s->problem, s->last.count);
    } else if (!s->failed && s->failing) {
        cli_log(d->log, DYNHC_LOG_INFO, "DNS lookup of %s works again: %zu targets",
                s->name.name, s->last.count);
    }
    s->failing = s->failed;
}

/* One round: every name looked up; the union of their addresses, sorted
 * and without repeats, into *all. Returns 0, 1 when stopped meanwhile, or
 * -1 when out of memory. */
static int resolve_round(cli_dns *d, list *all)
{
    for (size_t i = 0; i < d->name_count; i++) {
        name_state *s = &d->names[i];
        s->failed = 0;
        if (s->name.port == 0) {
            srv_query *q = malloc(sizeof(*q));
            if (q == NULL) {
                return -1;
            }
            q->state = s;
            q->channel = d->channel;
            ares_query(d->channel, s->name.name, ns_c_in, ns_t_srv, on_srv, q);
        } else {
            char host[256];
            size_t len = (size_t)(strrchr(s->name.name, ':') - s->name.name);
            snprintf(host, sizeof(host), "%.*s", (int)len, s->name.name);
            look_up(d->channel, s, host, s->name.port);
        }
    }
    if (run_channel(d) != 0) {
        return 1;
    }
    for (size_t i = 0; i < d->name_count; i++) {
        name_state *s = &d->names[i];
        if (!s->failed) {
            list_clear(&s->last);
            s->last = s->fresh;
            memset(&s->fresh, 0, sizeof(s->fresh));
        } else {
            list_clear(&s->fresh);
        }
        report(d, s);
        for (size_t k = 0; k < s->last.count; k++) {
            if (list_add(all, s->last.items[k]) != 0) {
                return -1;
            }
        }
    }
    if (all->count > 0) {
        qsort(all->items, all->count, sizeof(*all->items), compare_text);
    }
    size_t kept = 0;
    for (size_t i = 0; i < all->count; i++) {
        if (kept > 0 && strcmp(all->items[kept - 1], all->items[i]) == 0) {
            free(all->items[i]);
        } else {
            all->items[kept++] = all->items[i];
        }
    }
    all->count = kept;
    return 0;
}

static int copy_list(const list *from, list *to)
{
    for (size_t i = 0; i < from->count; i++) {
        if (list_add(to, from->items[i]) != 0) {
            list_clear(to);
            return -1;
        }
    }
    return 0;
}

/* Hands a new list to the watch loop when it differs from the last one. */
static void publish(cli_dns *d, list *all)
{
    if (d->handed_any && same_list(all, &d->handed)) {
        list_clear(all);
        return;
    }
    list copy = {0};
    if (copy_list(all, &copy) != 0) {
        list_clear(all);
        return; /* the next round tries again */
    }
    list_clear(&d->handed);
    d->handed = *all;
    d->handed_any = 1;
    pthread_mutex_lock(&d->lock);
    list_clear(&d->pending);
    d->pending = copy;
    d->has_pending = 1;
    pthread_mutex_unlock(&d->lock);
    ssize_t ignored = write(d->wake_fd, "", 1); /* full pipe: a wakeup is there already */
    (void)ignored;
}

static void *discover(void *arg)
{
    cli_dns *d = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        list all = {0};
        int round = resolve_round(d, &all);
        if (round == 0) {
            publish(d, &all);
        } else {
            list_clear(&all);
            if (round == 1) {
                return NULL;
            }
            cli_log(d->log, DYNHC_LOG_WARNING, "DNS discovery: out of memory; trying again later");
        }
        uint64_t at = (uint64_t)next.tv_sec * 1000000000u + (uint64_t)next.tv_nsec + d->refresh_ns;
        next.tv_sec = (time_t)(at / 1000000000u);
        next.tv_nsec = (long)(at % 1000000000u);
        pthread_mutex_lock(&d->lock);
        while (!d->stopping &&
               pthread_cond_timedwait(&d->cond, &d->lock, &next) != ETIMEDOUT) {
        }
        int stopping = d->stopping;
        pthread_mutex_unlock(&d->lock);
        if (stopping) {
            return NULL;
        }
    }
}

static void dns_free(cli_dns *d)
{
    for (size_t i = 0; i < d->name_count; i++) {
        list_clear(&d->names[i].last);
        list_clear(&d->names[i].fresh);
    }
    free(d->names);
    list_clear(&d->handed);
    list_clear(&d->pending);
    free(d);
}

cli_dns *cli_dns_start(const cli_dns_name *names, size_t n, const char *server,
                       uint64_t refresh_ns, int wake_fd, const dynhc_sched *log)
{
    int status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS) {
        cli_error("DNS discovery cannot start: %s", ares_strerror(status));
        return NULL;
    }
    cli_dns *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->names = calloc(n, sizeof(*d->names))) == NULL) {
        free(d);
        ares_library_cleanup();
        cli_error("out of memory");
        return NULL;
    }
    d->name_count = n;
    for (size_t i = 0; i < n; i++) {
        d->names[i].name = names[i];
    }
    d->refresh_ns = refresh_ns;
    d->wake_fd = wake_fd;
    d->log = log;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int made = pthread_mutex_init(&d->lock, NULL) == 0 && pthread_cond_init(&d->cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
    status = made ? ares_init(&d->channel) : ARES_ENOMEM;
    if (status == ARES_SUCCESS && server != NULL) {
        status = ares_set_servers_ports_csv(d->channel, server);
        if (status != ARES_SUCCESS) {
            char quoted[160];
            cli_usage_error("--dns-server %s: %s: expected HOST[:PORT][,HOST[:PORT]...]",
                            cli_quote(quoted, sizeof(quoted), server), ares_strerror(status));
            ares_destroy(d->channel);
            dns_free(d);
            ares_library_cleanup();
            return NULL;
        }
    }
    if (status != ARES_SUCCESS || pthread_create(&d->thread, NULL, discover, d) != 0) {
        cli_error("DNS discovery cannot start: %s",
                  status != ARES_SUCCESS ? ares_strerror(status) : strerror(errno));
        if (status == ARES_SUCCESS) {
            ares_destroy(d->channel);
        }
        dns_free(d);
        ares_library_cleanup();
        return NULL;
    }
    return d;
}

int cli_dns_take(cli_dns *d, char ***targets, size_t *count)
{
    pthread_mutex_lock(&d->lock);
    int fresh = d->has_pending;
    if (fresh) {
        *targets = d->pending.items;
        *count = d->pending.count;
        memset(&d->pending, 0, sizeof(d->pending));
        d->has_pending = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return fresh;
}

void cli_dns_free_targets(char **targets, size_t count)
{
    list l = {targets, count, count};
    list_clear(&l);
}

void cli_dns_stop(cli_dns *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    ares_destroy(d->channel);
    dns_free(d);
    ares_library_cleanup();
}
