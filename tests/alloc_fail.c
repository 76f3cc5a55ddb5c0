/* alloc_fail.c: see alloc_fail.h. */
#include "alloc_fail.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dynhc/common.h>

/* Which library a block belongs to, written in front of it. */
#define MAGIC_DYNHC 0x64796e68u /* "dynh" */
#define MAGIC_CJSON 0x634a534eu /* "cJSN" */
#define MAGIC_FREED 0x66726565u /* "free" */

/* Keeps the block after it aligned as malloc's would be. */
typedef union header {
    max_align_t align;
    struct {
        unsigned magic;
        size_t size;
    } info;
} header;

/* Runs above this many allocations mean a body that never stops. */
#define MAX_RUNS 10000000ul

static int installed;
static atomic_int armed;
static atomic_int fail_mode;
static atomic_ulong fail_at;
static atomic_ulong count;
static atomic_ulong injected;
static atomic_long live_dynhc;
static atomic_long live_cjson;
static char where[160];

static const char *family_name(unsigned magic)
{
    return magic == MAGIC_DYNHC ? "dynhc" : "cJSON";
}

static atomic_long *live_of(unsigned magic)
{
    return magic == MAGIC_DYNHC ? &live_dynhc : &live_cjson;
}

/* Counts one allocation attempt; 1 when it is to fail. */
static int should_fail(void)
{
    if (!atomic_load(&armed)) {
        return 0;
    }
    unsigned long n = atomic_fetch_add(&count, 1) + 1;
    unsigned long at = atomic_load(&fail_at);
    if (at == 0 || n < at || (n > at && atomic_load(&fail_mode) == ALLOC_FAIL_ONCE)) {
        return 0;
    }
    atomic_fetch_add(&injected, 1);
    return 1;
}

static void die(const char *what, const void *p, unsigned expected, unsigned found)
{
    char why[80];
    if (found == MAGIC_FREED) {
        snprintf(why, sizeof(why), "it was already freed");
    } else if (found == MAGIC_DYNHC || found == MAGIC_CJSON) {
        snprintf(why, sizeof(why), "it was allocated by %s", family_name(found));
    } else {
        snprintf(why, sizeof(why), "it was not allocated here (before alloc_fail_install()?)");
    }
    fprintf(stderr, "alloc_fail: %s of %p through %s's allocator, but %s\n", what, p,
            family_name(expected), why);
    abort();
}

static header *header_of(void *p, unsigned magic, const char *what)
{
    header *h = (header *)p - 1;
    if (h->info.magic != magic) {
        die(what, p, magic, h->info.magic);
    }
    return h;
}

static void *block_new(unsigned magic, size_t size, int zero)
{
    if (should_fail() || size > SIZE_MAX - sizeof(header)) {
        return NULL;
    }
    header *h = zero ? calloc(1, sizeof(header) + size) : malloc(sizeof(header) + size);
    if (h == NULL) {
        return NULL;
    }
    h->info.magic = magic;
    h->info.size = size;
    atomic_fetch_add(live_of(magic), 1);
    return h + 1;
}

static void *block_resize(unsigned magic, void *p, size_t size)
{
    if (p == NULL) {
        return block_new(magic, size, 0);
    }
    header *h = header_of(p, magic, "realloc");
    if (should_fail() || size > SIZE_MAX - sizeof(header)) {
        return NULL;
    }
    header *bigger = realloc(h, sizeof(header) + size);
    if (bigger == NULL) {
        return NULL;
    }
    bigger->info.size = size;
    return bigger + 1;
}

static void block_free(unsigned magic, void *p)
{
    if (p == NULL) {
        return;
    }
    header *h = header_of(p, magic, "free");
    h->info.magic = MAGIC_FREED;
    atomic_fetch_sub(live_of(magic), 1);
    free(h);
}

static void *dynhc_malloc_hook(size_t size)
{
    return block_new(MAGIC_DYNHC, size, 0);
}

static void *dynhc_calloc_hook(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    return block_new(MAGIC_DYNHC, n * size, 1);
}

static void *dynhc_realloc_hook(void *p, size_t size)
{
    return block_resize(MAGIC_DYNHC, p, size);
}

static void dynhc_free_hook(void *p)
{
    block_free(MAGIC_DYNHC, p);
}

/* cJSON's hooks have no realloc: given a malloc other than the C library's,
 * cJSON allocates anew and copies. */
static void *cjson_malloc_hook(size_t size)
{
    return block_new(MAGIC_CJSON, size, 0);
}

static void cjson_free_hook(void *p)
{
    block_free(MAGIC_CJSON, p);
}

void alloc_fail_install(void)
{
    if (installed) {
        return;
    }
    if (dynhc_set_allocator(dynhc_malloc_hook, dynhc_realloc_hook, dynhc_calloc_hook,
                            dynhc_free_hook) != DYNHC_OK) {
        fprintf(stderr, "alloc_fail: dynhc_set_allocator refused the hooks\n");
        abort();
    }
    cJSON_Hooks hooks = {cjson_malloc_hook, cjson_free_hook};
    cJSON_InitHooks(&hooks);
    installed = 1;
}

void alloc_fail_start(unsigned long n, alloc_fail_mode mode)
{
    atomic_store(&armed, 0);
    atomic_store(&count, 0);
    atomic_store(&injected, 0);
    atomic_store(&fail_at, n);
    atomic_store(&fail_mode, (int)mode);
    atomic_store(&armed, 1);
}

unsigned long alloc_fail_stop(void)
{
    atomic_store(&armed, 0);
    return atomic_load(&injected);
}

unsigned long alloc_fail_count(void)
{
    return atomic_load(&count);
}

unsigned long alloc_fail_injected(void)
{
    return atomic_load(&injected);
}

long alloc_fail_live_dynhc(void)
{
    return atomic_load(&live_dynhc);
}

long alloc_fail_live_cjson(void)
{
    return atomic_load(&live_cjson);
}

long alloc_fail_live(void)
{
    return alloc_fail_live_dynhc() + alloc_fail_live_cjson();
}

static unsigned long env_number(const char *name, unsigned long fallback)
{
    const char *text = getenv(name);
    char *end;
    unsigned long value = text != NULL ? strtoul(text, &end, 10) : 0;
    return text != NULL && *text != '\0' && *end == '\0' && value > 0 ? value : fallback;
}

const char *alloc_fail_where(void)
{
    return where;
}

unsigned long alloc_fail_loop(const char *name, alloc_fail_mode mode, alloc_fail_body body,
                              void *user)
{
    if (!installed) {
        fail_msg("alloc_fail_loop(%s) before alloc_fail_install()", name);
    }
    unsigned long step = env_number("DYNHC_TEST_ALLOC_FAIL_STEP", 1);
    int verbose = env_number("DYNHC_TEST_ALLOC_FAIL_VERBOSE", 0) != 0;
    for (unsigned long n = 1; n < MAX_RUNS; n += step) {
        snprintf(where, sizeof(where), "%s: N=%lu (%s)", name, n,
                 mode == ALLOC_FAIL_ONCE ? "once" : "from N on");
        if (verbose) {
            print_message("alloc_fail: %s\n", where);
        }
        long dynhc_before = alloc_fail_live_dynhc(), cjson_before = alloc_fail_live_cjson();
        unsigned long failures = body(user, n, mode);
        alloc_fail_stop(); /* in case the body returned while armed */
        long dynhc_after = alloc_fail_live_dynhc(), cjson_after = alloc_fail_live_cjson();
        if (dynhc_after != dynhc_before || cjson_after != cjson_before) {
            fail_msg("%s: live blocks dynhc %ld -> %ld, cJSON %ld -> %ld (a leak, or a free "
                     "of something the run did not allocate)",
                     where, dynhc_before, dynhc_after, cjson_before, cjson_after);
        }
        if (failures == 0) {
            snprintf(where, sizeof(where), "%s: after the loop", name);
            return alloc_fail_count();
        }
    }
    fail_msg("%s: still failing after %lu runs", name, MAX_RUNS);
    return 0;
}
