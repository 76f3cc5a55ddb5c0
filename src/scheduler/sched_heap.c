/* sched_heap.c: see sched_heap.h. */
#include "sched_heap.h"

#include "alloc.h"
#include "sched_internal.h"

/* Four children per node: half the depth of a binary heap, and a node's
 * children (4 x 16 bytes) share about one cache line, so a sift at a million
 * endpoints misses the cache half as often. */
#define ARITY 4
#define PARENT(i) (((i) - 1) / ARITY)

static void place(dynhcp_heap *h, uint32_t i, dynhcp_heap_entry e)
{
    h->entries[i] = e;
    e.ep->timer.heap_index = i;
}

static void sift_up(dynhcp_heap *h, uint32_t i)
{
    dynhcp_heap_entry e = h->entries[i];
    while (i > 0) {
        uint32_t parent = PARENT(i);
        if (h->entries[parent].due_ns <= e.due_ns) {
            break;
        }
        place(h, i, h->entries[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(dynhcp_heap *h, uint32_t i)
{
    dynhcp_heap_entry e = h->entries[i];
    for (;;) {
        uint32_t first = ARITY * i + 1;
        if (first >= h->len) {
            break;
        }
        uint32_t last = first + ARITY < h->len ? first + ARITY : h->len;
        uint32_t child = first;
        for (uint32_t c = first + 1; c < last; c++) {
            if (h->entries[c].due_ns < h->entries[child].due_ns) {
                child = c;
            }
        }
        if (h->entries[child].due_ns >= e.due_ns) {
            break;
        }
        place(h, i, h->entries[child]);
        i = child;
    }
    place(h, i, e);
}

/* Restores the order around i, whose key changed either way. */
static void sift(dynhcp_heap *h, uint32_t i)
{
    if (i > 0 && h->entries[PARENT(i)].due_ns > h->entries[i].due_ns) {
        sift_up(h, i);
    } else {
        sift_down(h, i);
    }
}

int dynhcp_heap_reserve(dynhcp_heap *h, uint32_t n)
{
    if (n <= h->capacity) {
        return 0;
    }
    uint32_t capacity = h->capacity ? h->capacity : 64;
    while (capacity < n) {
        capacity = capacity <= UINT32_MAX / 2 ? capacity * 2 : n;
    }
    dynhcp_heap_entry *grown = dynhcp_realloc(h->entries, (size_t)capacity * sizeof(*grown));
    if (grown == NULL) {
        return -1;
    }
    h->entries = grown;
    h->capacity = capacity;
    return 0;
}

void dynhcp_heap_set(dynhcp_heap *h, dynhc_endpoint *ep, uint64_t due)
{
    if (ep->timer.heap_index == DYNHCP_NOT_IN_HEAP) {
        dynhcp_heap_entry e = {due, ep};
        h->entries[h->len] = e;
        ep->timer.heap_index = h->len++;
        sift_up(h, ep->timer.heap_index);
        return;
    }
    h->entries[ep->timer.heap_index].due_ns = due;
    sift(h, ep->timer.heap_index);
}

void dynhcp_heap_remove(dynhcp_heap *h, dynhc_endpoint *ep)
{
    uint32_t i = ep->timer.heap_index;
    if (i == DYNHCP_NOT_IN_HEAP) {
        return;
    }
    ep->timer.heap_index = DYNHCP_NOT_IN_HEAP;
    if (i == --h->len) {
        return;
    }
    place(h, i, h->entries[h->len]);
    sift(h, i);
}

void dynhcp_heap_free(dynhcp_heap *h)
{
    dynhcp_free(h->entries);
    h->entries = NULL;
    h->len = h->capacity = 0;
}
