/* diag.c: collecting and formatting diagnostics. */
#include "alloc.h"
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void dynhcp_diags_add(dynhcp_diags *d, dynhc_severity severity, const char *source, dynhcp_pos pos,
                      const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (d->strict && severity == DYNHC_SEVERITY_WARNING) {
        severity = DYNHC_SEVERITY_ERROR;
        /* Nothing is skipped in strict mode (resolution fails): drop the
         * lenient consequence from the text. */
        static const char *const consequences[] = {"; payload ignored", "; ignored"};
        size_t len = strlen(message);
        for (size_t i = 0; i < sizeof(consequences) / sizeof(consequences[0]); i++) {
            size_t tail = strlen(consequences[i]);
            if (len >= tail && strcmp(message + len - tail, consequences[i]) == 0) {
                message[len - tail] = '\0';
                break;
            }
        }
    }
    if (d->count == d->capacity) {
        size_t capacity = d->capacity ? d->capacity * 2 : 4;
        dynhc_diag *grown = dynhcp_realloc(d->items, capacity * sizeof(*grown));
        if (grown == NULL) {
            d->nomem = 1;
            return;
        }
        d->items = grown;
        dynhcp_diag_key *keys = dynhcp_realloc(d->keys, capacity * sizeof(*keys));
        if (keys == NULL) {
            d->nomem = 1;
            return;
        }
        d->keys = keys;
        d->capacity = capacity;
    }
    /* One block holds both strings, so one dynhcp_free() releases the diagnostic. */
    size_t source_len = strlen(source), message_len = strlen(message);
    char *block = dynhcp_malloc(source_len + message_len + 2);
    if (block == NULL) {
        d->nomem = 1;
        return;
    }
    memcpy(block, source, source_len + 1);
    memcpy(block + source_len + 1, message, message_len + 1);

    dynhcp_diag_key *key = &d->keys[d->count];
    key->group = d->group;
    key->at = d->anchor.line != 0 ? d->anchor : pos;
    key->pos = pos;
    dynhc_diag *item = &d->items[d->count++];
    item->severity = severity;
    item->source = block;
    item->line = pos.line;
    item->column = pos.column;
    item->message = block + source_len + 1;
    if (severity == DYNHC_SEVERITY_ERROR) {
        d->errors++;
    }
}

void dynhcp_diags_free(dynhcp_diags *d)
{
    for (size_t i = 0; i < d->count; i++) {
        dynhcp_free((void *)(uintptr_t)d->items[i].source);
    }
    dynhcp_free(d->items);
    dynhcp_free(d->keys);
    d->items = NULL;
    d->keys = NULL;
    d->count = d->capacity = 0;
}

void dynhcp_diags_group(dynhcp_diags *d, unsigned group, dynhcp_pos anchor)
{
    d->group = group;
    d->anchor = anchor;
}

static int pos_compare(dynhcp_pos a, dynhcp_pos b)
{
    if (a.line != b.line) {
        return a.line < b.line ? -1 : 1;
    }
    return a.column < b.column ? -1 : a.column > b.column;
}

static int key_before(const dynhcp_diag_key *a, const dynhcp_diag_key *b)
{
    if (a->group != b->group) {
        return a->group < b->group;
    }
    int at = pos_compare(a->at, b->at);
    return at != 0 ? at < 0 : pos_compare(a->pos, b->pos) < 0;
}

void dynhcp_diags_sort(dynhcp_diags *d)
{
    /* Insertion sort: stable, in place, and a resolution has a few dozen
     * diagnostics at most. */
    for (size_t i = 1; i < d->count; i++) {
        dynhc_diag item = d->items[i];
        dynhcp_diag_key key = d->keys[i];
        size_t j = i;
        while (j > 0 && key_before(&key, &d->keys[j - 1])) {
            d->items[j] = d->items[j - 1];
            d->keys[j] = d->keys[j - 1];
            j--;
        }
        d->items[j] = item;
        d->keys[j] = key;
    }
}

int dynhc_diag_format(const dynhc_diag *d, char *buf, size_t size)
{
    if (d == NULL) {
        return -1;
    }
    const char *kind = d->severity == DYNHC_SEVERITY_ERROR ? "error" : "warning";
    if (d->line > 0) {
        return snprintf(buf, size, "%s:%u:%u: %s: %s", d->source, d->line, d->column, kind,
                        d->message);
    }
    return snprintf(buf, size, "%s: %s: %s", d->source, kind, d->message);
}
