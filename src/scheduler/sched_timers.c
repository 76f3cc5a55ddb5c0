/* sched_timers.c: see sched_timers.h.
 *
 * A timer's key is its time in milliseconds rounded up, so that the timers
 * of one key are all due by the key's millisecond. Invariants: the near
 * heap holds the keys up to the cursor, the wheel the keys cursor + 1 ..
 * cursor + DYNHCP_WHEEL_SLOTS (one key per slot, slot = key mod the span,
 * its timers in DYNHCP_WHEEL_LISTS lists), the far heap the keys beyond;
 * so the near heap's least is the earliest timer of all, and when the near
 * heap is empty the next key to open is the wheel's next occupied slot,
 * else the far heap's least. The wheel turns
 * only as far as the time a tick is given: its span starts at about now,
 * and what is set for the next 16 s lands in it. */
#include "sched_timers.h"

#include <string.h>

#include "alloc.h"
#include "sched_internal.h"

#define SLOT_MASK (DYNHCP_WHEEL_SLOTS - 1)
#define WORDS (DYNHCP_WHEEL_SLOTS / 64)

static uint64_t key_of(uint64_t due)
{
    uint64_t ms = due / DYNHCP_SCHED_RESOLUTION_NS;
    return ms + (due % DYNHCP_SCHED_RESOLUTION_NS != 0);
}

static int slot_empty(const dynhcp_timers *t, uint32_t slot)
{
    for (uint32_t k = 0; k < DYNHCP_WHEEL_LISTS; k++) {
        if (t->slots[slot * DYNHCP_WHEEL_LISTS + k] != NULL) {
            return 0;
        }
    }
    return 1;
}

static void wheel_link(dynhcp_timers *t, dynhc_endpoint *ep, uint64_t key)
{
    uint32_t slot = (uint32_t)(key & SLOT_MASK);
    /* The slot's lists take turns, so that they are about as long. */
    uint32_t list = t->turn++ % DYNHCP_WHEEL_LISTS;
    dynhc_endpoint **head = &t->slots[slot * DYNHCP_WHEEL_LISTS + list];
    t->occupied[slot / 64] |= 1ull << (slot % 64);
    ep->timer.list = (uint8_t)list;
    ep->timer.prev = NULL;
    ep->timer.next = *head;
    if (*head != NULL) {
        (*head)->timer.prev = ep;
    }
    *head = ep;
    t->in_wheel++;
}

static void wheel_unlink(dynhcp_timers *t, dynhc_endpoint *ep)
{
    dynhc_endpoint *next = ep->timer.next;
    dynhc_endpoint *prev = ep->timer.prev;
    if (next != NULL) {
        next->timer.prev = prev;
    }
    if (prev != NULL) {
        prev->timer.next = next;
    } else {
        uint32_t slot = (uint32_t)(key_of(ep->timer.due_ns) & SLOT_MASK);
        t->slots[slot * DYNHCP_WHEEL_LISTS + ep->timer.list] = next;
        if (next == NULL && slot_empty(t, slot)) {
            t->occupied[slot / 64] &= ~(1ull << (slot % 64));
        }
    }
    t->in_wheel--;
}

/* Puts ep, in none of the three, where its time (set) belongs. */
static void place(dynhcp_timers *t, dynhc_endpoint *ep)
{
    uint64_t due = ep->timer.due_ns;
    if (due == UINT64_MAX) {
        ep->timer.where = DYNHCP_TIMER_NEVER;
        return;
    }
    uint64_t key = key_of(due);
    ep->timer.heap_index = DYNHCP_NOT_IN_HEAP;
    if (key <= t->cursor) {
        ep->timer.where = DYNHCP_TIMER_NEAR;
        dynhcp_heap_set(&t->near, ep, due);
    } else if (key - t->cursor <= DYNHCP_WHEEL_SLOTS) {
        ep->timer.where = DYNHCP_TIMER_WHEEL;
        wheel_link(t, ep, key);
    } else {
        ep->timer.where = DYNHCP_TIMER_FAR;
        dynhcp_heap_set(&t->far, ep, due);
    }
}

/* Takes ep out of wherever it is (it stays counted in len). */
static void unplace(dynhcp_timers *t, dynhc_endpoint *ep)
{
    switch (ep->timer.where) {
    case DYNHCP_TIMER_NEAR:
        dynhcp_heap_remove(&t->near, ep);
        break;
    case DYNHCP_TIMER_WHEEL:
        wheel_unlink(t, ep);
        break;
    case DYNHCP_TIMER_FAR:
        dynhcp_heap_remove(&t->far, ep);
        break;
    default:
        break;
    }
    ep->timer.where = DYNHCP_TIMER_NONE;
}

/* The key of the wheel's first occupied slot after the cursor (the wheel
 * is not empty). */
static uint64_t next_occupied(const dynhcp_timers *t)
{
    uint32_t start = (uint32_t)((t->cursor + 1) & SLOT_MASK);
    /* Word by word from start's, round the wheel and back to start's word,
     * whose bits below start are the last slots. */
    for (uint32_t n = 0; n <= WORDS; n++) {
        uint32_t w = (start / 64 + n) % WORDS;
        uint64_t bits = t->occupied[w];
        if (n == 0) {
            bits &= ~0ull << (start % 64);
        }
        if (bits != 0) {
            uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(bits);
            return t->cursor + 1 + ((slot - start) & SLOT_MASK);
        }
    }
    return t->cursor + 1; /* not reached: in_wheel counts the occupied slots' timers */
}

/* The least key after the cursor that has timers; UINT64_MAX when none. */
static uint64_t next_key(const dynhcp_timers *t)
{
    if (t->in_wheel > 0) {
        return next_occupied(t);
    }
    return t->far.len > 0 ? key_of(t->far.entries[0].due_ns) : UINT64_MAX;
}

/* Turns the wheel to key, which no timer of the wheel or the far heap
 * precedes: key's slot (its timers, if any, are key's) empties into the
 * near heap, and the far timers that the span now reaches move in. */
static void turn_to(dynhcp_timers *t, uint64_t key)
{
    t->cursor = key;
    /* The slot first: key + span lands in the same slot, once emptied.
     * Its lists are walked side by side, an endpoint of each at a time:
     * each step of a list waits for memory, the lists' steps overlap. */
    uint32_t slot = (uint32_t)(key & SLOT_MASK);
    dynhc_endpoint *walk[DYNHCP_WHEEL_LISTS];
    memcpy(walk, &t->slots[slot * DYNHCP_WHEEL_LISTS], sizeof(walk));
    memset(&t->slots[slot * DYNHCP_WHEEL_LISTS], 0, sizeof(walk));
    t->occupied[slot / 64] &= ~(1ull << (slot % 64));
    for (int more = 1; more;) {
        more = 0;
        for (uint32_t k = 0; k < DYNHCP_WHEEL_LISTS; k++) {
            dynhc_endpoint *ep = walk[k];
            if (ep == NULL) {
                continue;
            }
            walk[k] = ep->timer.next;
            more |= walk[k] != NULL;
            /* The tick sends and completes these next: the other two lines
             * of their hot fields (sched_internal.h) are fetched meanwhile. */
            __builtin_prefetch((const char *)ep + DYNHCP_CACHE_LINE, 1);
            __builtin_prefetch((const char *)ep + 2 * DYNHCP_CACHE_LINE, 1);
            t->in_wheel--;
            ep->timer.where = DYNHCP_TIMER_NEAR;
            ep->timer.heap_index = DYNHCP_NOT_IN_HEAP;
            dynhcp_heap_set(&t->near, ep, ep->timer.due_ns);
        }
    }
    while (t->far.len > 0 && key_of(t->far.entries[0].due_ns) - key <= DYNHCP_WHEEL_SLOTS) {
        dynhc_endpoint *ep = t->far.entries[0].ep;
        dynhcp_heap_remove(&t->far, ep);
        place(t, ep);
    }
}

/* due rounded up to the scheduler's grid, or due when that would pass the
 * end of the clock. */
static uint64_t round_up(uint64_t due)
{
    uint64_t rest = due % DYNHCP_SCHED_RESOLUTION_NS;
    if (rest == 0) {
        return due;
    }
    uint64_t up = DYNHCP_SCHED_RESOLUTION_NS - rest;
    return due > UINT64_MAX - up ? due : due + up;
}

/* The earliest time in key's slot (it has timers). */
static uint64_t slot_least(const dynhcp_timers *t, uint64_t key)
{
    uint64_t least = UINT64_MAX;
    dynhc_endpoint *const *lists = &t->slots[(key & SLOT_MASK) * DYNHCP_WHEEL_LISTS];
    for (uint32_t k = 0; k < DYNHCP_WHEEL_LISTS; k++) {
        for (const dynhc_endpoint *ep = lists[k]; ep != NULL; ep = ep->timer.next) {
            least = ep->timer.due_ns < least ? ep->timer.due_ns : least;
        }
    }
    return least;
}

int dynhcp_timers_reserve(dynhcp_timers *t, uint32_t n)
{
    if (t->slots == NULL) {
        dynhc_endpoint **slots =
            dynhcp_calloc((size_t)DYNHCP_WHEEL_SLOTS * DYNHCP_WHEEL_LISTS, sizeof(*slots));
        uint64_t *occupied = dynhcp_calloc(WORDS, sizeof(*occupied));
        if (slots == NULL || occupied == NULL) {
            dynhcp_free(slots);
            dynhcp_free(occupied);
            return -1;
        }
        t->slots = slots;
        t->occupied = occupied;
    }
    return dynhcp_heap_reserve(&t->near, n) == 0 && dynhcp_heap_reserve(&t->far, n) == 0 ? 0
                                                                                           : -1;
}

void dynhcp_timers_set(dynhcp_timers *t, dynhc_endpoint *ep, uint64_t due)
{
    uint8_t where = ep->timer.where;
    if (where == DYNHCP_TIMER_NONE) {
        t->len++;
    } else if (where == DYNHCP_TIMER_NEAR && due != UINT64_MAX && key_of(due) <= t->cursor) {
        ep->timer.due_ns = due;
        dynhcp_heap_set(&t->near, ep, due); /* a move within the heap */
        return;
    } else {
        unplace(t, ep);
    }
    ep->timer.due_ns = due;
    place(t, ep);
}

void dynhcp_timers_remove(dynhcp_timers *t, dynhc_endpoint *ep)
{
    if (ep->timer.where == DYNHCP_TIMER_NONE) {
        return;
    }
    unplace(t, ep);
    t->len--;
}

dynhc_endpoint *dynhcp_timers_due(dynhcp_timers *t, uint64_t now)
{
    uint64_t limit = key_of(now);
    while (t->near.len == 0) {
        uint64_t key = next_key(t);
        if (key > limit) {
            /* Nothing is due: the wheel still turns to now, so that its span
             * starts at now for the timers set next (once it exists). */
            if (limit > t->cursor && t->slots != NULL) {
                turn_to(t, limit);
            }
            return NULL;
        }
        turn_to(t, key);
    }
    dynhc_endpoint *first = t->near.entries[0].ep;
    return first->timer.due_ns <= now ? first : NULL;
}

uint64_t dynhcp_timers_deadline(const dynhcp_timers *t)
{
    if (t->near.len > 0) {
        return round_up(t->near.entries[0].due_ns);
    }
    if (t->in_wheel > 0) {
        /* Every time of a slot rounds up to its key's millisecond, but in
         * the clock's last millisecond, where the times themselves count. */
        uint64_t key = next_occupied(t);
        return key <= UINT64_MAX / DYNHCP_SCHED_RESOLUTION_NS ? key * DYNHCP_SCHED_RESOLUTION_NS
                                                               : round_up(slot_least(t, key));
    }
    return t->far.len > 0 ? round_up(t->far.entries[0].due_ns) : UINT64_MAX;
}

void dynhcp_timers_free(dynhcp_timers *t)
{
    dynhcp_heap_free(&t->near);
    dynhcp_heap_free(&t->far);
    dynhcp_free(t->slots);
    dynhcp_free(t->occupied);
    memset(t, 0, sizeof(*t));
}
