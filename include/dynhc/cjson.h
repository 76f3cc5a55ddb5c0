/*
 * dynhc/cjson.h: cJSON views of dynhc's payloads, for programs that work on
 * JSON trees with cJSON themselves. Optional: dynhc/dynhc.h does not include
 * it, and the rest of the API speaks JSON text (dynhc_result_text(),
 * dynhc_resolver_set_payload(), dynhc_check.payload_text), so that dynhc's
 * own interface does not depend on a cJSON version.
 *
 * Including it needs cJSON's headers (<cjson/cJSON.h>, Debian's
 * libcjson-dev). A program that calls cJSON links cJSON itself: with CMake,
 * find_package(dynhc REQUIRED COMPONENTS cjson) and link dynhc::cjson; with
 * pkg-config, `pkg-config --cflags --libs dynhc libcjson`.
 *
 * The trees cross the library boundary, so the program must use the cJSON
 * that libdynhc was built against (the same libcjson.so; on a distribution,
 * its one package): a tree that dynhc returns was allocated by that cJSON,
 * and is read (never freed) by the caller. Keeping the two the same is the
 * host's business, as for any library passed another's objects; everything
 * else in dynhc works with any cJSON, or none, in the host.
 *
 * Thread safety: as for the functions of dynhc/resolver.h they belong to.
 */
#ifndef DYNHC_CJSON_H
#define DYNHC_CJSON_H

#include <cjson/cJSON.h>

#include "resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The payload as a cJSON object, borrowed: valid until the last reference
 * to the result is released (dynhc_result_free()); do not modify it: a
 * result is immutable and may be read by many threads at once. NULL when
 * there is no payload (disabled, failed) or res is NULL. Never allocates.
 * In a send callback: dynhc_result_payload(check->result).
 */
DYNHC_API const cJSON *dynhc_result_payload(const dynhc_result *res);

/*
 * The runtime payload (source 1) as a cJSON object, deep-copied at once (the
 * caller keeps ownership of obj and may free it on return); NULL clears it.
 * Replaces a payload set with dynhc_resolver_set_payload() or
 * dynhc_resolver_set_payload_file(), and the other way round. It is checked
 * like a runtime payload text when resolving. Returns DYNHC_OK,
 * DYNHC_ERR_INVALID_ARG (r NULL) or DYNHC_ERR_NOMEM (the copy failed;
 * the setting is unchanged). The copy is made with cJSON's allocator
 * (cJSON_InitHooks), not dynhc_set_allocator()'s.
 */
DYNHC_API int dynhc_resolver_set_payload_json(dynhc_resolver *r, const cJSON *obj);

/*
 * A JSON or YAML file read as dynhc reads its config file (SPEC 1.5), for
 * programs that read files of their own in the same dialect (dynhc watch
 * reads Prometheus file_sd target lists so): a path ending in ".json"
 * (any case) is strict JSON, any other YAML 1.2 (core schema; an empty
 * file is null); at most 1 MiB of UTF-8, a leading byte order mark dropped.
 * The tree keeps where each of its values starts.
 */
typedef struct dynhc_document dynhc_document;

/* Where and why a document could not be read: line and column 1-based (0:
 * the file as a whole, as for "cannot open"), message one line of text. */
typedef struct dynhc_document_error {
    unsigned line;
    unsigned column;
    char message[200];
} dynhc_document_error;

/*
 * Reads and parses the file at path. Returns DYNHC_OK with *out set (free
 * it with dynhc_document_free()); DYNHC_ERR_CONFIG with *error set (error
 * may be NULL) when the file cannot be read or parsed; DYNHC_ERR_NOMEM;
 * DYNHC_ERR_INVALID_ARG for path or out NULL. *out is NULL on failure. Any
 * thread; documents share nothing.
 */
DYNHC_NODISCARD DYNHC_API int dynhc_document_read(const char *path, dynhc_document **out,
                                                  dynhc_document_error *error);

/* The document's value, borrowed: valid until dynhc_document_free(); do
 * not modify it. NULL for doc NULL. */
DYNHC_API const cJSON *dynhc_document_root(const dynhc_document *doc);

/* Where node, a value of doc's tree, starts: 1-based line and column
 * (columns count characters). 0 and 0 for a node not of doc. */
DYNHC_API void dynhc_document_position(const dynhc_document *doc, const cJSON *node,
                                       unsigned *line, unsigned *column);

/* Frees doc and its tree; NULL is a no-op. */
DYNHC_API void dynhc_document_free(dynhc_document *doc);

#ifdef __cplusplus
}
#endif

#endif
