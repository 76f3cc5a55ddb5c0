/* targets.h: the targets of watch (SPEC 6): the --url values and the
 * Prometheus file_sd files of --targets, kept to the shard of --shard, and
 * how a change of those files is seen. Built only with libcurl. */
#ifndef DYNHC_CLI_TARGETS_H
#define DYNHC_CLI_TARGETS_H

#include <sys/stat.h>

#include "cli.h"

/* One target: everything its endpoint is made of. */
typedef struct cli_target_spec {
    char *url;           /* the URL as given, http:// added to host:port: for requests */
    char *name;          /* the endpoint's name: url with its credentials redacted */
    char *model_type;    /* __dynhc_model_type (canonical name), or NULL: the options' */
    char *model;         /* __dynhc_model, or NULL: the options' */
    dynhc_label *labels; /* the metric labels, by name; names and values owned */
    size_t label_count;
    char *key;           /* all of the above in one string: equal keys, equal endpoints */
    const char *source;  /* where it was given, for messages: a file (borrowed) or NULL */
    unsigned line, column;
} cli_target_spec;

/* Targets sorted by name, each name once. */
typedef struct cli_target_list {
    cli_target_spec *items;
    size_t count;
    size_t capacity;
} cli_target_list;

/*
 * Reads the targets of opts: each --url, then each --targets file, and
 * discovered[0..discovered_count), the "ADDRESS:PORT" texts that DNS found
 * (checked over http; one that is also named otherwise is dropped), and
 * keeps those of the shard (cli_target_shard()). Returns CLI_EXIT_OK with
 * out filled (clear it with cli_targets_clear()), or CLI_EXIT_USAGE /
 * CLI_EXIT_ERROR after printing why ("FILE:LINE:COLUMN: ..." for a file);
 * out is then empty.
 */
int cli_targets_read(const cli_options *opts, char *const *discovered, size_t discovered_count,
                     cli_target_list *out);
void cli_targets_clear(cli_target_list *list);
void cli_target_spec_clear(cli_target_spec *t);

/* The shard of a target name (its URL, credentials redacted, so that a new
 * password keeps the shard): FNV-1a 64 of its bytes, modulo count
 * (docs/fleet.md promises it for every version and machine). */
unsigned cli_target_shard(const char *name, unsigned count);

/* What a file was when last looked at: a change of any part (or its
 * coming or going) is a change. */
typedef struct cli_file_stamp {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} cli_file_stamp;

/* Looks at each --targets file again (stamps: one per file, zeroed at
 * first) and records what it is now. Returns 1 when any changed, else 0. */
int cli_targets_changed(const cli_options *opts, cli_file_stamp *stamps);

#endif
