/*
 * avro_int.h - what the Avro schema sources share: the schema and named-set
 * structs, the arena that owns a schema's nodes and strings, the name table,
 * and the JSON text helpers the text forms use.
 */
#ifndef STRAND_AVRO_INT_H
#define STRAND_AVRO_INT_H

#include <stddef.h>

#include "avro/avro_model.h"
#include "base/bytes.h"

/* Chunked bump allocator: every node and string of a schema lives here and
 * goes away with the schema in one pass. */
typedef struct avro_arena_chunk {
    struct avro_arena_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
} avro_arena_chunk_t;

typedef struct avro_arena {
    avro_arena_chunk_t *head;
} avro_arena_t;

void *avro__arena_alloc(avro_arena_t *arena, size_t size);
void avro__arena_free(avro_arena_t *arena);

/* Open-addressing table from full name (borrowed string) to node. */
typedef struct avro_names {
    const char **keys;
    sd_avro_node_t **nodes;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} avro_names_t;

sd_avro_node_t *avro__names_find(const avro_names_t *names, const char *fullname);
/* 0, or SD_ERR_NOMEM. The key must outlive the table. */
int avro__names_put(avro_names_t *names, const char *fullname, sd_avro_node_t *node);
void avro__names_free(avro_names_t *names);

struct sd_avro_named {
    int refcount;
    sd_avro_schema_t **schemas; /* each holds a reference */
    size_t count;
    size_t cap;
    avro_names_t table;
};

struct sd_avro_schema {
    int refcount;
    unsigned flags;
    json_t *doc;   /* the parsed text; names, docs and defaults borrow from it */
    json_t *owned; /* JSON array keeping the props objects built while parsing */
    json_t *empty; /* the shared empty props object */
    avro_arena_t arena;
    sd_avro_node_t *root;
    avro_names_t names; /* own named types */
    sd_avro_node_t **defined;
    size_t defined_count;
    size_t defined_cap;
    sd_avro_named_t *refs; /* held reference, or NULL */
};

/* 1 when node is a definition owned by schema (not one from a reference). */
int avro__is_own(const sd_avro_schema_t *schema, const sd_avro_node_t *node);

/* JSON text as Jackson writes it (what Java Avro and Confluent print):
 * compact, keys in the order held, strings escaped like Jackson (", \,
 * control characters; everything else raw UTF-8), doubles formatted like
 * Java's Double.toString. */
void avro__write_json_string(sd_writer_t *w, const char *s, size_t len);
void avro__write_json(sd_writer_t *w, const json_t *value);
/* Java's Double.toString / Float.toString of d into out (at least 32 bytes). */
void avro__java_double(char *out, size_t cap, double d, int as_float);
/* Parses a Java Double.valueOf string ("1.5", "NaN", "-Infinity"); 0 on
 * success. */
int avro__parse_java_double(const char *s, double *out);

#endif
