/* alloc.c: the replaceable allocator (SPEC 3: allocation failure). */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynhc/common.h"

/* Set once, before any other dynhc call (documented), so plain reads are
 * enough: there is no moment at which two threads see different ones. */
static dynhc_malloc_fn malloc_fn = malloc;
static dynhc_realloc_fn realloc_fn = realloc;
static dynhc_calloc_fn calloc_fn = calloc;
static dynhc_free_fn free_fn = free;

int dynhc_set_allocator(dynhc_malloc_fn malloc_f, dynhc_realloc_fn realloc_f,
                        dynhc_calloc_fn calloc_f, dynhc_free_fn free_f)
{
    if (malloc_f == NULL && realloc_f == NULL && calloc_f == NULL && free_f == NULL) {
        malloc_fn = malloc;
        realloc_fn = realloc;
        calloc_fn = calloc;
        free_fn = free;
        return DYNHC_OK;
    }
    if (malloc_f == NULL || realloc_f == NULL || calloc_f == NULL || free_f == NULL) {
        return DYNHC_ERR_INVALID_ARG;
    }
    malloc_fn = malloc_f;
    realloc_fn = realloc_f;
    calloc_fn = calloc_f;
    free_fn = free_f;
    return DYNHC_OK;
}

void *dynhcp_malloc(size_t size)
{
    return malloc_fn(size != 0 ? size : 1);
}

void *dynhcp_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0) {
        count = size = 1;
    }
    return calloc_fn(count, size);
}

void *dynhcp_realloc(void *p, size_t size)
{
    return realloc_fn(p, size != 0 ? size : 1);
}

void dynhcp_free(void *p)
{
    if (p != NULL) {
        free_fn(p);
    }
}

char *dynhcp_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = dynhcp_malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

char *dynhcp_strdup(const char *s)
{
    return dynhcp_strndup(s, SIZE_MAX);
}

void dynhc_free(void *p)
{
    dynhcp_free(p);
}
