/* alloc.h: every allocation of the library goes through these, so that a
 * host can inject its allocator (dynhc_set_allocator) and tests can make
 * the Nth allocation fail. Internal. */
#ifndef DYNHCP_ALLOC_H
#define DYNHCP_ALLOC_H

#include <stddef.h>

void *dynhcp_malloc(size_t size);
void *dynhcp_calloc(size_t count, size_t size);
void *dynhcp_realloc(void *p, size_t size);
void dynhcp_free(void *p);
/* Copies of a string (or its first n bytes); NULL when out of memory. */
char *dynhcp_strdup(const char *s);
char *dynhcp_strndup(const char *s, size_t n);

#endif
