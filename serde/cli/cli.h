/*
 * cli.h - what the strand-serde command's files share: the parsed command
 * line, reading inputs whole, the serde configuration built from the
 * options, and the exit statuses. strand_serde.c parses the command line and
 * runs encode, decode and validate; cli_kafka.c runs produce and consume.
 */
#ifndef STRAND_SERDE_CLI_H
#define STRAND_SERDE_CLI_H

#include <stddef.h>

#include "strand/serde.h"

/* Exit statuses, the same for every command: 0 done (validate: valid),
 * 1 the input is invalid (a value that does not match its schema, bytes
 * that are not a framed record of their schema), 2 anything else (usage,
 * files, schemas, the registry, Kafka). */
enum { CLI_OK = 0, CLI_INVALID = 1, CLI_FAILED = 2 };

#define CLI_MAX_PROPERTIES 64

/* name=value pairs, borrowed from argv (the '=' is overwritten). */
typedef struct cli_properties {
    const char *names[CLI_MAX_PROPERTIES];
    const char *values[CLI_MAX_PROPERTIES];
    size_t count;
} cli_properties_t;

typedef struct cli_options {
    const char *command; /* "encode", ... for messages */
    const char *registry;
    const char *topic;
    const char *type; /* avro (default), protobuf, json */
    const char *schema_file;
    const char *reader_schema_file;
    const char *key_schema_file;
    const char *key_type; /* consume: how to print keys; NULL: raw text */
    const char *bootstrap;
    const char *key_separator;
    const char *group;
    const char *max_messages;
    const char *timeout_ms;
    int latest;
    int key;
    int from_beginning;
    int print_key;
    cli_properties_t serde_properties; /* --property: serde and registry client */
    cli_properties_t kafka_properties; /* -X: librdkafka */
} cli_options_t;

/* Prints "strand-serde <command>: <message>" and a newline on stderr. */
void cli_error(const cli_options_t *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads a whole file (path "-" is not special). On success *out is
 * NUL-terminated (len bytes before the NUL) and the caller frees it with
 * free(); on failure prints what went wrong (naming `what`) and returns -1. */
int cli_read_file(const cli_options_t *opts, const char *path, const char *what, char **out,
                  size_t *len);
/* The same for all of standard input. */
int cli_read_stdin(const cli_options_t *opts, char **out, size_t *len);

/* --type to a serde format; prints the problem and returns -1 when unknown. */
int cli_format(const cli_options_t *opts, strand_serde_format_t *out);

/* A serde configuration with schema.registry.url and every --property;
 * extra_names/extra_values (n of them) are set first, so --property can
 * override them. NULL (after printing why) on failure; the caller frees it
 * with strand_serde_config_free. */
strand_serde_config_t *cli_serde_config(const cli_options_t *opts, const char *const *extra_names,
                                        const char *const *extra_values, size_t n);

/* The exit status for a failed serde call: CLI_INVALID when the input was at
 * fault, else CLI_FAILED. */
int cli_status_of(int serde_code);

int cli_produce(const cli_options_t *opts);
int cli_consume(const cli_options_t *opts);

#endif
