/*
 * avro_model.h - Strand's Avro schema tree, for internal users (the
 * compatibility checker, the serde codecs, the registry).
 *
 * A parsed schema keeps every attribute of the Avro specification (1.11):
 * full names, namespaces, aliases, doc, field defaults, order, enum defaults,
 * logical types and their parameters, and custom properties. Named types are
 * defined once; every later use of the name, including a recursive use inside
 * the type itself and a use of a type from a referenced schema, is a node of
 * kind SD_AVRO_REF whose `ref.target` points at the definition. Walkers call
 * sd_avro_deref() before looking at a node's kind.
 *
 * Ownership: everything reachable from a schema (nodes, strings, the jansson
 * values of defaults and properties) is owned by the schema and stays valid
 * until sd_avro_schema_free() drops the last reference. A schema parsed with
 * referenced schemas holds a reference to each of them, so REF targets into
 * them stay valid as long as the referring schema lives.
 */
#ifndef STRAND_AVRO_MODEL_H
#define STRAND_AVRO_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Module error codes (in addition to the generic SD_ERR_* of base/error.h). */
enum {
    SD_AVRO_ERR_JSON = -100,      /* the text is not JSON */
    SD_AVRO_ERR_SCHEMA = -101,    /* JSON, but not a valid Avro schema */
    SD_AVRO_ERR_REFERENCE = -102, /* a name is neither defined nor referenced */
};

typedef enum sd_avro_kind {
    SD_AVRO_NULL = 0,
    SD_AVRO_BOOLEAN,
    SD_AVRO_INT,
    SD_AVRO_LONG,
    SD_AVRO_FLOAT,
    SD_AVRO_DOUBLE,
    SD_AVRO_BYTES,
    SD_AVRO_STRING,
    SD_AVRO_RECORD,
    SD_AVRO_ENUM,
    SD_AVRO_ARRAY,
    SD_AVRO_MAP,
    SD_AVRO_UNION,
    SD_AVRO_FIXED,
    SD_AVRO_REF, /* use of a named type defined elsewhere: see ref.target */
} sd_avro_kind_t;

typedef enum sd_avro_order {
    SD_AVRO_ORDER_ASCENDING = 0, /* also the value when "order" is absent */
    SD_AVRO_ORDER_DESCENDING,
    SD_AVRO_ORDER_IGNORE,
} sd_avro_order_t;

/* Logical types the Avro specification (1.11) defines. A "logicalType" that
 * is unknown, or that does not fit its base type, is SD_AVRO_LOGICAL_NONE
 * (Avro ignores it); its text is still in `logical_name` and `props`. */
typedef enum sd_avro_logical {
    SD_AVRO_LOGICAL_NONE = 0,
    SD_AVRO_LOGICAL_DECIMAL,                /* bytes or fixed */
    SD_AVRO_LOGICAL_UUID,                   /* string */
    SD_AVRO_LOGICAL_DATE,                   /* int */
    SD_AVRO_LOGICAL_TIME_MILLIS,            /* int */
    SD_AVRO_LOGICAL_TIME_MICROS,            /* long */
    SD_AVRO_LOGICAL_TIMESTAMP_MILLIS,       /* long */
    SD_AVRO_LOGICAL_TIMESTAMP_MICROS,       /* long */
    SD_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS, /* long */
    SD_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS, /* long */
    SD_AVRO_LOGICAL_DURATION,               /* fixed of size 12 */
} sd_avro_logical_t;

typedef struct sd_avro_node sd_avro_node_t;

typedef struct sd_avro_field {
    const char *name;     /* simple name, never NULL */
    sd_avro_node_t *type; /* never NULL */
    const char *doc;      /* NULL when absent */
    /* The "default" attribute exactly as written (a JSON null default is
     * json_null(), distinct from no default, which is NULL). Borrowed from
     * the schema. */
    json_t *default_value;
    sd_avro_order_t order;
    int order_given;      /* 1 when "order" was written */
    const char **aliases; /* simple names, as written; alias_count entries */
    size_t alias_count;
    json_t *props;   /* attributes Avro does not define; never NULL */
    size_t position; /* index in the record's fields */
} sd_avro_field_t;

struct sd_avro_node {
    sd_avro_kind_t kind;

    /* Named types (record, enum, fixed); NULL otherwise. `space` is the
     * resolved namespace, "" for the null namespace. `aliases` are resolved
     * to full names against the type's namespace. */
    const char *fullname;
    const char *name; /* the last component of fullname */
    const char *space;
    const char **aliases;
    size_t alias_count;
    const char *doc; /* records, enums, fixed; NULL when absent */

    /* logicalType, on any kind that carries one. `logical_name` is the text
     * as written (NULL when absent); `logical` is what it means here. For
     * decimal, `precision` and `scale` (scale 0 when absent). */
    const char *logical_name;
    sd_avro_logical_t logical;
    int precision;
    int scale;

    /* Attributes Avro does not define for this kind, in the order written
     * (Java Avro's "object props"). Includes "logicalType" and its
     * parameters, as Java keeps them. Never NULL; borrowed from the schema. */
    json_t *props;

    union {
        struct {
            sd_avro_field_t *fields;
            size_t field_count;
        } record;
        struct {
            const char **symbols;
            size_t symbol_count;
            const char *default_symbol; /* the enum "default"; NULL when absent */
        } enm;
        struct {
            sd_avro_node_t *items;
        } array;
        struct {
            sd_avro_node_t *values;
        } map;
        struct {
            sd_avro_node_t **branches;
            size_t branch_count;
        } un;
        struct {
            size_t size;
        } fixed;
        struct {
            /* The definition (a record, enum or fixed node), in this schema
             * or in a referenced one. Never NULL after a successful parse. */
            sd_avro_node_t *target;
        } ref;
    } u;
};

typedef struct sd_avro_schema sd_avro_schema_t;

/* A set of named types provided by referenced schemas (Confluent's schema
 * references): add each referenced schema, dependencies first, then pass the
 * set to sd_avro_parse. */
typedef struct sd_avro_named sd_avro_named_t;

/* Parse flags. */
enum {
    /* Accept what Java Avro accepts when it reads a schema already stored
     * (Confluent parses stored schemas without validating names or
     * defaults): no default or logical-type parameter validation, names
     * checked only for being non-empty. The default is the strict validation
     * Confluent applies to a new schema. */
    SD_AVRO_PARSE_LENIENT = 1u << 0,
};

/* Parses the JSON text of an Avro schema (len bytes, need not be
 * NUL-terminated). `refs` gives named types of referenced schemas, may be
 * NULL. On success *out is a new schema the caller frees with
 * sd_avro_schema_free. On failure returns a negative code, *out is NULL and
 * err's message names the offending path ("User.address.zip: ..."). */
int sd_avro_parse(const char *json, size_t len, const sd_avro_named_t *refs, sd_avro_schema_t **out,
                  sd_err_t *err);
/* Same with SD_AVRO_PARSE_* flags. */
int sd_avro_parse_flags(const char *json, size_t len, const sd_avro_named_t *refs, unsigned flags,
                        sd_avro_schema_t **out, sd_err_t *err);

/* Drops one reference; frees the schema with the last. NULL is allowed. */
void sd_avro_schema_free(sd_avro_schema_t *schema);
/* Adds a reference (for caches sharing one parsed schema); returns schema. */
sd_avro_schema_t *sd_avro_schema_incref(sd_avro_schema_t *schema);

/* The root type. Borrowed: valid while the schema lives. */
const sd_avro_node_t *sd_avro_schema_root(const sd_avro_schema_t *schema);
/* The named type with this full name, defined in the schema or visible from
 * its references; NULL when there is none. Borrowed. */
const sd_avro_node_t *sd_avro_schema_find(const sd_avro_schema_t *schema, const char *fullname);
/* The schema's own named types, in definition order. Borrowed. */
size_t sd_avro_schema_named_count(const sd_avro_schema_t *schema);
const sd_avro_node_t *sd_avro_schema_named_at(const sd_avro_schema_t *schema, size_t i);

/* Follows REF nodes to the definition; other nodes are returned as they are.
 * NULL gives NULL. */
const sd_avro_node_t *sd_avro_deref(const sd_avro_node_t *node);
/* "null", "int", ..., "record", "enum", "array", "map", "union", "fixed",
 * "ref": the kind's name in messages. */
const char *sd_avro_kind_name(sd_avro_kind_t kind);
/* The field of a record node with that name, or NULL. */
const sd_avro_field_t *sd_avro_record_field(const sd_avro_node_t *record, const char *name);
/* The index of the symbol in an enum node, or -1. */
long sd_avro_enum_symbol_index(const sd_avro_node_t *enm, const char *symbol);

/* Named-type sets for references. sd_avro_named_add takes a reference on
 * the schema (the set keeps it alive) and makes its named types, and those
 * it saw through its own references, visible. A name defined twice with
 * different definitions fails with SD_AVRO_ERR_SCHEMA; a schema parsed with
 * this very set fails with SD_ERR_INVALID (it already sees those types, and
 * the two would keep each other alive). */
sd_avro_named_t *sd_avro_named_new(void);
int sd_avro_named_add(sd_avro_named_t *set, sd_avro_schema_t *schema, sd_err_t *err);
void sd_avro_named_free(sd_avro_named_t *set);

/* Text forms. Each returns a NUL-terminated string the caller frees with
 * sd_free (length in *len when len is not NULL), or NULL with err set.
 *
 * Parsing Canonical Form, as the Avro specification defines it. Types from
 * referenced schemas are written in full at their first use, as they are
 * part of what a reader sees. */
char *sd_avro_canonical_form(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err);
/* CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form. */
int sd_avro_fingerprint(const sd_avro_schema_t *schema, uint64_t *fingerprint, sd_err_t *err);
/* The CRC-64-AVRO fingerprint of arbitrary bytes. */
uint64_t sd_avro_crc64(const void *data, size_t len);
/* Confluent's canonical text (AvroSchema.canonicalString: Java Avro's
 * Schema.toString, compact, every attribute kept). Types from referenced
 * schemas are written by full name. */
char *sd_avro_confluent_canonical(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err);
/* Confluent's normalized text (AvroSchema.normalize): full names, aliases
 * and properties sorted, doc/defaults/order/logical types kept. */
char *sd_avro_normalized(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err);

#endif
