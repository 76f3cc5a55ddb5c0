/* transfers.c: the HTTP transfers of watch's checks, on CURL_GROUPS libcurl
 * multi handles driven by one epoll through curl_multi_socket_action(), so
 * that an event costs the work of its own socket, not a pass over every
 * target's.
 *
 * Why several multi handles: libcurl before 8.10 (Debian 12 has 7.88) walks
 * its whole connection cache in curl_multi_remove_handle() (to close
 * "connect-only" connections), so with one kept-alive connection per target
 * every check would cost a walk over all targets' connections. A target
 * always uses the same handle (by the hash of its name), so its connection
 * is still reused, and each walk covers 1/CURL_GROUPS of the connections.
 *
 * The built-in client's connections (h1.c) share the epoll; their events
 * carry a slot of w->slots and are told from libcurl's by their tag. */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256

/* The epoll tag of the wake-up pipe: no group has this index. */
#define WAKE_TAG UINT32_MAX

static uint64_t tag(uint32_t group, curl_socket_t fd)
{
    return (uint64_t)group << 32 | (uint32_t)fd;
}

/* libcurl asks to watch (or stop watching) a socket of a group's handle. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user_data, void *socket_data)
{
    (void)easy;
    (void)socket_data;
    curl_group *g = user_data;
    if (what == CURL_POLL_REMOVE) {
        /* The socket may be closed already, which removed it. */
        (void)epoll_ctl(g->w->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.u64 = tag(g->index, fd);
    if (epoll_ctl(g->w->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
        (errno != ENOENT || epoll_ctl(g->w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)) {
        return -1;
    }
    return 0;
}

/* libcurl asks to be called back after timeout_ms (-1: no timer). */
static int on_timer(CURLM *multi, long timeout_ms, void *user_data)
{
    (void)multi;
    curl_group *g = user_data;
    g->timer_ns = timeout_ms < 0 ? UINT64_MAX : dynhc_now_ns() + (uint64_t)timeout_ms * 1000000u;
    return 0;
}

int transfers_init(watch *w, int wake_fd)
{
    w->wake_fd = wake_fd;
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epoll_fd < 0) {
        return -1;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = tag(WAKE_TAG, 0);
    if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < CURL_GROUPS; i++) {
        curl_group *g = &w->groups[i];
        g->w = w;
        g->index = i;
        g->timer_ns = UINT64_MAX;
        g->multi = curl_multi_init();
        if (g->multi == NULL ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK) {
            return -1;
        }
    }
    return 0;
}

void transfers_free(watch *w)
{
    for (size_t i = 0; i < CURL_GROUPS; i++) {
        curl_multi_cleanup(w->groups[i].multi);
        w->groups[i].multi = NULL;
    }
    if (w->epoll_fd >= 0) {
        close(w->epoll_fd);
    }
    w->epoll_fd = -1;
    free(w->slots);
    free(w->free_slots);
    w->slots = NULL;
    w->free_slots = NULL;
}

curl_group *transfers_group(watch *w, const char *name)
{
    return &w->groups[cli_target_shard(name, CURL_GROUPS)];
}

void transfers_fit(watch *w, size_t targets)
{
    /* One kept-alive connection per target (the hash may put them all in
     * one group), plus room for the ones being replaced. */
    for (size_t i = 0; i < CURL_GROUPS; i++) {
        (void)curl_multi_setopt(w->groups[i].multi, CURLMOPT_MAXCONNECTS, (long)targets + 16);
    }
}

int transfers_h1_new(watch *w, server_target *st)
{
    st->h1 = NULL;
    if (w->opts->libcurl) {
        return 0;
    }
    uint32_t slot;
    if (w->free_count > 0) {
        slot = w->free_slots[--w->free_count];
    } else {
        if (w->slot_count == w->slot_cap) {
            if (w->slot_cap > UINT32_MAX / 4) {
                return -1;
            }
            uint32_t cap = w->slot_cap != 0 ? 2 * w->slot_cap : 16;
            server_target **slots = realloc(w->slots, cap * sizeof(*slots));
            if (slots != NULL) {
                w->slots = slots;
            }
            uint32_t *free_slots = realloc(w->free_slots, cap * sizeof(*free_slots));
            if (free_slots != NULL) {
                w->free_slots = free_slots;
            }
            if (slots == NULL || free_slots == NULL) {
                return -1;
            }
            w->slot_cap = cap;
        }
        slot = w->slot_count++;
    }
    w->slots[slot] = NULL;
    int rc = cli_h1_new(&st->target, st->scraper != NULL ? cli_scraper_url(st->scraper) : NULL,
                        slot, &st->h1);
    if (st->h1 == NULL) { /* libcurl's target, or out of memory */
        w->free_slots[w->free_count++] = slot;
        return rc;
    }
    w->slots[slot] = st;
    st->slot = slot;
    return 0;
}

void transfers_h1_free(watch *w, server_target *st)
{
    if (st->h1 != NULL) {
        cli_h1_free(st->h1);
        st->h1 = NULL;
        w->slots[st->slot] = NULL;
        w->free_slots[w->free_count++] = st->slot;
    }
}

/* Hands every finished transfer of g to watch_complete(). */
static void finish(curl_group *g)
{
    CURLMsg *m;
    int queued;
    while ((m = curl_multi_info_read(g->multi, &queued)) != NULL) {
        void *c = NULL;
        if (m->msg == CURLMSG_DONE &&
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c) == CURLE_OK && c != NULL) {
            watch_complete(g->w, c, m->data.result);
        }
    }
}

/* The earliest timer of any group, as a wait from now in ms, at most limit. */
static int timer_wait(const watch *w, uint64_t now, int limit)
{
    int ms = limit;
    for (size_t i = 0; i < CURL_GROUPS; i++) {
        uint64_t at = w->groups[i].timer_ns;
        if (at != UINT64_MAX) {
            uint64_t left = at > now ? (at - now + 999999) / 1000000 : 0;
            ms = left < (uint64_t)ms ? (int)left : ms;
        }
    }
    return ms;
}

int transfers_wait(watch *w, int limit_ms)
{
    struct epoll_event events[EVENTS_PER_WAIT];
    int running = 0;
    int n = epoll_wait(w->epoll_fd, events, EVENTS_PER_WAIT,
                       timer_wait(w, dynhc_now_ns(), limit_ms));
    if (n < 0 && errno != EINTR) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uint64_t tag = events[i].data.u64;
        uint32_t group = (uint32_t)(tag >> 32);
        if (cli_h1_is_tag(tag)) {
            server_target *st = w->slots[cli_h1_tag_slot(tag)];
            if (st != NULL && cli_h1_on_event(st->h1, w->epoll_fd, tag, events[i].events) ==
                                  CLI_H1_ENDED &&
                st->check != NULL && st->check->native) {
                watch_h1_complete(w, st->check);
            }
            continue;
        }
        if (group == WAKE_TAG) {
            char drain[64];
            while (read(w->wake_fd, drain, sizeof(drain)) > 0) {
            }
            continue;
        }
        int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_group *g = &w->groups[group];
        if (curl_multi_socket_action(g->multi, (curl_socket_t)(uint32_t)events[i].data.u64, flags,
                                     &running) != CURLM_OK) {
            return -1;
        }
        finish(g);
    }
    uint64_t now = dynhc_now_ns();
    for (size_t i = 0; i < CURL_GROUPS; i++) {
        curl_group *g = &w->groups[i];
        if (g->timer_ns <= now) {
            g->timer_ns = UINT64_MAX;
            if (curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK) {
                return -1;
            }
            finish(g);
        }
    }
    return 0;
}
