/* yaml_scalar.h: the YAML 1.2 core schema for scalars (SPEC 1.5), pure
 * logic on text: what a plain scalar is (null, boolean, integer, float,
 * string), which tags dynhc knows and whether a scalar fits its tag, and
 * the value of 0x/0o integers. yaml_load.c builds nodes from it. Internal. */
#ifndef DYNHCP_YAML_SCALAR_H
#define DYNHCP_YAML_SCALAR_H

#include <stddef.h>

/* TAG_BANG is the non-specific "!": a string for a scalar, nothing more for
 * a collection. */
typedef enum tag_kind {
    TAG_NONE, TAG_BANG, TAG_STR, TAG_NULL, TAG_BOOL, TAG_INT, TAG_FLOAT, TAG_SEQ, TAG_MAP
} tag_kind;


/* The tag's name as written ("!!int"), indexed by tag_kind. */
extern const char *const dynhcp_yaml_tag_names[TAG_MAP + 1];

typedef enum plain_form {
    FORM_STRING, FORM_NULL, FORM_TRUE, FORM_FALSE, FORM_INT, FORM_HEX, FORM_OCTAL, FORM_FLOAT,
    FORM_INF_NAN
} plain_form;

/* The kind of a resolved tag ("tag:yaml.org,2002:int", "!"); TAG_NONE for
 * none (NULL) and for tags dynhc does not know. */
tag_kind dynhcp_yaml_tag_kind(const char *tag);

/* What the plain scalar s[0..len) is under the core schema. */
plain_form dynhcp_yaml_classify(const char *s, size_t len);

/* Whether a scalar of this form satisfies a tag of this kind. */
int dynhcp_yaml_form_fits(plain_form form, tag_kind kind);

/* The digits after "0x" (bits 4) or "0o" (bits 3) to the nearest double. */
double dynhcp_yaml_radix_value(const char *digits, size_t n, unsigned bits);

#endif
