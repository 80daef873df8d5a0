/*
 * avro_value_int.h - what the Avro value sources share, and the
 * writer-appending entry points the serializer uses to put a payload right
 * after its wire-format header without a copy.
 */
#ifndef STRAND_AVRO_VALUE_INT_H
#define STRAND_AVRO_VALUE_INT_H

#include "avro/avro_model.h"
#include "base/bytes.h"
#include "strand/avro_value.h"

/* A decoding plan: how to read one writer type and what reader-shaped
 * value to make of it. Built once per (writer, reader) pair of types; a
 * codec holds the identity plan of its schema. Records may point back at
 * their own plan (recursive types). */
typedef enum avro_plan_op {
    AVRO_PLAN_NULL = 0,
    AVRO_PLAN_BOOLEAN,
    AVRO_PLAN_INT, /* writer int; out says the reader's (promoted) kind */
    AVRO_PLAN_LONG,
    AVRO_PLAN_FLOAT,
    AVRO_PLAN_DOUBLE,
    AVRO_PLAN_BYTES,
    AVRO_PLAN_STRING,
    AVRO_PLAN_FIXED,
    AVRO_PLAN_ENUM,
    AVRO_PLAN_ARRAY,
    AVRO_PLAN_MAP,
    AVRO_PLAN_RECORD,
    AVRO_PLAN_WRITER_UNION, /* read a branch index, then that branch's plan */
    AVRO_PLAN_READER_UNION, /* writer not a union: wrap in one reader branch */
} avro_plan_op_t;

typedef struct avro_plan avro_plan_t;
struct avro_plan {
    avro_plan_op_t op;
    const sd_avro_node_t *w; /* dereferenced writer type */
    const sd_avro_node_t *r; /* dereferenced reader type */
    sd_avro_kind_t out;      /* reader kind of a primitive (promotions) */
    union {
        struct {
            avro_plan_t **fields; /* per writer field; NULL: skipped */
            size_t *target;       /* per writer field: reader field index */
            json_t **defaults;    /* per reader field: JSON-encoded default,
                                     NULL when the writer provides it */
        } rec;
        struct {
            long *map; /* writer symbol index -> reader symbol index */
        } enm;
        struct {
            avro_plan_t *item; /* array items, map values */
            size_t item_min;   /* fewest bytes a writer item takes */
        } coll;
        struct {
            avro_plan_t **branches; /* per writer branch */
        } wun;
        struct {
            avro_plan_t *inner;
            const char *branch; /* reader branch name; NULL for null */
        } run;
    } u;
};

/* Owns the plans of one resolver (or of a codec's identity plan). */
typedef struct avro_plans {
    avro_plan_t **all;
    size_t count;
    size_t cap;
    avro_plan_t *root;
} avro_plans_t;

#define AVRO_VALUE_EQUAL_SCHEMAS 4

struct strand_avro_codec {
    int refcount; /* atomic */
    sd_avro_schema_t *schema;
    const sd_avro_node_t *root; /* dereferenced */
    avro_schema_t avro_c;
    avro_value_iface_t *avro_c_class;
    avro_plans_t identity;
    /* avro-c schemas other than avro_c found equal to it (atomic slots, each
     * holding a reference so that its address cannot be reused): checking
     * an application's value then costs a pointer compare, not
     * avro_schema_equal's walk. */
    avro_schema_t equal_schemas[AVRO_VALUE_EQUAL_SCHEMAS];
};

struct strand_avro_resolver {
    int refcount; /* atomic */
    strand_avro_codec_t *writer;
    strand_avro_codec_t *reader;
    avro_plans_t plans;
};

/* Compiles the plan of (writer, reader); fails with
 * STRAND_AVRO_ERR_INCOMPATIBLE naming the path. */
int avro_value__plan(avro_plans_t *plans, const sd_avro_node_t *writer,
                     const sd_avro_node_t *reader, sd_err_t *err);
void avro_value__plans_free(avro_plans_t *plans);
/* Decodes with a plan into a new JSON value (*out, caller decrefs). */
int avro_value__decode(const avro_plans_t *plans, const void *data, size_t len, unsigned flags,
                       json_t **out, sd_err_t *err);
/* The JSON encoding of a schema default for node (a new reference), or NULL
 * with err set when the default does not fit. */
json_t *avro_value__default_json(const sd_avro_node_t *node, const json_t *value, sd_err_t *err);

/* Validates and appends the encoding of a JSON value (borrowed) to w. On
 * failure w may hold a partial encoding after its previous length; the
 * caller truncates (w->len) or discards it. */
int avro_value__encode_json(const strand_avro_codec_t *codec, const json_t *value, unsigned flags,
                            sd_writer_t *w, sd_err_t *err);
/* The same for an avro-c value (borrowed). */
int avro_value__encode_value(const strand_avro_codec_t *codec, avro_value_t *value, unsigned flags,
                             sd_writer_t *w, sd_err_t *err);

/* Walk state of the value walkers. The path is built only on failure, while
 * unwinding: each level prepends its segment at path[pos], so success costs
 * nothing. Depth counts records, arrays and maps (every recursion passes
 * through a record), the same way in every walker, so that what one decodes
 * the others encode. */
#define AVRO_VALUE_MAX_DEPTH 256
#define AVRO_VALUE_PATH_MAX 256

typedef struct avro_value_walk {
    sd_writer_t *w; /* NULL: validate only */
    sd_err_t *err;
    char path[AVRO_VALUE_PATH_MAX];
    size_t pos;
    int truncated; /* outer segments did not fit; the message starts "..." */
    char what[SD_ERR_MSG_MAX];
    int code;
} avro_value_walk_t;

void avro_value__walk_init(avro_value_walk_t *c, sd_writer_t *w, sd_err_t *err);
void avro_value__prepend(avro_value_walk_t *c, const char *seg, size_t n);
void avro_value__prepend_field(avro_value_walk_t *c, const char *name);
void avro_value__prepend_index(avro_value_walk_t *c, size_t i);
void avro_value__prepend_key(avro_value_walk_t *c, const char *key);
/* Records what failed at the innermost level; returns code. */
int avro_value__fail(avro_value_walk_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills c->err with "<path>: <what>"; returns the code. */
int avro_value__finish(avro_value_walk_t *c);

/* Checks a JSON value (Avro JSON encoding) against a type. */
int avro_value__check_json(const sd_avro_node_t *node, const json_t *value, sd_err_t *err);
/* 1 when n bytes are valid UTF-8. */
int avro_value__utf8_valid(const uint8_t *s, size_t n);

/* Copies an sd_err_t into the public error struct (err may be NULL);
 * returns rc. */
int avro_value__public_error(int rc, const sd_err_t *in, strand_avro_error_t *err);

#endif
