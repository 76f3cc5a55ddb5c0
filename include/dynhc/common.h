/*
 * dynhc/common.h: what every part of dynhc shares: the export macro, status
 * codes, diagnostics, version, memory release and the allocator.
 *
 * Thread safety: every function here may be called from any thread, except
 * dynhc_set_allocator().
 */
#ifndef DYNHC_COMMON_H
#define DYNHC_COMMON_H

#include <stddef.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The export macro. dynhc is built and tested on POSIX only: the Windows
 * branch is best effort (docs/abi.md). A consumer of the Windows DLL
 * defines DYNHC_SHARED (the CMake target dynhc::dynhc does it for its
 * users; dynhc.pc does not, since it serves static users too).
 */
#if defined(_WIN32)
#if defined(DYNHC_BUILDING_SHARED)
#define DYNHC_API __declspec(dllexport)
#elif defined(DYNHC_SHARED)
#define DYNHC_API __declspec(dllimport)
#else
#define DYNHC_API
#endif
#elif defined(__GNUC__)
#define DYNHC_API __attribute__((visibility("default")))
#else
#define DYNHC_API
#endif

/*
 * Marks a function whose result must not be dropped: it returns memory or an
 * object (a reference) that the caller has to release, or a status whose
 * failure leaves nothing working. GCC and Clang then warn about a call that
 * ignores it (a cast to void does not silence GCC: test the value). Empty on
 * other compilers. Never on plain setters.
 */
#if defined(__GNUC__) || defined(__clang__)
#define DYNHC_NODISCARD __attribute__((warn_unused_result))
#else
#define DYNHC_NODISCARD
#endif

/*
 * Status codes. Zero is success, positive values are non-error outcomes,
 * negative values are errors. Values are fixed once published.
 */
typedef enum dynhc_status {
    DYNHC_OK = 0,
    /* Health-check payloads are disabled by configuration: there is no payload. */
    DYNHC_DISABLED = 1,
    DYNHC_ERR_NOMEM = -1,
    /* An argument was NULL where it may not be, or out of its range. */
    DYNHC_ERR_INVALID_ARG = -2,
    /* A model type name that dynhc does not know. */
    DYNHC_ERR_UNKNOWN_MODEL_TYPE = -3,
    /* A level name that dynhc does not know. */
    DYNHC_ERR_UNKNOWN_LEVEL = -4,
    /* A config file could not be read or parsed as a whole. */
    DYNHC_ERR_CONFIG = -5,
    /* Strict mode and at least one warning was raised. */
    DYNHC_ERR_STRICT = -6,
    /* A JSON text given directly to the API is not valid. */
    DYNHC_ERR_JSON = -7,
    /* The call is not allowed now (for example from inside a callback). */
    DYNHC_ERR_BUSY = -8,
    /* The named or numbered object does not exist. */
    DYNHC_ERR_NOT_FOUND = -9,
    /* A required part was not built in (optional dependency missing). */
    DYNHC_ERR_UNSUPPORTED = -10,
    /* An operating-system call failed; the function's sys_errno out-parameter
     * (where it has one) says which error. */
    DYNHC_ERR_SYSTEM = -11
} dynhc_status;

/*
 * A static English description of a status code; never NULL, never freed.
 * Unknown codes give "unknown status".
 */
DYNHC_API const char *dynhc_strerror(int status);

/* The run-time library version as "MAJOR.MINOR.PATCH"; static storage. */
DYNHC_API const char *dynhc_version(void);

/* The run-time library version as DYNHC_VERSION_NUMBER would give it. */
DYNHC_API unsigned dynhc_version_number(void);

/*
 * Releases memory that a dynhc function documents as "free with
 * dynhc_free()". NULL is a no-op.
 */
DYNHC_API void dynhc_free(void *p);

typedef void *(*dynhc_malloc_fn)(size_t size);
typedef void *(*dynhc_realloc_fn)(void *p, size_t size);
typedef void *(*dynhc_calloc_fn)(size_t count, size_t size);
typedef void (*dynhc_free_fn)(void *p);

/*
 * Replaces the allocator behind every allocation dynhc makes itself (as
 * uv_replace_allocator in libuv): memory that dynhc returns is then freed
 * with dynhc_free(), which calls free_f. All four NULL restore the C
 * library's. Call it once, before any other dynhc call and before any
 * dynhc object exists: memory is freed by the allocator that is set when it
 * is freed. Not thread-safe. The functions may fail (return NULL) at any
 * time: every dynhc call then answers DYNHC_ERR_NOMEM (or NULL where so
 * documented), leaks nothing and leaves its objects usable.
 * cJSON's and libyaml's own allocations are not covered: cJSON has
 * cJSON_InitHooks for that, libyaml none.
 * Returns DYNHC_OK, or DYNHC_ERR_INVALID_ARG when some but not all are NULL.
 */
DYNHC_API int dynhc_set_allocator(dynhc_malloc_fn malloc_f, dynhc_realloc_fn realloc_f,
                                  dynhc_calloc_fn calloc_f, dynhc_free_fn free_f);

/*
 * Looks up an environment variable, in place of getenv() (the resolver, the
 * scheduler's and the status server's load_env functions take one). Returns
 * the value (borrowed; it must stay valid until the next call of the
 * function) or NULL when unset. Called only during the call it is given to,
 * from that call's thread.
 */
typedef const char *(*dynhc_getenv_fn)(const char *name, void *user_data);

typedef enum dynhc_severity {
    DYNHC_SEVERITY_WARNING = 1,
    DYNHC_SEVERITY_ERROR = 2
} dynhc_severity;

/*
 * One diagnostic: where it comes from and what is wrong.
 *
 * source is a file path, an environment variable name or "<runtime>".
 * line and column are 1-based; 0 means "no position" (the whole source).
 * Columns count Unicode characters, not bytes; a tab counts as one.
 * All strings are borrowed from the object that holds the diagnostic.
 */
typedef struct dynhc_diag {
    dynhc_severity severity;
    const char *source;
    unsigned line;
    unsigned column;
    const char *message;
} dynhc_diag;

/*
 * Formats d in the GNU style "SOURCE:LINE:COLUMN: warning: MESSAGE" (or
 * "SOURCE: error: MESSAGE" without a position) into buf, like snprintf:
 * returns the length the full text needs (without the NUL), writes at most
 * size bytes including the NUL. buf may be NULL when size is 0.
 * Returns -1 when d is NULL.
 */
DYNHC_API int dynhc_diag_format(const dynhc_diag *d, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
