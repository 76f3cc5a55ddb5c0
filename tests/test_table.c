/* test_table.c: the one hash table (base/table.c) on its own: random
 * inserts, finds and removals against a plain array, with names chosen so
 * that many share a home slot and removals must shift entries back across
 * the table's end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alloc_fail.h"
#include "table.h"
#include "text.h"
#include "xorshift.h"

#define NAMES 400

typedef struct entry {
    char name[24]; /* "k" and any size_t */
    int in; /* in the table, as the model says */
} entry;

static const char *entry_name(const void *e)
{
    return ((const entry *)e)->name;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* Every entry the model holds is found as itself, no other one is, and the
 * slots hold exactly the model's entries. */
static void check(const dynhcp_table *t, entry *entries)
{
    size_t in = 0;
    for (size_t i = 0; i < NAMES; i++) {
        void *found = dynhcp_table_find(t, entries[i].name);
        assert_ptr_equal(found, entries[i].in ? &entries[i] : NULL);
        in += (size_t)entries[i].in;
    }
    assert_int_equal(t->count, in);
    size_t occupied = 0;
    for (size_t i = 0; i < t->capacity; i++) {
        occupied += t->slots[i] != NULL;
    }
    assert_int_equal(occupied, in);
    assert_true(t->capacity == 0 || t->count * 2 <= t->capacity);
}

static void random_operations_agree_with_a_plain_array(void **state)
{
    (void)state;
    entry entries[NAMES];
    for (size_t i = 0; i < NAMES; i++) {
        snprintf(entries[i].name, sizeof(entries[i].name), "ep-%zu", i);
        entries[i].in = 0;
    }
    dynhcp_table t = DYNHCP_TABLE_INIT(entry_name);
    assert_null(dynhcp_table_find(&t, "ep-0"));
    assert_null(dynhcp_table_remove(&t, "ep-0"));
    for (int step = 0; step < 20000; step++) {
        entry *e = &entries[xorshift64(&rng) % NAMES];
        if (!e->in) {
            assert_int_equal(dynhcp_table_reserve(&t, t.count + 1), 0);
            dynhcp_table_insert(&t, e);
            e->in = 1;
        } else {
            assert_ptr_equal(dynhcp_table_remove(&t, e->name), e);
            e->in = 0;
            assert_null(dynhcp_table_remove(&t, e->name));
        }
        if (step % 97 == 0) {
            check(&t, entries);
        }
    }
    check(&t, entries);
    dynhcp_table_free(&t);
    assert_int_equal(t.capacity, 0);
}

/* Full clusters: a table kept at its fill limit, emptied one by one in
 * random order, finds every remaining entry after each removal. */
static void removals_from_a_full_table_keep_every_entry_reachable(void **state)
{
    (void)state;
    entry entries[NAMES];
    dynhcp_table t = DYNHCP_TABLE_INIT(entry_name);
    assert_int_equal(dynhcp_table_reserve(&t, 8), 0);
    size_t half = t.capacity / 2;
    for (size_t i = 0; i < half; i++) {
        snprintf(entries[i].name, sizeof(entries[i].name), "k%zu", i);
        dynhcp_table_insert(&t, &entries[i]);
        entries[i].in = 1;
    }
    for (size_t i = half; i < NAMES; i++) {
        snprintf(entries[i].name, sizeof(entries[i].name), "k%zu", i);
        entries[i].in = 0;
    }
    assert_int_equal(t.capacity, half * 2); /* no growth at the limit */
    for (size_t left = half; left > 0; left--) {
        size_t pick = xorshift64(&rng) % half;
        while (!entries[pick].in) {
            pick = (pick + 1) % half;
        }
        assert_ptr_equal(dynhcp_table_remove(&t, entries[pick].name), &entries[pick]);
        entries[pick].in = 0;
        check(&t, entries);
    }
    dynhcp_table_free(&t);
}

/* Clusters that cross the table's end: names whose home slots are the last
 * two or the first two of 16, inserted and removed in random orders. */
static void clusters_across_the_end_of_the_table_stay_reachable(void **state)
{
    (void)state;
    dynhcp_table t = DYNHCP_TABLE_INIT(entry_name);
    assert_int_equal(dynhcp_table_reserve(&t, 8), 0);
    assert_int_equal(t.capacity, 16);
    entry entries[NAMES];
    size_t found = 0;
    for (unsigned n = 0; found < NAMES; n++) {
        entry *e = &entries[found];
        snprintf(e->name, sizeof(e->name), "w%u", n);
        unsigned home = (unsigned)(dynhcp_hash_string(e->name, DYNHCP_HASH_SEED) & 15);
        e->in = 0;
        found += home >= 14 || home <= 1;
    }
    for (int round = 0; round < 1000; round++) {
        size_t first = xorshift64(&rng) % (NAMES - 8);
        for (size_t k = 0; k < 8; k++) {
            dynhcp_table_insert(&t, &entries[first + k]);
            entries[first + k].in = 1;
        }
        for (size_t left = 8; left > 0; left--) {
            size_t pick = first + xorshift64(&rng) % 8;
            while (!entries[pick].in) {
                pick = first + (pick - first + 1) % 8;
            }
            assert_ptr_equal(dynhcp_table_remove(&t, entries[pick].name), &entries[pick]);
            entries[pick].in = 0;
            check(&t, entries);
        }
    }
    dynhcp_table_free(&t);
}

/* A failed growth leaves the table as it was. */
static void reserve_that_cannot_allocate_changes_nothing(void **state)
{
    (void)state;
    entry entries[40];
    dynhcp_table t = DYNHCP_TABLE_INIT(entry_name);
    for (size_t i = 0; i < 40; i++) {
        snprintf(entries[i].name, sizeof(entries[i].name), "n%zu", i);
        entries[i].in = 0;
    }
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(dynhcp_table_reserve(&t, t.count + 1), 0);
        dynhcp_table_insert(&t, &entries[i]);
        entries[i].in = 1;
    }
    size_t capacity = t.capacity;
    alloc_fail_start(1, ALLOC_FAIL_FROM);
    assert_int_equal(dynhcp_table_reserve(&t, 40), -1);
    assert_int_equal(alloc_fail_stop(), 1);
    assert_int_equal(t.capacity, capacity);
    for (size_t i = 0; i < 40; i++) {
        assert_ptr_equal(dynhcp_table_find(&t, entries[i].name), i < 8 ? &entries[i] : NULL);
    }
    assert_int_equal(dynhcp_table_reserve(&t, (size_t)-1), -1); /* no room can be that big */
    dynhcp_table_free(&t);
}

int main(void)
{
    alloc_fail_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_that_cannot_allocate_changes_nothing),
        cmocka_unit_test(random_operations_agree_with_a_plain_array),
        cmocka_unit_test(removals_from_a_full_table_keep_every_entry_reachable),
        cmocka_unit_test(clusters_across_the_end_of_the_table_stay_reachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
