/* table.h: the library's one hash table, an open-addressing set of entries
 * that each carry their own name (JSON object members, YAML anchors, the
 * scheduler's endpoints). Linear probing, at most half full, deletion by
 * shifting back (no tombstones). Not thread-safe: the owner locks. Internal. */
#ifndef DYNHCP_TABLE_H
#define DYNHCP_TABLE_H

#include <stddef.h>

/* The name an entry is found by; it must not change while the entry is in. */
typedef const char *(*dynhcp_table_key_fn)(const void *entry);

typedef struct dynhcp_table {
    void **slots;    /* NULL in a free slot; walk them to visit every entry */
    size_t capacity; /* 0, or a power of two */
    size_t count;
    dynhcp_table_key_fn key_of;
} dynhcp_table;

#define DYNHCP_TABLE_INIT(key_of) {NULL, 0, 0, (key_of)}

/* The entry named key, or NULL. */
void *dynhcp_table_find(const dynhcp_table *t, const char *key);

/* Makes room for count entries in all, so that inserting up to that many
 * cannot fail. Returns 0, or -1 when out of memory (the table unchanged). */
int dynhcp_table_reserve(dynhcp_table *t, size_t count);

/* Adds entry, whose name is not in the table yet, into room reserved. */
void dynhcp_table_insert(dynhcp_table *t, void *entry);

/* Takes out the entry named key and returns it (NULL when absent). */
void *dynhcp_table_remove(dynhcp_table *t, const char *key);

/* Frees the slots, not the entries. */
void dynhcp_table_free(dynhcp_table *t);

#endif
