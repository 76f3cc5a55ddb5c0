/* yaml_load.c: YAML text to cJSON with the YAML 1.2 core schema (SPEC 1.5),
 * built on libyaml's event parser so that aliases can be bounded before they
 * are copied.
 *
 * Choices the spec leaves open:
 * - Only the first document is read: parsing stops at its end (at the next
 *   "---" when the end is implicit), so what later documents hold is never
 *   looked at and their errors do not count (libyaml decodes a few bytes
 *   ahead: bytes it cannot decode there still do). Text after the first
 *   document that starts no new one ("{a: 1} x") is an error.
 * - Tags: !!str !!int !!float !!bool !!null !!seq !!map are honoured; the
 *   non-specific tag "!" makes a scalar a string (as YAML 1.2 says); any other
 *   tag (local "!foo", "!!binary", ...) is ignored and the node resolves as if
 *   it had none.
 * - The merge key "<<" is an ordinary key: YAML 1.2 has no merge.
 * - A key is its text ("1", "true", "~"); tags on keys are ignored. An
 *   anchor on a key is accepted (an alias of it, as a value, is the scalar as
 *   the schema reads it); an alias used as a key is the text of the scalar its
 *   anchor names ("&n 1.50" gives the key "1.50"). An alias of a sequence or
 *   mapping cannot be a key, as no collection can: JSON keys are strings.
 *   A runtime's config may use either anywhere, under keys dynhc ignores.
 * - After an explicit document end "..." only blanks and a comment may
 *   follow on its line, as YAML requires; libyaml would start a document.
 * - A number too small for a double becomes the nearest double (maybe 0);
 *   only a number too large is an error.
 * - A node copied through an alias is recorded in the position map at the
 *   alias, where the user put it.
 */
#include "alloc.h"
#include "yaml_load.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "object_keys.h"
#include "table.h"
#include "yaml_scalar.h"

#define MAX_DEPTH 64

/* What an alias of an anchor copies. */
typedef struct anchor_entry {
    cJSON *node;  /* the node an alias copies */
    size_t nodes; /* how many nodes that copy makes */
    int height;   /* how many collection levels it holds */
    char *text;   /* on a scalar: its text, for an alias used as a key */
    cJSON *owned; /* on a key: the node, which no tree holds (else NULL) */
    char name[];
} anchor_entry;

typedef struct loader {
    yaml_parser_t parser;
    const char *text;
    size_t len;
    dynhcp_posmap *map;
    dynhcp_parse_error *err;
    dynhcp_table anchors;
    size_t nodes;
    locale_t c_numeric; /* made when the first decimal number is met */
} loader;

static const char *anchor_name(const void *a)
{
    return ((const anchor_entry *)a)->name;
}

static void anchor_free(anchor_entry *a)
{
    dynhcp_free(a->text);
    cJSON_Delete(a->owned);
    dynhcp_free(a);
}

static void anchors_free(dynhcp_table *t)
{
    for (size_t i = 0; i < t->capacity; i++) {
        if (t->slots[i] != NULL) {
            anchor_free(t->slots[i]);
        }
    }
    dynhcp_table_free(t);
}

static dynhcp_pos pos_of(yaml_mark_t mark)
{
    dynhcp_pos pos = {(unsigned)mark.line + 1, (unsigned)mark.column + 1};
    return pos;
}

static void out_of_memory(loader *ld)
{
    dynhcp_parse_error_set_nomem(ld->err);
}

/* The byte offset of a mark's line and column (libyaml counts characters;
 * lines end at LF, CRLF counting once), at most the text's length. */
static size_t offset_of(const loader *ld, yaml_mark_t mark)
{
    const unsigned char *t = (const unsigned char *)ld->text;
    size_t i = 0;
    for (size_t line = 0; i < ld->len && line < mark.line; i++) {
        line += t[i] == '\n';
    }
    for (size_t column = 0; i < ld->len && column < mark.column; column++) {
        do {
            i++;
        } while (i < ld->len && (t[i] & 0xC0) == 0x80);
    }
    return i;
}

/* The byte at a mark, or 0 past the end of the text. */
static unsigned char byte_at(const loader *ld, yaml_mark_t mark)
{
    size_t i = offset_of(ld, mark);
    return i < ld->len ? (unsigned char)ld->text[i] : 0;
}

static void parser_failed(loader *ld)
{
    const yaml_parser_t *p = &ld->parser;
    if (p->error == YAML_MEMORY_ERROR) {
        out_of_memory(ld);
    } else if (p->error == YAML_READER_ERROR) {
        /* Reader errors carry a byte offset, not a mark; the bytes before it
         * were decoded, so they are valid UTF-8. */
        dynhcp_pos pos = dynhcp_pos_at(ld->text, p->problem_offset);
        if (p->problem_value >= 0) {
            dynhcp_parse_error_set(ld->err, pos, "%s (0x%02X)", p->problem,
                                   (unsigned)p->problem_value);
        } else {
            dynhcp_parse_error_set(ld->err, pos, "%s", p->problem);
        }
    } else {
        /* A tab where libyaml stops is indentation written with tabs, the
         * classic slip; libyaml does not always say so. */
        const char *hint = byte_at(ld, p->problem_mark) == '\t'
                               ? "; a tab cannot indent YAML: use spaces"
                               : "";
        if (p->context != NULL) {
            dynhcp_parse_error_set(ld->err, pos_of(p->problem_mark),
                                   "%s (%s at line %zu, column %zu)%s", p->problem, p->context,
                                   p->context_mark.line + 1, p->context_mark.column + 1, hint);
        } else {
            dynhcp_parse_error_set(ld->err, pos_of(p->problem_mark), "%s%s", p->problem, hint);
        }
    }
}

static int next_event(loader *ld, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ld->parser, ev)) {
        parser_failed(ld);
        return -1;
    }
    return 0;
}

/* A node just made (NULL when out of memory), counted against the bound and
 * recorded in the position map, with the text it was written as when text is
 * not NULL (a number); NULL with err set when any of that fails. */
static cJSON *track_number(loader *ld, cJSON *node, yaml_mark_t mark, const char *text,
                           size_t len)
{
    if (node == NULL) {
        out_of_memory(ld);
        return NULL;
    }
    if (++ld->nodes > DYNHCP_YAML_MAX_NODES) {
        dynhcp_parse_error_set(ld->err, pos_of(mark), "more than %d nodes", DYNHCP_YAML_MAX_NODES);
    } else if (ld->map != NULL &&
               (text != NULL ? dynhcp_posmap_add_number(ld->map, node, pos_of(mark), text, len)
                             : dynhcp_posmap_add(ld->map, node, pos_of(mark))) != 0) {
        out_of_memory(ld);
    } else {
        return node;
    }
    cJSON_Delete(node);
    return NULL;
}

static cJSON *track(loader *ld, cJSON *node, yaml_mark_t mark)
{
    return track_number(ld, node, mark, NULL, 0);
}

/* s (NUL-terminated, already checked against the grammar) to a double in the
 * "C" numeric locale, whatever the host has set. */
static int decimal_value(loader *ld, const char *s, double *out)
{
    if (ld->c_numeric == (locale_t)0) {
        ld->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (ld->c_numeric == (locale_t)0) {
            out_of_memory(ld);
            return -1;
        }
    }
    locale_t previous = uselocale(ld->c_numeric);
    *out = strtod(s, NULL);
    uselocale(previous);
    return 0;
}

/* A new node for a number scalar (not tracked); NULL with err set. */
static cJSON *number_node(loader *ld, const yaml_event_t *ev, plain_form form)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    char quoted[64];
    double value;
    if (form == FORM_INF_NAN) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark),
                               "%s cannot be a number: JSON has no infinity or NaN",
                               dynhcp_quote(quoted, sizeof(quoted), s, len));
        return NULL;
    }
    if (form == FORM_HEX || form == FORM_OCTAL) {
        value = dynhcp_yaml_radix_value(s + 2, len - 2, form == FORM_HEX ? 4 : 3);
    } else if (decimal_value(ld, s, &value) != 0) {
        return NULL;
    }
    if (isinf(value)) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark),
                               "%s is out of the range of a double",
                               dynhcp_quote(quoted, sizeof(quoted), s, len));
        return NULL;
    }
    cJSON *node = cJSON_CreateNumber(value);
    if (node == NULL) {
        out_of_memory(ld);
    }
    return node;
}

/* A new node for the scalar ev under tag kind, not tracked yet; NULL with
 * err set (out of memory included). */
static cJSON *scalar_node(loader *ld, const yaml_event_t *ev, tag_kind kind)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    char quoted[64];
    cJSON *node;
    if (memchr(s, '\0', len) != NULL) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark),
                               "a string cannot contain a NUL character");
        return NULL;
    }
    if (kind == TAG_SEQ || kind == TAG_MAP) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "tag %s on a scalar",
                               dynhcp_yaml_tag_names[kind]);
        return NULL;
    }
    plain_form form = FORM_STRING;
    if (kind == TAG_STR || kind == TAG_BANG ||
        (kind == TAG_NONE && ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)) {
        node = cJSON_CreateString(s);
    } else if (!dynhcp_yaml_form_fits(form = dynhcp_yaml_classify(s, len), kind)) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "%s is not a valid %s",
                               dynhcp_quote(quoted, sizeof(quoted), s, len), dynhcp_yaml_tag_names[kind]);
        return NULL;
    } else {
        switch (form) {
        case FORM_NULL: node = cJSON_CreateNull(); break;
        case FORM_TRUE: node = cJSON_CreateTrue(); break;
        case FORM_FALSE: node = cJSON_CreateFalse(); break;
        case FORM_STRING: node = cJSON_CreateString(s); break;
        default: return number_node(ld, ev, form);
        }
    }
    if (node == NULL) {
        out_of_memory(ld);
    }
    return node;
}

static cJSON *load_scalar(loader *ld, const yaml_event_t *ev)
{
    cJSON *node = scalar_node(ld, ev, dynhcp_yaml_tag_kind((const char *)ev->data.scalar.tag));
    if (node == NULL) {
        return NULL;
    }
    if (cJSON_IsNumber(node)) {
        /* The text as written ("2.50", "0x10"), for messages that quote it. */
        return track_number(ld, node, ev->start_mark, (const char *)ev->data.scalar.value,
                            ev->data.scalar.length);
    }
    return track(ld, node, ev->start_mark);
}

/* A deep copy of src for an alias, every node recorded at the alias. */
static cJSON *copy_tree(loader *ld, const cJSON *src, yaml_mark_t mark)
{
    cJSON *dst;
    if (cJSON_IsArray(src)) {
        dst = cJSON_CreateArray();
    } else if (cJSON_IsObject(src)) {
        dst = cJSON_CreateObject();
    } else if (cJSON_IsString(src)) {
        dst = cJSON_CreateString(src->valuestring);
    } else if (cJSON_IsNumber(src)) {
        dst = cJSON_CreateNumber(src->valuedouble);
    } else if (cJSON_IsBool(src)) {
        dst = cJSON_CreateBool(cJSON_IsTrue(src));
    } else {
        dst = cJSON_CreateNull();
    }
    if ((dst = track(ld, dst, mark)) == NULL) {
        return NULL;
    }
    for (const cJSON *child = src->child; child != NULL; child = child->next) {
        cJSON *copy = copy_tree(ld, child, mark);
        if (copy == NULL) {
            cJSON_Delete(dst);
            return NULL;
        }
        if (cJSON_IsObject(dst) ? !cJSON_AddItemToObject(dst, child->string, copy)
                                : !cJSON_AddItemToArray(dst, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(dst);
            out_of_memory(ld);
            return NULL;
        }
    }
    return dst;
}

/* An alias whose collections would start at depth. */
static cJSON *load_alias(loader *ld, const yaml_event_t *ev, int depth, int *height)
{
    const char *name = (const char *)ev->data.alias.anchor;
    /* Anchors are registered when their node is complete, so an alias inside
     * its own anchored node finds nothing (or an older anchor): no cycles. */
    const anchor_entry *anchor = dynhcp_table_find(&ld->anchors, name);
    if (anchor == NULL) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "undefined alias \"%s\"", name);
        return NULL;
    }
    if (anchor->height > 0 && depth - 1 + anchor->height > MAX_DEPTH) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "nesting deeper than %d levels",
                               MAX_DEPTH);
        return NULL;
    }
    if (anchor->nodes > DYNHCP_YAML_MAX_NODES - ld->nodes) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark),
                               "alias expansion produces more than %d nodes",
                               DYNHCP_YAML_MAX_NODES);
        return NULL;
    }
    *height = anchor->height;
    return copy_tree(ld, anchor->node, ev->start_mark);
}

static cJSON *load_node(loader *ld, yaml_event_t *ev, int depth, int *height);

/* The items after SEQUENCE-START, up to SEQUENCE-END. */
static cJSON *load_sequence(loader *ld, const yaml_event_t *start, int depth, int *height)
{
    cJSON *array = track(ld, cJSON_CreateArray(), start->start_mark);
    if (array == NULL) {
        return NULL;
    }
    for (;;) {
        yaml_event_t ev;
        if (next_event(ld, &ev) != 0) {
            break;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return array;
        }
        int item_height;
        cJSON *item = load_node(ld, &ev, depth + 1, &item_height);
        if (item == NULL) {
            break;
        }
        cJSON_AddItemToArray(array, item);
        *height = item_height + 1 > *height ? item_height + 1 : *height;
    }
    cJSON_Delete(array);
    return NULL;
}

/* Registers anchor for node. scalar (NULL for a collection) is the event of
 * a scalar node, whose text an alias used as a key needs. owned says that
 * node belongs to the table (an anchored key, which no tree holds); it does
 * only once this returns 0. Returns 0, or -1 when out of memory. */
static int remember_anchor(loader *ld, const yaml_char_t *name, cJSON *node, size_t nodes,
                           int height, const yaml_event_t *scalar, int owned)
{
    size_t name_size = strlen((const char *)name) + 1;
    anchor_entry *a = dynhcp_calloc(1, sizeof(*a) + name_size);
    if (a == NULL || dynhcp_table_reserve(&ld->anchors, ld->anchors.count + 1) != 0) {
        dynhcp_free(a);
        return -1;
    }
    memcpy(a->name, name, name_size);
    if (scalar != NULL) {
        size_t len = scalar->data.scalar.length;
        if ((a->text = dynhcp_malloc(len + 1)) == NULL) {
            dynhcp_free(a);
            return -1;
        }
        memcpy(a->text, scalar->data.scalar.value, len);
        a->text[len] = '\0';
    }
    a->node = node;
    a->nodes = nodes;
    a->height = height;
    a->owned = owned ? node : NULL;
    /* A redefined anchor means its latest node. */
    anchor_entry *old = dynhcp_table_remove(&ld->anchors, a->name);
    if (old != NULL) {
        anchor_free(old);
    }
    dynhcp_table_insert(&ld->anchors, a);
    return 0;
}

/* Registers the anchor on a key scalar: an alias of it, as a value, is the
 * scalar as the schema reads it (a key's tag is ignored, as for the key). */
static int remember_key_anchor(loader *ld, const yaml_event_t *key)
{
    cJSON *node = scalar_node(ld, key, TAG_NONE);
    if (node == NULL) {
        return -1;
    }
    if (remember_anchor(ld, key->data.scalar.anchor, node, 1, 0, key, 1) != 0) {
        cJSON_Delete(node);
        out_of_memory(ld);
        return -1;
    }
    return 0;
}

/* Checks a key event; returns its text (a copy to free, for an alias, whose
 * anchor the value may redefine), or NULL with the error set. A key is the
 * scalar's text; an alias key is the text of the scalar its anchor names. */
static const char *key_text(loader *ld, const dynhcp_object_keys *keys, const yaml_event_t *key,
                            char **copy)
{
    const char *problem = NULL;
    const char *text = NULL;
    *copy = NULL;
    if (key->type == YAML_ALIAS_EVENT) {
        const char *name = (const char *)key->data.alias.anchor;
        const anchor_entry *anchor = dynhcp_table_find(&ld->anchors, name);
        if (anchor == NULL) {
            dynhcp_parse_error_set(ld->err, pos_of(key->start_mark), "undefined alias \"%s\"",
                                   name);
            return NULL;
        }
        if (anchor->text == NULL) {
            dynhcp_parse_error_set(ld->err, pos_of(key->start_mark),
                                   "mapping keys must be scalars (the alias *%s names a %s)", name,
                                   cJSON_IsArray(anchor->node) ? "sequence" : "mapping");
            return NULL;
        }
        if ((*copy = dynhcp_strdup(anchor->text)) == NULL) {
            out_of_memory(ld);
            return NULL;
        }
        text = *copy;
    } else if (key->type != YAML_SCALAR_EVENT) {
        problem = "mapping keys must be scalars";
    } else if (memchr(key->data.scalar.value, '\0', key->data.scalar.length) != NULL) {
        problem = "a string cannot contain a NUL character";
    } else if (key->data.scalar.anchor != NULL && remember_key_anchor(ld, key) != 0) {
        return NULL;
    } else {
        text = (const char *)key->data.scalar.value;
    }
    if (problem != NULL) {
        dynhcp_parse_error_set(ld->err, pos_of(key->start_mark), "%s", problem);
        return NULL;
    }
    if (dynhcp_object_keys_has(keys, text)) {
        char quoted[64];
        dynhcp_parse_error_set(ld->err, pos_of(key->start_mark), "duplicate key %s",
                               dynhcp_quote(quoted, sizeof(quoted), text, strlen(text)));
        dynhcp_free(*copy);
        *copy = NULL;
        return NULL;
    }
    return text;
}

/* Adds value under key and remembers the key for the duplicate check. */
static int add_member(loader *ld, dynhcp_object_keys *keys, cJSON *object, const char *key,
                      cJSON *value)
{
    if (!cJSON_AddItemToObject(object, key, value)) {
        cJSON_Delete(value);
        out_of_memory(ld);
        return -1;
    }
    if (dynhcp_object_keys_add(keys, value) != 0) {
        out_of_memory(ld);
        return -1;
    }
    return 0;
}

/* The key/value pairs after MAPPING-START, up to MAPPING-END. */
static cJSON *load_mapping(loader *ld, const yaml_event_t *start, int depth, int *height)
{
    cJSON *object = track(ld, cJSON_CreateObject(), start->start_mark);
    if (object == NULL) {
        return NULL;
    }
    dynhcp_object_keys keys;
    dynhcp_object_keys_init(&keys, object);
    for (;;) {
        yaml_event_t key;
        if (next_event(ld, &key) != 0) {
            break;
        }
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            dynhcp_object_keys_free(&keys);
            return object;
        }
        char *copy;
        const char *text = key_text(ld, &keys, &key, &copy);
        yaml_event_t ev;
        int value_height = 0;
        cJSON *value = NULL;
        if (text != NULL && next_event(ld, &ev) == 0) {
            value = load_node(ld, &ev, depth + 1, &value_height);
        }
        int failed = value == NULL || add_member(ld, &keys, object, text, value) != 0;
        dynhcp_free(copy);
        yaml_event_delete(&key);
        if (failed) {
            break;
        }
        *height = value_height + 1 > *height ? value_height + 1 : *height;
    }
    dynhcp_object_keys_free(&keys);
    cJSON_Delete(object);
    return NULL;
}

/* A sequence or mapping that starts with ev, after its tag and depth checks. */
static cJSON *load_collection(loader *ld, const yaml_event_t *ev, int depth, int *height)
{
    int is_sequence = ev->type == YAML_SEQUENCE_START_EVENT;
    const yaml_char_t *tag =
        is_sequence ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
    tag_kind kind = dynhcp_yaml_tag_kind((const char *)tag);
    if (depth > MAX_DEPTH) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "nesting deeper than %d levels",
                               MAX_DEPTH);
        return NULL;
    }
    if (kind != TAG_NONE && kind != TAG_BANG && kind != (is_sequence ? TAG_SEQ : TAG_MAP)) {
        dynhcp_parse_error_set(ld->err, pos_of(ev->start_mark), "tag %s on a %s", dynhcp_yaml_tag_names[kind],
                               is_sequence ? "sequence" : "mapping");
        return NULL;
    }
    return is_sequence ? load_sequence(ld, ev, depth, height) : load_mapping(ld, ev, depth, height);
}

/* The node that starts with ev (which this consumes), its collections
 * starting at depth; stores how many collection levels it holds. */
static cJSON *load_node(loader *ld, yaml_event_t *ev, int depth, int *height)
{
    size_t nodes_before = ld->nodes;
    const yaml_char_t *anchor = NULL;
    cJSON *node;
    *height = 0;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        node = load_scalar(ld, ev);
    } else if (ev->type == YAML_ALIAS_EVENT) {
        node = load_alias(ld, ev, depth, height);
    } else {
        anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                       : ev->data.mapping_start.anchor;
        node = load_collection(ld, ev, depth, height);
    }
    if (node != NULL && anchor != NULL &&
        remember_anchor(ld, anchor, node, ld->nodes - nodes_before, *height,
                        ev->type == YAML_SCALAR_EVENT ? ev : NULL, 0) != 0) {
        cJSON_Delete(node);
        node = NULL;
        out_of_memory(ld);
    }
    yaml_event_delete(ev);
    return node;
}

/* Reads the end of the first document. After an explicit end ("...") the
 * rest of its line, which may hold only a comment; after an implicit end the
 * next event, so that text starting no new document ("{a: 1} x") is an
 * error. What a later document holds is never read. */
static int finish_document(loader *ld)
{
    yaml_event_t ev;
    if (next_event(ld, &ev) != 0) {
        return -1;
    }
    int implicit = ev.data.document_end.implicit;
    yaml_mark_t end = ev.end_mark;
    yaml_event_delete(&ev);
    if (!implicit) {
        /* After "..." YAML allows only blanks and a comment on the line
         * (l-document-suffix); libyaml would read on as a new document. */
        size_t i = offset_of(ld, end);
        while (i < ld->len && (ld->text[i] == ' ' || ld->text[i] == '\t')) {
            i++;
            end.column++;
        }
        if (i < ld->len && ld->text[i] != '\n' && ld->text[i] != '\r' && ld->text[i] != '#') {
            dynhcp_parse_error_set(ld->err, pos_of(end),
                                   "text after the document end marker \"...\" (only a comment may "
                                   "follow it on its line)");
            return -1;
        }
        return 0;
    }
    if (next_event(ld, &ev) != 0) {
        return -1;
    }
    yaml_event_delete(&ev);
    return 0;
}

/* STREAM-START, then an empty stream (JSON null) or the first document. */
static cJSON *load_first_document(loader *ld)
{
    yaml_event_t ev;
    if (next_event(ld, &ev) != 0) {
        return NULL;
    }
    yaml_event_delete(&ev);
    if (next_event(ld, &ev) != 0) {
        return NULL;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        cJSON *null = track(ld, cJSON_CreateNull(), ev.start_mark);
        yaml_event_delete(&ev);
        return null;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    int height;
    cJSON *root = next_event(ld, &ev) == 0 ? load_node(ld, &ev, 1, &height) : NULL;
    if (root != NULL && finish_document(ld) != 0) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

cJSON *dynhcp_yaml_parse(const char *text, size_t len, dynhcp_posmap *map, dynhcp_parse_error *err)
{
    loader ld;
    memset(&ld, 0, sizeof(ld));
    size_t map_count = map != NULL ? map->count : 0;
    size_t bom = dynhcp_bom_length(text, len);
    /* The byte order mark takes no column, as in the file reader. */
    ld.text = len > 0 ? text + bom : "";
    ld.len = len - bom;
    ld.map = map;
    ld.err = err;
    ld.anchors.key_of = anchor_name;
    if (!yaml_parser_initialize(&ld.parser)) {
        out_of_memory(&ld);
        return NULL;
    }
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)ld.text, len - bom);
    /* UTF-16 and UTF-32 are not accepted: their bytes fail as UTF-8. */
    yaml_parser_set_encoding(&ld.parser, YAML_UTF8_ENCODING);
    cJSON *root = load_first_document(&ld);
    yaml_parser_delete(&ld.parser);
    anchors_free(&ld.anchors);
    if (ld.c_numeric != (locale_t)0) {
        freelocale(ld.c_numeric);
    }
    if (root == NULL && map != NULL) {
        dynhcp_posmap_truncate(map, map_count);
    }
    return root;
}
