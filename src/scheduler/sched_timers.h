/* sched_timers.h: the scheduler's timer queue. Every scheduled endpoint has
 * one timer keyed by the time it next needs attention (its next check, or
 * the deadline of the check in flight). Internal; the scheduler's lock
 * guards it.
 *
 * A timing wheel of one-millisecond slots (the scheduler's resolution)
 * holds the timers due within the next 16 s or so, each slot a few lists
 * threaded through its endpoints: setting, moving and removing a timer
 * there is O(1) and touches only the endpoint and its list neighbours,
 * which a tick has usually just touched. Timers further out wait in a heap
 * (sched_heap.c) and move into the wheel, in order, as it turns. A slot
 * whose millisecond comes is emptied into a small heap, so that the
 * earliest timer is always known exactly: timers come out in the order of
 * their times, whatever their millisecond. */
#ifndef DYNHCP_SCHED_TIMERS_H
#define DYNHCP_SCHED_TIMERS_H

#include <stdint.h>

#include "sched_heap.h"

typedef struct dynhc_endpoint dynhc_endpoint;

/* Where a timer is. */
enum { DYNHCP_TIMER_NONE, DYNHCP_TIMER_NEAR, DYNHCP_TIMER_WHEEL, DYNHCP_TIMER_FAR,
       DYNHCP_TIMER_NEVER };

/* The wheel's span in milliseconds: a 10 s interval (the default) plus a
 * 3 s timeout, and a power of two. */
#define DYNHCP_WHEEL_SLOTS 16384u
/* Lists per slot: walked side by side when the slot's millisecond comes,
 * their cache misses overlap (one list would take them one by one). */
#define DYNHCP_WHEEL_LISTS 4u

/* The part of an endpoint the queue owns; all zero: not scheduled. */
typedef struct dynhcp_timer {
    uint64_t due_ns;
    dynhc_endpoint *next; /* its wheel slot's list */
    dynhc_endpoint *prev;
    uint32_t heap_index;  /* in the near or far heap */
    uint8_t where;        /* DYNHCP_TIMER_* */
    uint8_t list;         /* which of its wheel slot's lists */
} dynhcp_timer;

typedef struct dynhcp_timers {
    /* Timers whose millisecond has come (key <= cursor), in order. */
    dynhcp_heap near;
    /* The wheel: DYNHCP_WHEEL_LISTS list heads per slot, a bit per
     * non-empty slot; the timers of keys cursor + 1 .. cursor +
     * DYNHCP_WHEEL_SLOTS. Allocated by the first reserve. */
    dynhc_endpoint **slots;
    uint64_t *occupied;
    uint32_t in_wheel;
    uint32_t turn; /* the list the next timer of a slot joins */
    /* Timers beyond the wheel, in order. */
    dynhcp_heap far;
    /* The last millisecond opened, as a key (the time in milliseconds,
     * rounded up). */
    uint64_t cursor;
    uint32_t len; /* scheduled endpoints, the ones never due included */
} dynhcp_timers;

/* Room for n timers in all, so that dynhcp_timers_set() never allocates.
 * 0, or -1 when out of memory (the queue is unchanged but for room). */
int dynhcp_timers_reserve(dynhcp_timers *t, uint32_t n);

/* Schedules ep at due, or moves it there. A timer at UINT64_MAX is kept
 * but never comes first: it is never due. */
void dynhcp_timers_set(dynhcp_timers *t, dynhc_endpoint *ep, uint64_t due);

/* Unschedules ep; nothing when it is not scheduled. */
void dynhcp_timers_remove(dynhcp_timers *t, dynhc_endpoint *ep);

/* The endpoint with the earliest timer if that timer is due at now (its
 * time, ep->timer.due_ns, <= now), else NULL; never one at UINT64_MAX.
 * Turns the wheel to now's millisecond at most. */
dynhc_endpoint *dynhcp_timers_due(dynhcp_timers *t, uint64_t now);

/* The earliest time, rounded up to the scheduler's 1 ms grid unless that
 * would pass the end of the clock; DYNHC_NO_DEADLINE (UINT64_MAX) when no
 * timer will ever be due. Changes nothing. */
uint64_t dynhcp_timers_deadline(const dynhcp_timers *t);

void dynhcp_timers_free(dynhcp_timers *t);

#endif
