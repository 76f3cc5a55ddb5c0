/* test_sched_timers.c: the scheduler's timer queue (sched_timers.c) on its
 * own: random sets, moves, removals and takings of the earliest timer, with
 * times near the cursor, across the wheel, beyond it and at the end of the
 * clock, against a plain array; after each step the queue's invariants
 * (every timer where its key says, the wheel's lists and bits, the counts)
 * and its earliest timer are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"
#include "xorshift.h"

#define COUNT 400
#define MS DYNHCP_SCHED_RESOLUTION_NS
#define NONE 0 /* the model's mark: not scheduled (the model's times are never 0) */

typedef struct model {
    dynhcp_timers timers;
    dynhc_endpoint eps[COUNT];
    uint64_t due[COUNT]; /* NONE: not scheduled */
    uint64_t now;
    uint64_t rng;
} model;

static uint64_t key_of(uint64_t due)
{
    return due / MS + (due % MS != 0);
}

/* A time as a scheduler makes them: mostly soon after now (a tick's
 * batch, an interval, a timeout), some far beyond the wheel, some in the
 * past, some at or near the end of the clock, some on a millisecond. */
static uint64_t random_due(model *m)
{
    uint64_t r = xorshift64(&m->rng) % 100;
    uint64_t d;
    if (r < 40) {
        d = m->now + xorshift64(&m->rng) % (3 * MS);
    } else if (r < 70) {
        d = m->now + xorshift64(&m->rng) % (20ull * 1000 * MS); /* the wheel's span and past it */
    } else if (r < 80) {
        d = m->now + xorshift64(&m->rng) % (86400ull * 1000 * MS);
    } else if (r < 88) {
        d = m->now - xorshift64(&m->rng) % (m->now < 5 * MS ? m->now : 5 * MS);
    } else if (r < 92) {
        d = UINT64_MAX;
    } else if (r < 96) {
        d = UINT64_MAX - xorshift64(&m->rng) % (3 * MS);
    } else {
        d = (m->now / MS + xorshift64(&m->rng) % 40) * MS;
    }
    return d == NONE ? 1 : d;
}

/* The wheel's lists hold exactly its timers, each in its key's slot, the
 * bits mark the non-empty slots; every timer is where its key says. */
/* The empty slots' heads are checked when full is set (they are many). */
static void check_structure(const model *m, int full)
{
    const dynhcp_timers *t = &m->timers;
    uint32_t linked = 0;
    for (uint32_t slot = 0; slot < DYNHCP_WHEEL_SLOTS; slot++) {
        if (slot % 64 == 0 && t->occupied[slot / 64] == 0) {
            for (uint32_t k = slot; full && k < slot + 64; k++) {
                for (uint32_t list = 0; list < DYNHCP_WHEEL_LISTS; list++) {
                    assert_null(t->slots[k * DYNHCP_WHEEL_LISTS + list]);
                }
            }
            slot += 63;
            continue;
        }
        int bit = (t->occupied[slot / 64] >> (slot % 64)) & 1;
        int any = 0;
        for (uint32_t list = 0; list < DYNHCP_WHEEL_LISTS; list++) {
            const dynhc_endpoint *ep = t->slots[slot * DYNHCP_WHEEL_LISTS + list];
            const dynhc_endpoint *prev = NULL;
            for (; ep != NULL; prev = ep, ep = ep->timer.next) {
                assert_ptr_equal(ep->timer.prev, prev);
                assert_int_equal(ep->timer.where, DYNHCP_TIMER_WHEEL);
                assert_int_equal(ep->timer.list, list);
                assert_int_equal(key_of(ep->timer.due_ns) % DYNHCP_WHEEL_SLOTS, slot);
                linked++;
                any = 1;
            }
        }
        assert_int_equal(bit, any);
    }
    assert_int_equal(linked, t->in_wheel);
    assert_true(t->cursor <= key_of(m->now)); /* the wheel turns to now at most */
    uint32_t scheduled = 0;
    uint32_t near = 0;
    uint32_t far = 0;
    for (size_t i = 0; i < COUNT; i++) {
        const dynhc_endpoint *ep = &m->eps[i];
        if (m->due[i] == NONE) {
            assert_int_equal(ep->timer.where, DYNHCP_TIMER_NONE);
            continue;
        }
        scheduled++;
        assert_int_equal(ep->timer.due_ns, m->due[i]);
        uint64_t key = key_of(m->due[i]);
        switch (ep->timer.where) {
        case DYNHCP_TIMER_NEVER:
            assert_true(m->due[i] == UINT64_MAX);
            break;
        case DYNHCP_TIMER_NEAR:
            assert_true(key <= t->cursor);
            assert_ptr_equal(t->near.entries[ep->timer.heap_index].ep, ep);
            near++;
            break;
        case DYNHCP_TIMER_WHEEL:
            assert_true(key > t->cursor && key - t->cursor <= DYNHCP_WHEEL_SLOTS);
            break;
        case DYNHCP_TIMER_FAR:
            assert_true(key - t->cursor > DYNHCP_WHEEL_SLOTS);
            assert_ptr_equal(t->far.entries[ep->timer.heap_index].ep, ep);
            far++;
            break;
        default:
            fail_msg("endpoint %zu scheduled at %llu but nowhere", i,
                     (unsigned long long)m->due[i]);
        }
    }
    assert_int_equal(t->len, scheduled);
    assert_int_equal(t->near.len, near);
    assert_int_equal(t->far.len, far);
}

static uint64_t rounded_up(uint64_t due)
{
    uint64_t rest = due % MS;
    return rest == 0 || due > UINT64_MAX - (MS - rest) ? due : due + (MS - rest);
}

/* The deadline is the model's least time rounded up to the millisecond
 * (none when only timers at the end of the clock are left), and the due
 * timer at now one of those with the least time, when that is due. */
static void check_earliest(model *m)
{
    uint64_t least = UINT64_MAX;
    for (size_t i = 0; i < COUNT; i++) {
        if (m->due[i] != NONE && m->due[i] < least) {
            least = m->due[i];
        }
    }
    assert_int_equal(dynhcp_timers_deadline(&m->timers),
                     least == UINT64_MAX ? DYNHC_NO_DEADLINE : rounded_up(least));
    dynhc_endpoint *first = dynhcp_timers_due(&m->timers, m->now);
    if (least > m->now) {
        assert_null(first);
        return;
    }
    assert_non_null(first);
    assert_int_equal(first->timer.due_ns, least);
    assert_int_equal(m->due[first - m->eps], least);
}

static void random_operations_agree_with_a_plain_array(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->rng = 0x9E3779B97F4A7C15ull;
    m->now = 1000 * MS + 123;
    assert_int_equal(dynhcp_timers_reserve(&m->timers, COUNT), 0);
    for (int step = 0; step < 12000; step++) {
        size_t i = (size_t)(xorshift64(&m->rng) % COUNT);
        uint64_t r = xorshift64(&m->rng) % 10;
        if (r < 5) {
            m->due[i] = random_due(m);
            dynhcp_timers_set(&m->timers, &m->eps[i], m->due[i]);
        } else if (r < 6) {
            dynhcp_timers_remove(&m->timers, &m->eps[i]);
            m->due[i] = NONE;
        } else if (r < 9) {
            /* A tick: what is due at now is taken, earliest first, and
             * scheduled again after now, as the scheduler does. */
            dynhc_endpoint *ep;
            while ((ep = dynhcp_timers_due(&m->timers, m->now)) != NULL) {
                size_t k = (size_t)(ep - m->eps);
                assert_int_equal(m->due[k], ep->timer.due_ns);
                m->due[k] = m->now + 1 + xorshift64(&m->rng) % (4000 * MS);
                dynhcp_timers_set(&m->timers, ep, m->due[k]);
            }
        } else {
            /* Time passes: mostly a little, now and then past the wheel. */
            m->now += xorshift64(&m->rng) % 50 == 0 ? xorshift64(&m->rng) % (30000 * MS)
                                                : xorshift64(&m->rng) % (5 * MS);
        }
        if (step % 7 == 0) {
            check_earliest(m);
        }
        check_structure(m, step % 1000 == 0);
    }
    dynhcp_timers_free(&m->timers);
    free(m);
}

static void taking_the_earliest_gives_every_timer_in_order(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->rng = 12345;
    m->now = 5 * MS;
    assert_int_equal(dynhcp_timers_reserve(&m->timers, COUNT), 0);
    for (size_t i = 0; i < COUNT; i++) {
        m->due[i] = random_due(m);
        dynhcp_timers_set(&m->timers, &m->eps[i], m->due[i]);
    }
    /* At the end of the clock, everything is due but what is set there. */
    m->now = UINT64_MAX;
    uint64_t previous = 0;
    size_t taken = 0;
    for (;;) {
        uint64_t deadline = dynhcp_timers_deadline(&m->timers);
        dynhc_endpoint *ep = dynhcp_timers_due(&m->timers, m->now);
        if (ep == NULL) {
            assert_int_equal(deadline, DYNHC_NO_DEADLINE);
            break;
        }
        assert_int_equal(deadline, rounded_up(ep->timer.due_ns));
        assert_true(ep->timer.due_ns >= previous);
        assert_true(ep->timer.due_ns != UINT64_MAX);
        previous = ep->timer.due_ns;
        dynhcp_timers_remove(&m->timers, ep);
        m->due[ep - m->eps] = NONE;
        taken++;
        check_structure(m, taken % 64 == 0);
    }
    /* Only the timers at the end of the clock are left, never due. */
    size_t never = 0;
    for (size_t i = 0; i < COUNT; i++) {
        never += m->due[i] == UINT64_MAX;
    }
    assert_true(never > 0);
    assert_int_equal(taken + never, COUNT);
    assert_int_equal(m->timers.len, never);
    dynhcp_timers_free(&m->timers);
    free(m);
}

static void a_slot_reused_after_a_turn_keeps_its_times_apart(void **state)
{
    (void)state;
    /* Keys one span apart share a slot: the later one is beyond the wheel
     * until the earlier one's millisecond is opened. */
    static dynhc_endpoint eps[3];
    dynhcp_timers t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(dynhcp_timers_reserve(&t, 3), 0);
    uint64_t base = 7 * MS;
    dynhcp_timers_set(&t, &eps[0], base + DYNHCP_WHEEL_SLOTS * MS);
    dynhcp_timers_set(&t, &eps[1], base);
    dynhcp_timers_set(&t, &eps[2], base + 2 * DYNHCP_WHEEL_SLOTS * MS);
    /* Nothing is due before its time, the wheel's turn included. */
    assert_null(dynhcp_timers_due(&t, base - 1));
    assert_int_equal(dynhcp_timers_deadline(&t), base);
    assert_ptr_equal(dynhcp_timers_due(&t, base), &eps[1]);
    dynhcp_timers_remove(&t, &eps[1]);
    assert_null(dynhcp_timers_due(&t, base + DYNHCP_WHEEL_SLOTS * MS - 1));
    assert_ptr_equal(dynhcp_timers_due(&t, UINT64_MAX), &eps[0]);
    dynhcp_timers_remove(&t, &eps[0]);
    assert_ptr_equal(dynhcp_timers_due(&t, UINT64_MAX), &eps[2]);
    assert_int_equal(eps[2].timer.due_ns, base + 2 * DYNHCP_WHEEL_SLOTS * MS);
    dynhcp_timers_remove(&t, &eps[2]);
    assert_null(dynhcp_timers_due(&t, UINT64_MAX));
    assert_int_equal(dynhcp_timers_deadline(&t), DYNHC_NO_DEADLINE);
    assert_int_equal(t.len, 0);
    dynhcp_timers_free(&t);
    assert_null(t.slots);
}

static void a_queue_never_reserved_has_nothing_due(void **state)
{
    (void)state;
    /* A scheduler without endpoints ticks too: the wheel, allocated with
     * the first endpoint, is not there to turn. */
    dynhcp_timers t;
    memset(&t, 0, sizeof(t));
    assert_null(dynhcp_timers_due(&t, 5 * MS));
    assert_int_equal(dynhcp_timers_deadline(&t), DYNHC_NO_DEADLINE);
    dynhcp_timers_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations_agree_with_a_plain_array),
        cmocka_unit_test(taking_the_earliest_gives_every_timer_in_order),
        cmocka_unit_test(a_slot_reused_after_a_turn_keeps_its_times_apart),
        cmocka_unit_test(a_queue_never_reserved_has_nothing_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
