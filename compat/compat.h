/*
 * compat.h - schema compatibility for every schema format, at the seven
 * levels of Confluent Schema Registry (NONE, BACKWARD, BACKWARD_TRANSITIVE,
 * FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE).
 *
 * A format plugs in through sc_format_t: parse a schema's text into its own
 * model, free it, and check whether a reader schema can read everything a
 * writer schema writes, adding one finding per incompatibility. sc_check runs
 * those pairwise checks in the directions and against the earlier versions the
 * level asks for:
 *
 *   BACKWARD  the new schema reads data written with an earlier one
 *             (reader = new, writer = earlier);
 *   FORWARD   an earlier schema reads data written with the new one
 *             (reader = earlier, writer = new);
 *   FULL      both.
 *
 * Plain levels compare with the latest earlier version only, the _TRANSITIVE
 * ones with every earlier version. Schemas of different types are never
 * compatible. A finding names the rule broken (Confluent's names, e.g.
 * READER_FIELD_MISSING_DEFAULT_VALUE), where (a JSON pointer into the reader
 * schema and, where the format has one, a dotted field path), a message, the
 * earlier version and the direction.
 */
#ifndef STRAND_COMPAT_H
#define STRAND_COMPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Error codes beyond the foundation's SD_ERR_* (see base/error.h). */
enum {
    SC_ERR_UNSUPPORTED = -40, /* a schema type whose checker does not exist yet */
};

typedef enum sc_level {
    SC_LEVEL_NONE = 0,
    SC_LEVEL_BACKWARD,
    SC_LEVEL_BACKWARD_TRANSITIVE,
    SC_LEVEL_FORWARD,
    SC_LEVEL_FORWARD_TRANSITIVE,
    SC_LEVEL_FULL,
    SC_LEVEL_FULL_TRANSITIVE,
} sc_level_t;

/* Parses a level as Confluent spells it ("BACKWARD_TRANSITIVE"), ignoring
 * case. Returns 0, or SD_ERR_INVALID (err names the word and the choices). */
int sc_level_parse(const char *name, sc_level_t *level, sd_err_t *err);
/* "BACKWARD", ...; static storage. */
const char *sc_level_name(sc_level_t level);
/* What a level asks for. */
bool sc_level_backward(sc_level_t level);
bool sc_level_forward(sc_level_t level);
bool sc_level_transitive(sc_level_t level);

typedef enum sc_schema_type {
    SC_TYPE_AVRO = 0,
    SC_TYPE_PROTOBUF,
    SC_TYPE_JSON,
} sc_schema_type_t;

/* Parses "avro", "protobuf" or "json", ignoring case. 0 or SD_ERR_INVALID. */
int sc_schema_type_parse(const char *name, sc_schema_type_t *type, sd_err_t *err);
/* Confluent's schemaType: "AVRO", "PROTOBUF", "JSON"; static storage. */
const char *sc_schema_type_name(sc_schema_type_t type);

typedef enum sc_direction {
    SC_DIRECTION_BACKWARD = 0, /* new schema reads data written with the earlier one */
    SC_DIRECTION_FORWARD,      /* earlier schema reads data written with the new one */
} sc_direction_t;

/* "BACKWARD" / "FORWARD"; static storage. */
const char *sc_direction_name(sc_direction_t direction);

typedef struct sc_finding {
    const char *rule; /* static: "TYPE_MISMATCH", ... */
    char *location;   /* owned: JSON pointer into the reader schema, "/" = root */
    char *path;       /* owned: field path such as "User.address.zip"; "" if none */
    char *message;    /* owned */
    size_t version;   /* index into the earlier schemas given to sc_check, 0 = oldest */
    sc_direction_t direction;
} sc_finding_t;

/* A growable list of findings. A format's checker appends to it with
 * sc_findings_add; version and direction are stamped on each finding from the
 * list's current values, which sc_check sets before each comparison. */
typedef struct sc_findings {
    sc_finding_t *items; /* owned, count entries */
    size_t count;
    size_t cap;
    size_t version;
    sc_direction_t direction;
} sc_findings_t;

/* Appends a finding; rule must have static storage, location and path are
 * copied (NULL path = ""). Returns 0 or SD_ERR_NOMEM (the list is unchanged). */
int sc_findings_add(sc_findings_t *findings, const char *rule, const char *location,
                    const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Drops the findings from index `count` on (a checker that tried something
 * speculatively and wants its findings gone). */
void sc_findings_truncate(sc_findings_t *findings, size_t count);
/* Frees every finding and the list's storage; the struct is left empty. */
void sc_findings_free(sc_findings_t *findings);

/* A schema the parsed one refers to (Confluent's schema references). `name`
 * is the reference's name: for Avro the full name of a type the referenced
 * schema defines, for Protobuf the import path. Borrowed. */
typedef struct sc_reference {
    const char *name;
    const char *text;
    size_t len;
} sc_reference_t;

/* One schema format. Every function pointer is required. */
typedef struct sc_format {
    sc_schema_type_t type;
    /* Parses `len` bytes of schema text into a model the other two functions
     * understand, with `refs` (dependencies first, each may use the ones
     * before it) visible to it; on success *model is owned by the caller
     * (release with free_model) and needs nothing of refs any more. Errors
     * fill err with a message naming where the text is wrong (a reference's
     * errors name the reference). Returns 0 or a negative code. */
    int (*parse)(const char *text, size_t len, const sc_reference_t *refs, size_t ref_count,
                 void **model, sd_err_t *err);
    void (*free_model)(void *model);
    /* Appends one finding per reason the reader cannot read data written with
     * the writer; compatible exactly when it appends none. Both models are
     * borrowed. Returns 0, or a negative code (SD_ERR_NOMEM) with err filled. */
    int (*check_reader_writer)(const void *reader, const void *writer, sc_findings_t *findings,
                               sd_err_t *err);
    /* The text Confluent's registry stores and returns for a registered
     * schema (its canonical text; for Avro AvroSchema.canonicalString), and
     * the normalized text it uses with normalize=true. Types from references
     * are named, not inlined. On success *text is NUL-terminated, owned by
     * the caller (free with free()) and *len its length. Returns 0 or a
     * negative code with err filled. */
    int (*canonical_text)(const void *model, char **text, size_t *len, sd_err_t *err);
    int (*normalized_text)(const void *model, char **text, size_t *len, sd_err_t *err);
} sc_format_t;

/* The checker of a schema type, or NULL when it does not exist yet. */
const sc_format_t *sc_format_for(sc_schema_type_t type);

/* A parsed schema of some type. */
typedef struct sc_schema sc_schema_t;

/* Parses schema text of the given type, with the schemas it references
 * (refs, dependencies first; NULL and 0 for none); on success *out is owned
 * by the caller (sc_schema_free) and refs may go. Returns 0,
 * SC_ERR_UNSUPPORTED for a type without a checker yet, or the format's parse
 * error; err says which and where. */
int sc_schema_parse(sc_schema_type_t type, const char *text, size_t len, const sc_reference_t *refs,
                    size_t ref_count, sc_schema_t **out, sd_err_t *err);
void sc_schema_free(sc_schema_t *schema);
sc_schema_type_t sc_schema_type(const sc_schema_t *schema);
/* The format's model; borrowed until sc_schema_free. */
const void *sc_schema_model(const sc_schema_t *schema);
/* The schema's text as Confluent's registry stores it (normalized false) or
 * normalizes it (normalized true; see sc_format_t). On success *text is
 * owned by the caller (free with free()) and *len (when len is not NULL) its
 * length. Returns 0 or a negative code with err filled. */
int sc_schema_text(const sc_schema_t *schema, bool normalized, char **text, size_t *len,
                   sd_err_t *err);

/* One pairwise comparison that sc_check ran. */
typedef struct sc_comparison {
    size_t version; /* index of the earlier schema, 0 = oldest */
    sc_direction_t direction;
    bool compatible;
    size_t first_finding; /* this comparison's findings are */
    size_t finding_count; /* result->findings.items[first .. first + count) */
} sc_comparison_t;

typedef struct sc_result {
    bool compatible;
    sc_findings_t findings;       /* every finding, grouped by comparison */
    sc_comparison_t *comparisons; /* owned; latest earlier version first, */
    size_t comparison_count;      /* backward before forward for each */
} sc_result_t;

/* Checks `new_schema` against `earlier[0 .. count)` (oldest first) at `level`.
 * All schemas are borrowed. NONE and an empty list are compatible and compare
 * nothing. On return 0, *result holds the verdict, the comparisons run and all
 * findings (free with sc_result_free, also after a failure); a negative return
 * (SD_ERR_NOMEM, ...) fills err and leaves no verdict. */
int sc_check(const sc_schema_t *new_schema, const sc_schema_t *const *earlier, size_t count,
             sc_level_t level, sc_result_t *result, sd_err_t *err);
void sc_result_free(sc_result_t *result);

#endif
