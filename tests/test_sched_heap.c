/* test_sched_heap.c: the scheduler's timer heap (sched_heap.c) on its own:
 * random inserts, moves and removals against a plain array, with the heap's
 * order and every endpoint's timer.heap_index checked after each step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"
#include "xorshift.h"

#define COUNT 300

typedef struct model {
    dynhcp_heap heap;
    dynhc_endpoint eps[COUNT];
    uint64_t due[COUNT]; /* UINT64_MAX: not in the heap */
    uint64_t rng;
} model;

/* The heap's order, every entry's back pointer, and the same members and
 * keys as the model. */
static void check(const model *m)
{
    uint32_t members = 0;
    uint64_t least = UINT64_MAX;
    for (size_t i = 0; i < COUNT; i++) {
        if (m->due[i] == UINT64_MAX) {
            assert_int_equal(m->eps[i].timer.heap_index, DYNHCP_NOT_IN_HEAP);
            continue;
        }
        members++;
        least = m->due[i] < least ? m->due[i] : least;
        uint32_t at = m->eps[i].timer.heap_index;
        assert_true(at < m->heap.len);
        assert_ptr_equal(m->heap.entries[at].ep, &m->eps[i]);
        assert_int_equal(m->heap.entries[at].due_ns, m->due[i]);
    }
    assert_int_equal(m->heap.len, members);
    for (uint32_t i = 1; i < m->heap.len; i++) {
        assert_true(m->heap.entries[(i - 1) / 4].due_ns <= m->heap.entries[i].due_ns);
    }
    if (members > 0) {
        assert_int_equal(m->heap.entries[0].due_ns, least);
    }
}

static void random_operations_keep_the_order_and_the_back_pointers(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->rng = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < COUNT; i++) {
        m->eps[i].timer.heap_index = DYNHCP_NOT_IN_HEAP;
        m->due[i] = UINT64_MAX;
    }
    assert_int_equal(dynhcp_heap_reserve(&m->heap, COUNT), 0);
    for (int step = 0; step < 20000; step++) {
        size_t i = (size_t)(xorshift64(&m->rng) % COUNT);
        /* Few distinct keys, so that ties are common; now and then the end
         * of the clock. */
        uint64_t due = xorshift64(&m->rng) % 7 == 0 ? UINT64_MAX - 1 : xorshift64(&m->rng) % 50;
        if (xorshift64(&m->rng) % 3 == 0) {
            dynhcp_heap_remove(&m->heap, &m->eps[i]);
            m->due[i] = UINT64_MAX;
        } else {
            dynhcp_heap_set(&m->heap, &m->eps[i], due);
            m->due[i] = due;
        }
        check(m);
    }
    dynhcp_heap_free(&m->heap);
    free(m);
}

static void popping_the_least_gives_every_key_in_order(void **state)
{
    (void)state;
    static dynhc_endpoint eps[64];
    dynhcp_heap heap = {NULL, 0, 0};
    assert_int_equal(dynhcp_heap_reserve(&heap, 64), 0);
    for (uint32_t i = 0; i < 64; i++) {
        eps[i].timer.heap_index = DYNHCP_NOT_IN_HEAP;
        dynhcp_heap_set(&heap, &eps[i], (i * 37u) % 64u); /* every key 0..63 once */
    }
    for (uint64_t expected = 0; expected < 64; expected++) {
        assert_int_equal(heap.entries[0].due_ns, expected);
        dynhcp_heap_remove(&heap, heap.entries[0].ep);
    }
    assert_int_equal(heap.len, 0);
    dynhcp_heap_free(&heap);
}

static void reserving_grows_and_never_shrinks(void **state)
{
    (void)state;
    dynhcp_heap heap = {NULL, 0, 0};
    assert_int_equal(dynhcp_heap_reserve(&heap, 1), 0);
    assert_true(heap.capacity >= 1);
    uint32_t first = heap.capacity;
    assert_int_equal(dynhcp_heap_reserve(&heap, first + 1), 0);
    assert_true(heap.capacity > first);
    uint32_t grown = heap.capacity;
    assert_int_equal(dynhcp_heap_reserve(&heap, 1), 0);
    assert_int_equal(heap.capacity, grown);
    dynhcp_heap_free(&heap);
    assert_null(heap.entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations_keep_the_order_and_the_back_pointers),
        cmocka_unit_test(popping_the_least_gives_every_key_in_order),
        cmocka_unit_test(reserving_grows_and_never_shrinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
