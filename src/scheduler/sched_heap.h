/* sched_heap.h: a heap of endpoints by time, for the timer queue
 * (sched_timers.c): its timers beyond the wheel, and the ones whose
 * millisecond has come. The endpoint knows its place (timer.heap_index),
 * so moving or removing it is O(log n). Internal; the scheduler's lock
 * guards it. */
#ifndef DYNHCP_SCHED_HEAP_H
#define DYNHCP_SCHED_HEAP_H

#include <stdint.h>

typedef struct dynhc_endpoint dynhc_endpoint;

#define DYNHCP_NOT_IN_HEAP UINT32_MAX

/* An entry keeps the key beside the pointer so that sifting touches only
 * the heap's array. */
typedef struct dynhcp_heap_entry {
    uint64_t due_ns;
    dynhc_endpoint *ep;
} dynhcp_heap_entry;

typedef struct dynhcp_heap {
    dynhcp_heap_entry *entries;
    uint32_t len;
    uint32_t capacity;
} dynhcp_heap;

/* Room for n entries in all, so that dynhcp_heap_set() never allocates.
 * 0, or -1 when out of memory (the heap is unchanged). */
int dynhcp_heap_reserve(dynhcp_heap *h, uint32_t n);

/* Puts ep in the heap at due, or moves it there. */
void dynhcp_heap_set(dynhcp_heap *h, dynhc_endpoint *ep, uint64_t due);

/* Takes ep out of the heap; nothing when it is not in it. */
void dynhcp_heap_remove(dynhcp_heap *h, dynhc_endpoint *ep);

void dynhcp_heap_free(dynhcp_heap *h);

#endif
