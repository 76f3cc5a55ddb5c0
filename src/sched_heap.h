/* sched_heap.h: the scheduler's timer heap. Every scheduled endpoint has one
 * entry keyed by the time it next needs attention (its next check, or the
 * deadline of the check in flight); the endpoint knows its place
 * (heap_index), so moving or removing it is O(log n). Internal; the
 * scheduler's lock guards it. */
#ifndef DH_SCHED_HEAP_H
#define DH_SCHED_HEAP_H

#include <stdint.h>

typedef struct dynhc_endpoint dynhc_endpoint;

#define DH_NOT_IN_HEAP UINT32_MAX

/* An entry keeps the key beside the pointer so that sifting touches only
 * the heap's array. */
typedef struct dh_heap_entry {
    uint64_t due_ns;
    dynhc_endpoint *ep;
} dh_heap_entry;

typedef struct dh_heap {
    dh_heap_entry *entries;
    uint32_t len;
    uint32_t capacity;
} dh_heap;

/* Room for n entries in all, so that dh_heap_set() never allocates.
 * 0, or -1 when out of memory (the heap is unchanged). */
int dh_heap_reserve(dh_heap *h, uint32_t n);

/* Puts ep in the heap at due, or moves it there. */
void dh_heap_set(dh_heap *h, dynhc_endpoint *ep, uint64_t due);

/* Takes ep out of the heap; nothing when it is not in it. */
void dh_heap_remove(dh_heap *h, dynhc_endpoint *ep);

void dh_heap_free(dh_heap *h);

#endif
