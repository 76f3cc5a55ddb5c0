/*
 * dynhc/resolver.h: decides what health-check payload an endpoint is sent.
 *
 * A resolver gathers the sources of SPEC 1.1 (runtime payload, environment,
 * config file, custom default, built-in defaults), picks the highest valid one
 * (or merges them, in merge mode), adds the marker key and returns a result
 * holding the payload, its provenance and every diagnostic.
 *
 * Thread safety: a resolver belongs to one thread at a time; distinct
 * resolvers may be used from distinct threads. A result is immutable: once
 * returned it may be read from any number of threads at once.
 */
#ifndef DYNHC_RESOLVER_H
#define DYNHC_RESOLVER_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dynhc_model_type {
    DYNHC_MODEL_GENERATE = 0,  /* aliases: completion, completions, text */
    DYNHC_MODEL_CHAT = 1,      /* alias: chat-completions */
    DYNHC_MODEL_EMBEDDING = 2, /* aliases: embeddings, embed */
    DYNHC_MODEL_TOKENS = 3     /* Dynamo's pre-tokenized worker request */
} dynhc_model_type;

typedef enum dynhc_level {
    DYNHC_LEVEL_MINIMAL = 0,
    DYNHC_LEVEL_STANDARD = 1,
    DYNHC_LEVEL_COMPREHENSIVE = 2
} dynhc_level;

/* Where the winning payload came from. */
typedef enum dynhc_source {
    DYNHC_SOURCE_NONE = 0,    /* no payload: disabled or failed */
    DYNHC_SOURCE_RUNTIME = 1, /* the caller (API or CLI --payload) */
    DYNHC_SOURCE_ENV = 2,     /* DYN_HEALTH_CHECK_PAYLOAD holding JSON text */
    DYNHC_SOURCE_ENV_FILE = 3, /* DYN_HEALTH_CHECK_PAYLOAD holding @PATH */
    DYNHC_SOURCE_CONFIG = 4,  /* health_check_payload of the config */
    DYNHC_SOURCE_CUSTOM = 5,  /* a custom default */
    DYNHC_SOURCE_DEFAULT = 6  /* the built-in table */
} dynhc_source;

/*
 * Config values given in memory instead of a file: each field mirrors the
 * config-file key of the same name, NULL means "not set", and every value is
 * parsed by the rules for strings in a config file (SPEC 1.5): booleans as
 * "true"/"false"/..., durations as "10", "2.5s", "500ms"...
 * health_check_payload is JSON text or "@PATH" (relative to the working
 * directory).
 *
 * The struct can grow: fields may be added at the end in later versions.
 * Initialise it with DYNHC_CONFIG_INIT, which sets size to this header's
 * sizeof(dynhc_config) and every field to NULL, then set the fields wanted:
 *     dynhc_config config = DYNHC_CONFIG_INIT;
 *     config.model_type = "chat";
 * The library reads only the fields inside size (a program built against
 * an older header passes a smaller one: the fields it does not know are
 * unset), and refuses a size of 0 or below the first version's
 * (DYNHC_ERR_INVALID_ARG), as well as a newer header's field that it does
 * not know set to anything but NULL.
 */
typedef struct dynhc_config {
    size_t size; /* sizeof(dynhc_config), as DYNHC_CONFIG_INIT sets it */
    const char *model;
    const char *model_type;
    const char *health_check_level;
    const char *health_check_payload;
    const char *health_check_payload_disabled;
    const char *health_check_enabled;
    const char *health_check_interval;
    const char *health_check_timeout;
} dynhc_config;

/* A dynhc_config with its size set and every field unset. (Designated in C,
 * so that -Wextra's missing-field-initializers stays quiet; C++ before
 * C++20 has no designators, hence every field there.) */
#ifdef __cplusplus
#define DYNHC_CONFIG_INIT {sizeof(dynhc_config), 0, 0, 0, 0, 0, 0, 0, 0}
#else
#define DYNHC_CONFIG_INIT {.size = sizeof(dynhc_config)}
#endif

typedef struct dynhc_resolver dynhc_resolver;
typedef struct dynhc_result dynhc_result;

/* Canonical names ("generate", "minimal", "env-file"...); static strings,
 * "unknown" for values outside the enums. */
DYNHC_API const char *dynhc_model_type_name(dynhc_model_type type);
DYNHC_API const char *dynhc_level_name(dynhc_level level);
DYNHC_API const char *dynhc_source_name(dynhc_source source);

/*
 * Parses a model type name or alias, any case, surrounding whitespace
 * ignored. Returns DYNHC_OK, DYNHC_ERR_UNKNOWN_MODEL_TYPE or
 * DYNHC_ERR_INVALID_ARG (NULL argument).
 */
DYNHC_API int dynhc_model_type_from_name(const char *name, dynhc_model_type *out);

/* Parses a level name, any case. DYNHC_OK, DYNHC_ERR_UNKNOWN_LEVEL or
 * DYNHC_ERR_INVALID_ARG. */
DYNHC_API int dynhc_level_from_name(const char *name, dynhc_level *out);

/*
 * Parses a duration by the rules of the environment variables (SPEC 1.2):
 * seconds ("30", "2.5") or a number with one unit ms, s, m, h ("500ms",
 * "1m"), above zero and at most 24 h; surrounding whitespace ignored.
 * DYNHC_OK with *ns set, or DYNHC_ERR_INVALID_ARG.
 */
DYNHC_API int dynhc_parse_duration(const char *text, uint64_t *ns);

/*
 * A new resolver with every setting unset: process environment through
 * getenv(), marker key "_health_check", BOS token id 1, lenient, replace mode.
 * Returns NULL when out of memory. Free with dynhc_resolver_free().
 */
DYNHC_NODISCARD DYNHC_API dynhc_resolver *dynhc_resolver_new(void);

/* Frees a resolver. NULL is a no-op. Results it returned stay valid. */
DYNHC_API void dynhc_resolver_free(dynhc_resolver *r);

/*
 * Sets the environment lookup. fn NULL restores getenv(). The function is
 * called during dynhc_resolver_resolve() only, never cached across calls.
 */
DYNHC_API int dynhc_resolver_set_getenv(dynhc_resolver *r, dynhc_getenv_fn fn,
                                        void *user_data);

/*
 * The runtime payload (source 1): JSON object text, copied. NULL clears it.
 * The text is checked when resolving: a bad one is a "<runtime>" warning and
 * the source is skipped (an error in strict mode).
 */
DYNHC_API int dynhc_resolver_set_payload(dynhc_resolver *r, const char *json_text);

/* The runtime payload read from a JSON file at resolve time (path copied;
 * NULL clears). Replaces any payload text set before, and the other way. */
DYNHC_API int dynhc_resolver_set_payload_file(dynhc_resolver *r, const char *path);

/*
 * The config file (source 3), YAML or, for a ".json" extension, JSON. Read at
 * resolve time. NULL clears. Replaces config values set with
 * dynhc_resolver_set_config(), and the other way round.
 */
DYNHC_API int dynhc_resolver_set_config_file(dynhc_resolver *r, const char *path);

/* Config values in memory (source 3); the struct and its strings are
 * copied. NULL clears. Diagnostics name the source "<config>". Returns
 * DYNHC_OK, DYNHC_ERR_INVALID_ARG (r NULL, or config's size not set: see
 * dynhc_config; nothing changes) or DYNHC_ERR_NOMEM (nothing changes). */
DYNHC_API int dynhc_resolver_set_config(dynhc_resolver *r, const dynhc_config *config);

/*
 * This resolver's custom default payload (source 4), JSON object text,
 * copied; it takes precedence over the process-wide one set by
 * dynhc_set_custom_health_check_payload(). NULL clears it.
 * DYNHC_ERR_JSON when the text is not a valid JSON object (nothing changes).
 */
DYNHC_API int dynhc_resolver_set_custom_default(dynhc_resolver *r, const char *json_text);

/*
 * Runtime model type and level, by name (any case, aliases accepted); NULL
 * clears. DYNHC_ERR_UNKNOWN_MODEL_TYPE / DYNHC_ERR_UNKNOWN_LEVEL leave the
 * setting as it was.
 */
DYNHC_API int dynhc_resolver_set_model_type(dynhc_resolver *r, const char *name);
DYNHC_API int dynhc_resolver_set_level(dynhc_resolver *r, const char *name);

/* The beginning-of-sequence token id used by the "tokens" defaults (>= 0). */
DYNHC_API int dynhc_resolver_set_bos_token_id(dynhc_resolver *r, long long id);

/* The marker key added to every payload (copied); NULL turns marking off. */
DYNHC_API int dynhc_resolver_set_marker_key(dynhc_resolver *r, const char *key);

/* Strict mode: every warning becomes an error and resolution fails. */
DYNHC_API int dynhc_resolver_set_strict(dynhc_resolver *r, int strict);

/* Merge mode: each higher source is an RFC 7396 merge patch over the ones
 * below instead of replacing them. */
DYNHC_API int dynhc_resolver_set_merge(dynhc_resolver *r, int merge);

/*
 * Runtime scalar settings: tri-state flags take 1 (true), 0 (false) or -1
 * (unset, the default); durations are nanoseconds, 0 unset. The runtime
 * value beats the environment and the config file.
 */
DYNHC_API int dynhc_resolver_set_disabled(dynhc_resolver *r, int disabled);
DYNHC_API int dynhc_resolver_set_enabled(dynhc_resolver *r, int enabled);
DYNHC_API int dynhc_resolver_set_interval_ns(dynhc_resolver *r, uint64_t ns);
DYNHC_API int dynhc_resolver_set_timeout_ns(dynhc_resolver *r, uint64_t ns);

/* The embedding caller's default for "enabled" when no source sets it
 * (true unless changed). */
DYNHC_API int dynhc_resolver_set_enabled_default(dynhc_resolver *r, int enabled);

/*
 * Also checks every other setting dynhc reads from the environment (the
 * scheduler's and the status server's variables of SPEC 1.2, and DYN_LOG),
 * adding their diagnostics to the result. Off by default; `dynhc validate` turns it on.
 */
DYNHC_API int dynhc_resolver_set_check_all(dynhc_resolver *r, int check_all);

/*
 * Resolves. On return *out holds a new result (free with dynhc_result_free())
 * whatever the outcome, except for DYNHC_ERR_INVALID_ARG and
 * DYNHC_ERR_NOMEM, where *out is NULL. Returns:
 *   DYNHC_OK        a payload was resolved;
 *   DYNHC_DISABLED  payloads are disabled (no payload; settings still set);
 *   DYNHC_ERR_CONFIG the config file could not be read or parsed as a whole;
 *   DYNHC_ERR_STRICT strict mode and a warning was raised.
 * Diagnostics are in the result in the order they were raised.
 */
DYNHC_NODISCARD DYNHC_API int dynhc_resolver_resolve(dynhc_resolver *r, dynhc_result **out);

/* Releases one reference to a result, freeing it with the last. NULL is a
 * no-op. Any thread. */
DYNHC_API void dynhc_result_free(dynhc_result *res);

/* Takes one more reference to a result (each is released with
 * dynhc_result_free()) and returns res, as json_incref() does; NULL gives
 * NULL. The caller must hold a reference already. Any thread; never
 * allocates. The scheduler keeps one per endpoint so that one payload text
 * serves many endpoints. */
DYNHC_API dynhc_result *dynhc_result_ref(dynhc_result *res);

/* The status dynhc_resolver_resolve() returned with this result. */
DYNHC_API int dynhc_result_status(const dynhc_result *res);

/* The payload as compact JSON text, borrowed: valid until the last
 * reference to the result is released. NULL when there is none. A cJSON
 * tree of it: dynhc_result_payload() in the optional <dynhc/cjson.h>. */
DYNHC_API const char *dynhc_result_text(const dynhc_result *res);

/* Provenance. origin is the variable name, the file path or "<runtime>",
 * borrowed; NULL for the built-in defaults and when there is no payload. */
DYNHC_API dynhc_source dynhc_result_source(const dynhc_result *res);
DYNHC_API const char *dynhc_result_origin(const dynhc_result *res);
DYNHC_API dynhc_model_type dynhc_result_model_type(const dynhc_result *res);
DYNHC_API dynhc_level dynhc_result_level(const dynhc_result *res);

/* max_tokens or max_completion_tokens of the payload (for "tokens",
 * stop_conditions.max_tokens); 0 when absent or for embeddings. */
DYNHC_API long long dynhc_result_token_budget(const dynhc_result *res);

/* The config key "model", borrowed; NULL when not set. */
DYNHC_API const char *dynhc_result_model_name(const dynhc_result *res);

/* Resolved scalar settings (runtime > environment > config > default). */
DYNHC_API int dynhc_result_enabled(const dynhc_result *res);
DYNHC_API uint64_t dynhc_result_interval_ns(const dynhc_result *res);
DYNHC_API uint64_t dynhc_result_timeout_ns(const dynhc_result *res);

/* The scalar settings whose provenance a result records. */
typedef enum dynhc_setting {
    DYNHC_SETTING_DISABLED,
    DYNHC_SETTING_MODEL_TYPE,
    DYNHC_SETTING_LEVEL,
    DYNHC_SETTING_ENABLED,
    DYNHC_SETTING_INTERVAL,
    DYNHC_SETTING_TIMEOUT
} dynhc_setting;

/* Where a setting's value came from, as --explain says it: the kind,
 * "runtime", "environment", "config" or "default" (static); and the name,
 * the variable or the config file's path (borrowed; NULL for "runtime" and
 * "default"). Both NULL for a setting outside the enum or a NULL result. */
DYNHC_API const char *dynhc_result_setting_kind(const dynhc_result *res, dynhc_setting which);
DYNHC_API const char *dynhc_result_setting_origin(const dynhc_result *res, dynhc_setting which);

/* Diagnostics: count, and the i-th (borrowed; NULL when i is out of range). */
DYNHC_API size_t dynhc_result_diag_count(const dynhc_result *res);
DYNHC_API const dynhc_diag *dynhc_result_diag(const dynhc_result *res, size_t i);

/*
 * A human-readable account of where the payload and each setting came from,
 * one fact per line. Free with dynhc_free(). NULL when out of memory.
 */
DYNHC_NODISCARD DYNHC_API char *dynhc_result_explain(const dynhc_result *res);

#ifdef __cplusplus
}
#endif

#endif
