/* h1.c: the built-in HTTP/1.1 client of watch's checks (h1.h says which
 * targets use it). Each target keeps one connection, registered once with
 * epoll, edge-triggered, for reading and writing: an exchange is a send()
 * of the request built at start and, when the answer came, one recv(), with
 * no epoll_ctl() in between. The answer is parsed as it arrives
 * (h1_answer.c) and judged by http.c, as libcurl's are.
 *
 * A kept connection may have been closed by the server just as a request
 * went out (an idle timeout: uvicorn's is 5 s): an exchange that fails that
 * way before the first byte of an answer is tried once more on a new
 * connection, as libcurl does. */
#include "h1.h"
#include "h1_answer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* The epoll tag: the high half is TAG_BIT and the socket's generation, so
 * that an event of a socket closed since is told from its successor's. */
#define TAG_BIT 0x80000000u

typedef enum phase {
    IDLE,       /* no exchange (connected or not) */
    CONNECTING, /* connect() in progress */
    SENDING,    /* part of the request sent */
    RECEIVING   /* the request sent; the answer being read */
} phase;

/* Why an exchange failed before it had a whole answer. */
typedef enum fault {
    FAULT_NONE,
    FAULT_CONNECT,     /* sys_errno says why */
    FAULT_SEND,        /* sys_errno */
    FAULT_RECEIVE,     /* sys_errno */
    FAULT_NOTHING,     /* closed before any byte of an answer */
    FAULT_PARTIAL,     /* closed in the middle of the answer */
    FAULT_MALFORMED,   /* not HTTP/1.x as a client takes it: malformed says why */
    FAULT_TOO_LARGE,   /* past CLI_ANSWER_MAX */
    FAULT_NO_MEMORY
} fault;

struct cli_h1 {
    const cli_target *target;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char *requests[2]; /* by cli_h1_kind, built once; NULL: not by this client */
    size_t request_lens[2];
    cli_h1_kind kind;  /* of the exchange in flight */
    uint32_t slot;
    uint32_t generation; /* of the socket, in the epoll tag */
    int fd;              /* -1: not connected */
    phase phase;
    int reused;   /* the connection carried an exchange before */
    int retried;  /* this exchange is on its second connection */
    int readable;    /* an event said there is something to read */
    int peer_closed; /* an event said the server closed its side */
    size_t sent;
    cli_h1_answer answer;
    fault fault;
    int sys_errno;
};

static uint32_t next_generation;

/* Whether a header line of curl's list ("Name: value", "Name;", "Name:")
 * is one of name. */
static int names_header(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ';');
}

/* A request as libcurl would send it for the same transfer: with the
 * operator's headers (a canary's) as curl takes them ("Name;" sends an
 * empty value, "Name:" none at all, and either replaces dynhc's own of that
 * name), or with curl's "Accept: *\/\*" alone (a scrape's). body NULL: a
 * GET. NULL when out of memory. */
static char *build_request(const cli_target *t, const char *host_header, const char *path,
                           const char *body, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL) {
        return NULL;
    }
    const struct curl_slist *headers = body != NULL ? t->http->headers : NULL;
    int given_host = 0, given_agent = 0;
    for (const struct curl_slist *l = headers; l != NULL; l = l->next) {
        given_host |= names_header(l->data, "Host");
        given_agent |= names_header(l->data, "User-Agent");
    }
    fprintf(out, "%s %s HTTP/1.1\r\n", body != NULL ? "POST" : "GET", path);
    if (!given_host) {
        fprintf(out, "Host: %s\r\n", host_header);
    }
    if (!given_agent) {
        fprintf(out, "User-Agent: dynhc/%s\r\n", dynhc_version());
    }
    if (body == NULL) {
        fputs("Accept: */*\r\n\r\n", out);
    }
    for (const struct curl_slist *l = headers; l != NULL; l = l->next) {
        size_t n = strlen(l->data);
        if (n > 0 && l->data[n - 1] == ';' && memchr(l->data, ':', n) == NULL) {
            fprintf(out, "%.*s:\r\n", (int)(n - 1), l->data); /* an empty value */
        } else if (n > 0 && l->data[n - 1] != ':') {
            fprintf(out, "%s\r\n", l->data);
        }
    }
    if (body != NULL) {
        fprintf(out, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}

/* The address of an IPv4 or IPv6 literal (in brackets, as a URL has it). */
static int numeric_address(const char *host, unsigned port, struct sockaddr_storage *ss,
                           socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    size_t n = strlen(host);
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof(*in4);
        return 1;
    }
    char bare[64];
    if (n > 2 && n < sizeof(bare) + 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(bare, host + 1, n - 2);
        bare[n - 2] = '\0';
        if (inet_pton(AF_INET6, bare, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            *len = sizeof(*in6);
            return 1;
        }
    }
    return 0;
}

/* What a URL the built-in client can take gives it. */
typedef struct origin {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host_header[80]; /* HOST[:PORT], as the URL has them */
    char *path;           /* path and query */
} origin;

/* Parses url into o when it is an http:// URL at an IP address without
 * user, password or zone: 1; 0 when it is not; -1 when out of memory. */
static int parse_origin(const char *url, origin *o)
{
    memset(o, 0, sizeof(*o));
    CURLU *u = curl_url();
    if (u == NULL) {
        return -1;
    }
    char *scheme = NULL, *user = NULL, *password = NULL, *zone = NULL, *host = NULL;
    char *port = NULL, *path = NULL, *query = NULL;
    int rc = 0;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        rc = -1;
    } else if (uc == CURLUE_OK && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
               strcmp(scheme, "http") == 0 &&
               curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
               curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_NO_PASSWORD &&
               curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_NO_ZONEID &&
               curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
               curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        /* No port: the scheme's, and the Host header names none, as curl's. */
        (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
        (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
        unsigned number = port != NULL ? (unsigned)strtoul(port, NULL, 10) : 80u;
        int n = snprintf(o->host_header, sizeof(o->host_header), "%s%s%s", host,
                         port != NULL ? ":" : "", port != NULL ? port : "");
        size_t size = strlen(path) + (query != NULL ? strlen(query) + 1 : 0) + 1;
        if (n > 0 && (size_t)n < sizeof(o->host_header) &&
            numeric_address(host, number, &o->addr, &o->addr_len)) {
            o->path = malloc(size);
            rc = o->path != NULL ? 1 : -1;
            if (o->path != NULL) {
                snprintf(o->path, size, "%s%s%s", path, query != NULL ? "?" : "",
                         query != NULL ? query : "");
            }
        }
    }
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(zone);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

/* Whether two origins are one server. */
static int same_server(const origin *a, const origin *b)
{
    return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0 &&
           strcmp(a->host_header, b->host_header) == 0;
}

int cli_h1_new(const cli_target *t, const char *metrics_url, uint32_t slot, cli_h1 **out)
{
    origin canary, metrics;
    memset(&metrics, 0, sizeof(metrics));
    int usable = parse_origin(t->url, &canary);
    int scrapes = usable == 1 && metrics_url != NULL ? parse_origin(metrics_url, &metrics) : 0;
    /* The metrics of another server are libcurl's to read. */
    scrapes = scrapes == 1 ? same_server(&canary, &metrics) : scrapes;
    cli_h1 *c = usable == 1 && scrapes >= 0 ? calloc(1, sizeof(*c)) : NULL;
    if (c != NULL) {
        c->target = t;
        c->addr = canary.addr;
        c->addr_len = canary.addr_len;
        c->slot = slot;
        c->fd = -1;
        c->requests[CLI_H1_CANARY] = build_request(t, canary.host_header, canary.path, t->body,
                                                   &c->request_lens[CLI_H1_CANARY]);
        if (scrapes) {
            c->requests[CLI_H1_SCRAPE] = build_request(t, metrics.host_header, metrics.path,
                                                       NULL, &c->request_lens[CLI_H1_SCRAPE]);
        }
        if (c->requests[CLI_H1_CANARY] == NULL || (scrapes && c->requests[CLI_H1_SCRAPE] == NULL)) {
            cli_h1_free(c);
            c = NULL;
        }
    }
    free(canary.path);
    free(metrics.path);
    *out = c;
    /* Out of memory, unless the URL is simply not the built-in client's. */
    return c == NULL && usable != 0 ? -1 : 0;
}

int cli_h1_scrapes(const cli_h1 *c)
{
    return c->requests[CLI_H1_SCRAPE] != NULL;
}

static void disconnect(cli_h1 *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* which takes it out of epoll */
    }
    c->fd = -1;
    c->reused = 0;
    c->readable = 0;
    c->peer_closed = 0;
}

void cli_h1_free(cli_h1 *c)
{
    if (c == NULL) {
        return;
    }
    disconnect(c);
    cli_h1_answer_free(&c->answer, 0);
    free(c->requests[CLI_H1_CANARY]);
    free(c->requests[CLI_H1_SCRAPE]);
    free(c);
}

int cli_h1_is_tag(uint64_t tag)
{
    /* The wake-up pipe's tag has every high bit set; a generation never does. */
    uint32_t high = (uint32_t)(tag >> 32);
    return (high & TAG_BIT) != 0 && high != UINT32_MAX;
}

uint32_t cli_h1_tag_slot(uint64_t tag)
{
    return (uint32_t)tag;
}

static uint64_t tag_of(const cli_h1 *c)
{
    return (uint64_t)(TAG_BIT | c->generation) << 32 | c->slot;
}

/* Ends the exchange with a fault (the connection closed, as its state is
 * unknown) or, with FAULT_NONE, with the answer parsed. */
static cli_h1_state end(cli_h1 *c, fault f, int sys_errno)
{
    c->fault = f;
    c->sys_errno = sys_errno;
    c->phase = IDLE;
    if (f != FAULT_NONE || !c->answer.keep_alive) {
        disconnect(c);
    } else {
        c->reused = 1;
    }
    return CLI_H1_ENDED;
}

/* A new non-blocking connection, in epoll for both directions, edge-triggered.
 * 0, or an errno. */
static int connect_socket(cli_h1 *c, int epoll_fd)
{
    int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    c->fd = fd;
    c->generation = next_generation++ & ~TAG_BIT;
    if (c->generation == ~TAG_BIT) { /* would look like the wake-up pipe's half */
        c->generation = next_generation++ & ~TAG_BIT;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tag_of(c);
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int saved = errno;
        disconnect(c);
        return saved;
    }
    if (connect(fd, (const struct sockaddr *)&c->addr, c->addr_len) != 0 && errno != EINPROGRESS) {
        int saved = errno;
        disconnect(c);
        return saved;
    }
    return 0;
}

/* Empties the answer and the fault for a new exchange. */
static void reset_answer(cli_h1 *c)
{
    cli_h1_answer_reset(&c->answer);
    c->fault = FAULT_NONE;
    c->sys_errno = 0;
}

static cli_h1_state receive(cli_h1 *c, int epoll_fd);

/* Opens a connection for the exchange, or fails it. */
static cli_h1_state open_connection(cli_h1 *c, int epoll_fd)
{
    int err = connect_socket(c, epoll_fd);
    if (err != 0) {
        return end(c, FAULT_CONNECT, err);
    }
    c->phase = CONNECTING;
    c->sent = 0;
    return CLI_H1_GOING;
}

/* A kept connection failed before any answer: once more on a new one. */
static cli_h1_state retry(cli_h1 *c, int epoll_fd, fault f, int sys_errno)
{
    if (!c->reused || c->retried || c->answer.in.len > 0) {
        return end(c, f, sys_errno);
    }
    disconnect(c);
    c->retried = 1;
    reset_answer(c);
    return open_connection(c, epoll_fd);
}

/* Sends what is left of the request. */
static cli_h1_state send_request(cli_h1 *c, int epoll_fd)
{
    const char *request = c->requests[c->kind];
    size_t len = c->request_lens[c->kind];
    while (c->sent < len) {
        ssize_t n = send(c->fd, request + c->sent, len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->phase = SENDING; /* the next EPOLLOUT edge goes on */
            return CLI_H1_GOING;
        }
        if (n < 0) {
            return retry(c, epoll_fd, FAULT_SEND, errno);
        }
        c->sent += (size_t)n;
    }
    c->phase = RECEIVING;
    /* An answer may have come while the request was going out (a server
     * refusing it early): its edge is past, so read now. */
    return c->readable ? receive(c, epoll_fd) : CLI_H1_GOING;
}

cli_h1_state cli_h1_start(cli_h1 *c, cli_h1_kind kind, int epoll_fd)
{
    reset_answer(c);
    c->kind = kind;
    c->retried = 0;
    c->readable = 0;
    c->peer_closed = 0;
    c->sent = 0;
    if (c->fd < 0) {
        return open_connection(c, epoll_fd);
    }
    return send_request(c, epoll_fd);
}

/* Reads what came, until the socket is drained or the answer whole. */
static cli_h1_state receive(cli_h1 *c, int epoll_fd)
{
    cli_h1_answer *a = &c->answer;
    for (;;) {
        char *at;
        size_t room;
        if (cli_h1_answer_room(a, &at, &room) != 0) {
            return end(c, a->in.too_large ? FAULT_TOO_LARGE : FAULT_NO_MEMORY, 0);
        }
        ssize_t n = recv(c->fd, at, room, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = 0;
            return CLI_H1_GOING;
        }
        if (n < 0) {
            return retry(c, epoll_fd, FAULT_RECEIVE, errno);
        }
        if (n == 0) {
            if (a->in.len == 0) {
                return retry(c, epoll_fd, FAULT_NOTHING, 0);
            }
            return end(c, cli_h1_answer_closed(a) ? FAULT_NONE
                          : a->malformed != NULL  ? FAULT_MALFORMED
                                                  : FAULT_PARTIAL,
                       0);
        }
        if (cli_h1_answer_add(a, (size_t)n) != 0) {
            return end(c, a->in.too_large ? FAULT_TOO_LARGE : FAULT_MALFORMED, 0);
        }
        if (a->complete) {
            /* A server that shut its side with the answer would never
             * answer the next request. */
            if (c->peer_closed) {
                a->keep_alive = 0;
            }
            return end(c, FAULT_NONE, 0);
        }
        if ((size_t)n < room && !c->peer_closed) {
            /* A short read drained the socket: the next data is a new edge.
             * Not so the end of the connection when its edge came with the
             * data's: it is read now. */
            c->readable = 0;
            return CLI_H1_GOING;
        }
    }
}

/* An event of an idle connection: the server closed it (or sent what
 * nobody asked for): it is closed. */
static void idle_event(cli_h1 *c)
{
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK);
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        disconnect(c);
    }
}

cli_h1_state cli_h1_on_event(cli_h1 *c, int epoll_fd, uint64_t tag, uint32_t events)
{
    if (c->fd < 0 || tag != tag_of(c)) {
        return CLI_H1_GOING; /* a closed socket's */
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->readable = 1;
    }
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->peer_closed = 1;
    }
    switch (c->phase) {
    case IDLE:
        if (c->readable) {
            c->readable = 0;
            idle_event(c);
        }
        return CLI_H1_GOING;
    case CONNECTING: {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return CLI_H1_GOING;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err != 0) {
            return end(c, FAULT_CONNECT, err);
        }
        c->readable = 0; /* nothing can have come before the request */
        return send_request(c, epoll_fd);
    }
    case SENDING:
        return events & (EPOLLOUT | EPOLLERR | EPOLLHUP) ? send_request(c, epoll_fd)
                                                         : CLI_H1_GOING;
    case RECEIVING: return c->readable ? receive(c, epoll_fd) : CLI_H1_GOING;
    }
    return CLI_H1_GOING;
}

void cli_h1_abort(cli_h1 *c)
{
    if (c->phase != IDLE) {
        disconnect(c);
        c->phase = IDLE;
    }
}

int cli_h1_failure(const cli_h1 *c, char *msg, size_t size)
{
    char start[208];
    switch (c->fault) {
    case FAULT_NONE: return 0;
    case FAULT_CONNECT: snprintf(msg, size, "cannot connect: %s", strerror(c->sys_errno)); break;
    case FAULT_SEND:
        snprintf(msg, size, "the request could not be sent: %s", strerror(c->sys_errno));
        break;
    case FAULT_RECEIVE:
        snprintf(msg, size, "the answer could not be read: %s", strerror(c->sys_errno));
        break;
    case FAULT_NOTHING: snprintf(msg, size, "the connection closed without an answer"); break;
    case FAULT_PARTIAL:
        snprintf(msg, size, "the connection closed in the middle of the answer (%zu bytes read)",
                 c->answer.in.len);
        break;
    case FAULT_MALFORMED:
        snprintf(msg, size, "the answer is malformed (%s): %s", c->answer.malformed,
                 cli_target_excerpt(c->target, c->answer.in.text != NULL ? c->answer.in.text : "",
                                    start, sizeof(start)));
        break;
    case FAULT_TOO_LARGE:
        cli_answer_too_large(msg, size);
        break;
    case FAULT_NO_MEMORY: snprintf(msg, size, "out of memory"); break;
    }
    return 1;
}

long cli_h1_status(const cli_h1 *c)
{
    return c->answer.status;
}

const char *cli_h1_body(const cli_h1 *c, size_t *len)
{
    *len = c->answer.body_end - c->answer.head_end;
    return c->answer.in.text + c->answer.head_end;
}

int cli_h1_judge(const cli_h1 *c, char *msg, size_t size)
{
    size_t len;
    if (cli_h1_failure(c, msg, size)) {
        return 0;
    }
    const char *body = cli_h1_body(c, &len);
    return cli_target_judge(c->target, c->answer.status, body, len, msg, size);
}

void cli_h1_trim(cli_h1 *c)
{
    cli_h1_answer_free(&c->answer, 1);
}
