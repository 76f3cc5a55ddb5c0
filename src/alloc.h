/* alloc.h: every allocation of the library goes through these, so that a
 * host can inject its allocator (dynhc_set_allocator) and tests can make
 * the Nth allocation fail. Internal. */
#ifndef DH_ALLOC_H
#define DH_ALLOC_H

#include <stddef.h>

void *dh_malloc(size_t size);
void *dh_calloc(size_t count, size_t size);
void *dh_realloc(void *p, size_t size);
void dh_free(void *p);
/* Copies of a string (or its first n bytes); NULL when out of memory. */
char *dh_strdup(const char *s);
char *dh_strndup(const char *s, size_t n);

#endif
