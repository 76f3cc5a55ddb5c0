/* sched_endpoint.c: registering and removing endpoints: names (unique,
 * hashed), slots (the high half of check ids) and metric labels. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "sched_internal.h"
#include "sized.h"
#include "text.h"

const char *dynhc_endpoint_name(const dynhc_endpoint *ep)
{
    return ep != NULL ? ep->name : NULL;
}

int dynhc_endpoint_is_registered(const dynhc_endpoint *ep)
{
    return ep != NULL && !atomic_load_explicit(&ep->removed, memory_order_acquire);
}

int dynhc_endpoint_is_ready(const dynhc_endpoint *ep)
{
    return dynhc_endpoint_is_registered(ep) && atomic_load(&ep->ready);
}

/* ---- references ------------------------------------------------------------ */

dynhc_endpoint *dynhc_endpoint_ref(dynhc_endpoint *ep)
{
    if (ep != NULL) {
        /* The caller holds one: the count cannot reach zero meanwhile. */
        atomic_fetch_add_explicit(&ep->refs, 1, memory_order_relaxed);
    }
    return ep;
}

void dynhc_endpoint_release(dynhc_endpoint *ep)
{
    if (ep != NULL) {
        dynhcp_endpoint_release(ep);
    }
}

/* ---- endpoints ------------------------------------------------------------- */

/* A zeroed endpoint on a cache line boundary (its lines each hold their
 * part: see struct dynhc_endpoint), inside a block that
 * dynhcp_endpoint_allocation() gives back; NULL when out of memory. The
 * allocator a host injects is a malloc, which aligns to 16 bytes at most. */
static dynhc_endpoint *new_endpoint(void)
{
    void *block = dynhcp_calloc(1, sizeof(dynhc_endpoint) + DYNHCP_CACHE_LINE - 1);
    if (block == NULL) {
        return NULL;
    }
    uintptr_t line = DYNHCP_CACHE_LINE;
    uintptr_t at = ((uintptr_t)block + line - 1) & ~(line - 1);
    dynhc_endpoint *ep = (dynhc_endpoint *)at;
    ep->allocation_offset = (uint8_t)(at - (uintptr_t)block);
    return ep;
}

/* Room for one more endpoint everywhere it will be stored, so that
 * registration cannot fail halfway, and in the tick's batch. */
static int reserve_endpoint(dynhc_sched *s)
{
    if (dynhcp_table_reserve(&s->names, s->endpoint_count + 1) != 0) {
        return -1;
    }
    if (s->free_count == 0 && s->slot_count == s->slot_capacity) {
        uint32_t capacity = s->slot_capacity ? s->slot_capacity * 2 : 64;
        dynhc_endpoint **slots = dynhcp_realloc(s->slots, capacity * sizeof(*slots));
        if (slots == NULL) {
            return -1;
        }
        s->slots = slots;
        uint32_t *free_slots = dynhcp_realloc(s->free_slots, capacity * sizeof(*free_slots));
        if (free_slots == NULL) {
            return -1;
        }
        s->free_slots = free_slots;
        s->slot_capacity = capacity;
    }
    if (dynhcp_timers_reserve(&s->timers, s->timers.len + 1) != 0) {
        return -1;
    }
    /* The tick's batch too: a tick then never allocates (see collect_due). */
    if (s->endpoint_count + 3 > UINT32_MAX ||
        dynhcp_sched_reserve_batch_locked(s, (uint32_t)s->endpoint_count + 3) != 0) {
        return -1;
    }
    return 0;
}

/* Label names an endpoint's extra labels may not take (SPEC 3): dynhc's
 * own (the endpoint's name, a family's result and le), and those that
 * Prometheus, prometheus-operator and kube-state-metrics attach to a
 * target. A sample label that clashes with a target label is renamed
 * exported_NAME by the scraper (without honorLabels), and a query that
 * groups by it then sees one series for the whole target. */
static const char *const own_labels[] = {"dynhc_endpoint", "result", "le"};
static const char *const target_labels[] = {"job",     "instance", "endpoint",  "namespace",
                                            "pod",     "service",  "container", "node"};

static int listed(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *dynhc_label_name_refusal(const char *name)
{
    if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') ||
                          (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_')) {
        return "a label name starts with a letter or '_'";
    }
    if (strncmp(name, "__", 2) == 0) {
        return "names starting with '__' are Prometheus's own";
    }
    if (listed(name, own_labels, sizeof(own_labels) / sizeof(own_labels[0]))) {
        return "dynhc's own label";
    }
    if (listed(name, target_labels, sizeof(target_labels) / sizeof(target_labels[0]))) {
        return "a label that Prometheus or its operator attaches to every scraped target";
    }
    for (const char *p = name + 1; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_')) {
            return "a label name holds only letters, digits and '_'";
        }
    }
    return NULL;
}

/* Whether labels[i] can be written. Its name is valid (the format's
 * syntax, not reserved, not "__..."), but it may repeat an earlier one:
 * Prometheus rejects a series with a label given twice as a whole, so the
 * repeat is left out instead, from every series of the endpoint alike. */
static int label_usable(const dynhc_label *labels, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(labels[j].name, labels[i].name) == 0) {
            return 0;
        }
    }
    return 1;
}

/* Copies the labels that the metrics can write (label_usable) into one
 * block: the pointer array (name, value, ..., NULL), then the strings one
 * after the other (reports copy them in one go). */
static int copy_labels(const dynhc_label *labels, size_t n, const char *const **out)
{
    *out = NULL;
    if (n > 0 && labels == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i].name == NULL || labels[i].value == NULL ||
            dynhc_label_name_refusal(labels[i].name) != NULL) {
            return DYNHC_ERR_INVALID_ARG;
        }
    }
    size_t kept = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (label_usable(labels, i)) {
            kept += 2;
            bytes += strlen(labels[i].name) + strlen(labels[i].value) + 2;
        }
    }
    if (kept == 0) {
        return DYNHC_OK;
    }
    const char **block = dynhcp_malloc((kept + 1) * sizeof(*block) + bytes);
    if (block == NULL) {
        return DYNHC_ERR_NOMEM;
    }
    char *text = (char *)(block + kept + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!label_usable(labels, i)) {
            continue;
        }
        const char *both[2] = {labels[i].name, labels[i].value};
        for (size_t j = 0; j < 2; j++) {
            size_t len = strlen(both[j]) + 1;
            memcpy(text, both[j], len);
            block[k++] = text;
            text += len;
        }
    }
    block[k] = NULL;
    *out = block;
    return DYNHC_OK;
}

int dynhc_sched_add(dynhc_sched *s, const dynhc_endpoint_options *options, dynhc_endpoint **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    dynhc_endpoint_options o; /* the fields inside the caller's size */
    if (s == NULL || options == NULL ||
        dynhcp_copy_sized(&o, sizeof(o), options,
                          DYNHCP_SIZE_UP_TO(dynhc_endpoint_options, destroy)) != DYNHC_OK) {
        return DYNHC_ERR_INVALID_ARG;
    }
    const char *name = o.name;
    const dynhc_result *payload = o.payload;
    if (name == NULL || name[0] == '\0' || payload == NULL ||
        dynhc_result_text(payload) == NULL || o.send == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhc_endpoint *ep = new_endpoint();
    size_t name_len = strlen(name) + 1;
    if (ep == NULL || (ep->name = dynhcp_malloc(name_len)) == NULL) {
        dynhcp_free(ep != NULL ? dynhcp_endpoint_allocation(ep) : NULL);
        return DYNHC_ERR_NOMEM;
    }
    memcpy(ep->name, name, name_len);
    int status = copy_labels(o.labels, o.label_count, &ep->labels);
    if (status != DYNHC_OK) {
        dynhcp_free(ep->name);
        dynhcp_free(dynhcp_endpoint_allocation(ep));
        return status;
    }
    ep->sched = s;
    ep->send = o.send;
    ep->user_data = o.user_data;
    ep->destroy = o.destroy;

    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    uint64_t now = dynhcp_sched_now(s); /* the clock is a callback: not under the lock */
    pthread_mutex_lock(&s->lock);
    if (reserve_endpoint(s) != 0) {
        status = DYNHC_ERR_NOMEM;
    } else if (dynhcp_table_find(&s->names, name) != NULL) {
        status = DYNHC_ERR_INVALID_ARG;
    }
    if (status != DYNHC_OK) {
        pthread_mutex_unlock(&s->lock);
        dynhcp_free((void *)(uintptr_t)ep->labels);
        dynhcp_free(ep->name);
        dynhcp_free(dynhcp_endpoint_allocation(ep));
        return status;
    }
    /* A result is immutable but for its count of references: the scheduler
     * takes one, whatever the constness of the caller's pointer. */
    ep->payload = dynhc_result_ref((dynhc_result *)(uintptr_t)payload);
    ep->slot = s->free_count > 0 ? s->free_slots[--s->free_count] : s->slot_count++;
    ep->first_sequence = s->check_counter;
    s->slots[ep->slot] = ep;
    dynhcp_table_insert(&s->names, ep);
    s->endpoint_count++;
    atomic_init(&ep->ready, s->starting_ready);
    atomic_init(&ep->traffic.requests, 0);
    atomic_init(&ep->traffic.last_activity_ns, 0);
    atomic_init(&ep->traffic.last_progress_ns, 0);
    atomic_init(&ep->traffic.busy_since_ns, 0);
    atomic_init(&ep->stalled, 0);
    atomic_init(&ep->last_success_ns, 0);
    ep->last_change_ns = now; /* its status holds since it was registered */
    atomic_init(&ep->removed, 0);
    atomic_init(&ep->refs, 1); /* the registration's */
    ep->tracked = (uint8_t)dynhcp_sched_is_used(s, name);
    s->tracked_count += ep->tracked;
    s->tracked_ready += ep->tracked && s->starting_ready;
    dynhcp_sched_update_overall(s, &t);
    if (s->enabled || s->stall_ns > 0) { /* stall detection looks at it even without checks */
        ep->due_ns = dynhcp_later(now, dynhcp_sched_random_below(s, s->spread_ns + 1));
        dynhcp_sched_plan_locked(s, ep, now);
    }
    dynhcp_wakeup w = dynhcp_sched_wakeup_locked(s);
    pthread_mutex_unlock(&s->lock);

    const char *origin = dynhc_result_origin(payload);
    const char *source = dynhc_source_name(dynhc_result_source(payload));
    if (origin != NULL) {
        dynhcp_sched_log(s, DYNHC_LOG_INFO, "Health check payload for endpoint '%s' from %s %s: %s",
                         name, source, origin, dynhc_result_text(payload));
    } else {
        dynhcp_sched_log(s, DYNHC_LOG_INFO, "Health check payload for endpoint '%s' from %s: %s",
                         name, source, dynhc_result_text(payload));
    }
    dynhcp_sched_announce(s, &t);
    dynhcp_wakeup_call(s, w);
    if (out != NULL) {
        *out = ep;
    }
    return DYNHC_OK;
}

dynhc_endpoint *dynhc_sched_find(dynhc_sched *s, const char *name)
{
    if (s == NULL || name == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    dynhc_endpoint *ep = dynhcp_table_find(&s->names, name);
    if (ep != NULL) {
        dynhcp_endpoint_hold_locked(ep); /* registered: the scheduler holds one */
    }
    pthread_mutex_unlock(&s->lock);
    return ep;
}

int dynhc_sched_remove_endpoint(dynhc_sched *s, dynhc_endpoint *ep)
{
    if (s == NULL || ep == NULL || ep->sched != s) {
        return DYNHC_ERR_INVALID_ARG;
    }
    dynhcp_transitions t = DYNHCP_TRANSITIONS_NONE;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&ep->removed)) {
        pthread_mutex_unlock(&s->lock);
        return DYNHC_ERR_NOT_FOUND;
    }
    atomic_store_explicit(&ep->removed, 1, memory_order_release);
    dynhcp_timers_remove(&s->timers, ep);
    dynhcp_table_remove(&s->names, ep->name);
    s->slots[ep->slot] = NULL;
    s->free_slots[s->free_count++] = ep->slot;
    s->endpoint_count--;
    if (ep->in_flight) {
        s->in_flight--;
    }
    if (ep->tracked) {
        s->tracked_count--;
        s->tracked_ready -= (size_t)atomic_load(&ep->ready);
    }
    dynhcp_sched_update_overall(s, &t);
    pthread_mutex_unlock(&s->lock);
    dynhcp_sched_announce(s, &t);
    /* Freed now, or by whoever still uses it (a tick sending its check, a
     * thread announcing its transition) when that is done. */
    dynhcp_endpoint_release(ep);
    return DYNHC_OK;
}
