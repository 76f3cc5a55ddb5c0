/* table.c: see table.h. */
#include "table.h"

#include <string.h>

#include "alloc.h"
#include "text.h"

#define FIRST_CAPACITY 16

static size_t home_of(const dynhcp_table *t, const char *key)
{
    return (size_t)dynhcp_hash_string(key, DYNHCP_HASH_SEED) & (t->capacity - 1);
}

/* The slot holding the entry named key, or the free slot where it would go. */
static size_t slot_of(const dynhcp_table *t, const char *key)
{
    size_t mask = t->capacity - 1;
    size_t i = home_of(t, key);
    while (t->slots[i] != NULL && strcmp(t->key_of(t->slots[i]), key) != 0) {
        i = (i + 1) & mask;
    }
    return i;
}

void *dynhcp_table_find(const dynhcp_table *t, const char *key)
{
    return t->capacity == 0 ? NULL : t->slots[slot_of(t, key)];
}

int dynhcp_table_reserve(dynhcp_table *t, size_t count)
{
    size_t capacity = t->capacity != 0 ? t->capacity : FIRST_CAPACITY;
    while (count > capacity / 2) {
        if (capacity > ((size_t)-1 / sizeof(void *)) / 2) {
            return -1;
        }
        capacity *= 2;
    }
    if (capacity == t->capacity) {
        return 0;
    }
    dynhcp_table bigger = {dynhcp_calloc(capacity, sizeof(void *)), capacity, t->count, t->key_of};
    if (bigger.slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < t->capacity; i++) {
        if (t->slots[i] != NULL) {
            bigger.slots[slot_of(&bigger, t->key_of(t->slots[i]))] = t->slots[i];
        }
    }
    dynhcp_free(t->slots);
    *t = bigger;
    return 0;
}

void dynhcp_table_insert(dynhcp_table *t, void *entry)
{
    t->slots[slot_of(t, t->key_of(entry))] = entry;
    t->count++;
}

void *dynhcp_table_remove(dynhcp_table *t, const char *key)
{
    if (t->capacity == 0) {
        return NULL;
    }
    size_t mask = t->capacity - 1;
    size_t hole = slot_of(t, key);
    void *entry = t->slots[hole];
    if (entry == NULL) {
        return NULL;
    }
    t->slots[hole] = NULL;
    t->count--;
    for (size_t i = (hole + 1) & mask; t->slots[i] != NULL; i = (i + 1) & mask) {
        size_t home = home_of(t, t->key_of(t->slots[i]));
        /* Move it back unless its home lies in the cyclic range (hole, i]. */
        if ((i > hole && (home <= hole || home > i)) || (i < hole && home <= hole && home > i)) {
            t->slots[hole] = t->slots[i];
            t->slots[i] = NULL;
            hole = i;
        }
    }
    return entry;
}

void dynhcp_table_free(dynhcp_table *t)
{
    dynhcp_free(t->slots);
    t->slots = NULL;
    t->capacity = 0;
    t->count = 0;
}
