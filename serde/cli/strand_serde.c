/*
 * strand_serde.c - the strand-serde command: Confluent wire-format records
 * from the shell, in the manner of Confluent's Avro console producer and
 * consumer. encode turns one JSON document (Avro's JSON encoding) into the
 * framed bytes a serializer writes; decode does the reverse; validate checks
 * a document against a schema file with no registry; produce and consume
 * (cli_kafka.c) move JSON lines through Kafka with librdkafka.
 *
 * Nothing is written to standard output unless the whole command succeeded:
 * an invalid input gives a message on stderr and a non-zero exit only.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "strand/avro.h"
#include "strand/avro_value.h"
#include "strand/serde.h"

static const char USAGE[] =
    "usage: strand-serde COMMAND [OPTIONS]\n"
    "\n"
    "  encode   --registry URL --topic T --type avro|protobuf|json (--schema FILE | --latest)\n"
    "           [--key]\n"
    "           one JSON document on stdin, the framed bytes on stdout\n"
    "  decode   --registry URL [--topic T] [--type T] [--reader-schema FILE | --latest] [--key]\n"
    "           framed bytes on stdin, JSON on stdout\n"
    "  validate --type T --schema FILE\n"
    "           a JSON document on stdin; exit 0 valid, 1 invalid (the reason on stderr), 2 error\n"
    "  produce  --bootstrap-servers B --registry URL --topic T --type T --schema FILE\n"
    "           [--key-separator S [--key-schema FILE]]\n"
    "           JSON lines on stdin (\"KEY<S>JSON\" with --key-separator) to framed records\n"
    "  consume  --bootstrap-servers B --registry URL --topic T [--from-beginning]\n"
    "           [--max-messages N] [--timeout-ms MS] [--group G] [--reader-schema FILE]\n"
    "           [--print-key [--key-separator S] [--key-type avro]]\n"
    "           records' values as JSON lines on stdout\n"
    "\n"
    "  --property NAME=VALUE  a serializer or registry client property, Confluent's names\n"
    "                         (auto.register.schemas, value.subject.name.strategy,\n"
    "                         basic.auth.user.info, request.timeout.ms, ...)\n"
    "  -X NAME=VALUE          a librdkafka property (produce, consume)\n"
    "\n"
    "Values are Avro's JSON encoding: unions as {\"type\": value}, bytes as ISO-8859-1\n"
    "strings. Exit status: 0 done, 1 invalid input, 2 any other failure.\n";

/* ---- messages and inputs ----------------------------------------------------- */

void cli_error(const cli_options_t *opts, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "strand-serde %s: ", opts->command ? opts->command : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int read_stream(const cli_options_t *opts, FILE *f, const char *what, char **out,
                       size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        goto nomem;
    for (;;) {
        if (cap - n < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                goto nomem;
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        cli_error(opts, "cannot read %s: %s", what, strerror(errno));
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
nomem:
    free(buf);
    cli_error(opts, "out of memory reading %s", what);
    return -1;
}

int cli_read_file(const cli_options_t *opts, const char *path, const char *what, char **out,
                  size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error(opts, "cannot open %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    char label[512];
    snprintf(label, sizeof label, "%s %s", what, path);
    int rc = read_stream(opts, f, label, out, len);
    fclose(f);
    return rc;
}

int cli_read_stdin(const cli_options_t *opts, char **out, size_t *len)
{
    return read_stream(opts, stdin, "standard input", out, len);
}

/* Writes all of data to stdout and flushes; prints the problem on failure. */
static int write_stdout(const cli_options_t *opts, const void *data, size_t len)
{
    if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0) {
        cli_error(opts, "cannot write standard output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- formats, configuration, statuses ------------------------------------------ */

static const struct {
    const char *name;
    strand_serde_format_t format;
} FORMATS[] = {
    {"avro", STRAND_SERDE_AVRO},
    {"protobuf", STRAND_SERDE_PROTOBUF},
    {"json", STRAND_SERDE_JSON},
};

int cli_format(const cli_options_t *opts, strand_serde_format_t *out)
{
    const char *type = opts->type ? opts->type : "avro";
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (strcmp(type, FORMATS[i].name) == 0) {
            *out = FORMATS[i].format;
            return 0;
        }
    cli_error(opts, "--type %s: expected avro, protobuf or json", type);
    return -1;
}

strand_serde_config_t *cli_serde_config(const cli_options_t *opts, const char *const *extra_names,
                                        const char *const *extra_values, size_t n)
{
    strand_serde_error_t err;
    strand_serde_config_t *config = strand_serde_config_new();
    if (!config) {
        cli_error(opts, "out of memory");
        return NULL;
    }
    if (opts->registry &&
        strand_serde_config_set(config, "schema.registry.url", opts->registry, &err) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (strand_serde_config_set(config, extra_names[i], extra_values[i], &err) != 0)
            goto fail;
    const cli_properties_t *props = &opts->serde_properties;
    for (size_t i = 0; i < props->count; i++)
        if (strand_serde_config_set(config, props->names[i], props->values[i], &err) != 0)
            goto fail;
    return config;
fail:
    cli_error(opts, "%s", err.message);
    strand_serde_config_free(config);
    return NULL;
}

int cli_status_of(int serde_code)
{
    switch (serde_code) {
    case STRAND_SERDE_ERR_INVALID_VALUE:
    case STRAND_SERDE_ERR_FRAMING:
    case STRAND_SERDE_ERR_DECODE: return CLI_INVALID;
    default: return CLI_FAILED;
    }
}

/* ---- encode ------------------------------------------------------------------ */

static int cmd_encode(const cli_options_t *opts)
{
    strand_serde_format_t format;
    char *schema = NULL, *input = NULL;
    size_t schema_len = 0, input_len = 0;
    strand_serde_config_t *config = NULL;
    strand_serializer_t *ser = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    strand_serde_error_t err;
    int status = CLI_FAILED;

    if (!opts->registry || !opts->topic) {
        cli_error(opts, "--registry and --topic are required");
        return CLI_FAILED;
    }
    if (!opts->schema_file && !opts->latest) {
        cli_error(opts, "--schema FILE or --latest is required");
        return CLI_FAILED;
    }
    if (cli_format(opts, &format) != 0)
        return CLI_FAILED;
    if (opts->schema_file &&
        cli_read_file(opts, opts->schema_file, "schema", &schema, &schema_len) != 0)
        goto done;
    /* --latest: the subject's latest version, never a registration (with
     * --schema too, the value is checked against the file's schema and
     * projected onto the latest, as Confluent's use.latest.version does). */
    static const char *const latest_names[] = {"auto.register.schemas", "use.latest.version"};
    static const char *const latest_values[] = {"false", "true"};
    config = cli_serde_config(opts, latest_names, latest_values, opts->latest ? 2 : 0);
    if (!config)
        goto done;
    if (strand_serializer_new(NULL, config, format, opts->key, schema, schema_len, &ser, &err) !=
        0) {
        cli_error(opts, "%s", err.message);
        goto done;
    }
    if (cli_read_stdin(opts, &input, &input_len) != 0)
        goto done;
    if (strand_serializer_serialize_json(ser, opts->topic, input, input_len, NULL, 0, &out,
                                         &out_len, &err) != 0) {
        cli_error(opts, "%s", err.message);
        status = cli_status_of(err.code);
        goto done;
    }
    if (write_stdout(opts, out, out_len) != 0)
        goto done;
    status = CLI_OK;
done:
    strand_serde_free(out);
    strand_serializer_free(ser);
    strand_serde_config_free(config);
    free(input);
    free(schema);
    return status;
}

/* ---- decode ------------------------------------------------------------------ */

static int cmd_decode(const cli_options_t *opts)
{
    strand_serde_format_t format;
    char *reader = NULL, *input = NULL, *out = NULL;
    size_t reader_len = 0, input_len = 0, out_len = 0;
    strand_serde_config_t *config = NULL;
    strand_deserializer_t *des = NULL;
    strand_serde_error_t err;
    int status = CLI_FAILED;

    if (!opts->registry) {
        cli_error(opts, "--registry is required");
        return CLI_FAILED;
    }
    if (opts->latest && !opts->topic) {
        cli_error(opts, "--latest needs --topic (the subject's latest version is the reader)");
        return CLI_FAILED;
    }
    if (cli_format(opts, &format) != 0)
        return CLI_FAILED;
    if (opts->reader_schema_file &&
        cli_read_file(opts, opts->reader_schema_file, "reader schema", &reader, &reader_len) != 0)
        goto done;
    static const char *const latest_names[] = {"use.latest.version"};
    static const char *const latest_values[] = {"true"};
    config = cli_serde_config(opts, latest_names, latest_values, opts->latest ? 1 : 0);
    if (!config)
        goto done;
    if (strand_deserializer_new(NULL, config, format, opts->key, reader, reader_len, &des, &err) !=
        0) {
        cli_error(opts, "%s", err.message);
        goto done;
    }
    if (cli_read_stdin(opts, &input, &input_len) != 0)
        goto done;
    if (strand_deserializer_deserialize_json(des, opts->topic, input, input_len, NULL, 0, &out,
                                             &out_len, NULL, &err) != 0) {
        cli_error(opts, "%s", err.message);
        status = cli_status_of(err.code);
        goto done;
    }
    if (!out) {
        /* Only a NULL value is a tombstone, and stdin always gives bytes. */
        cli_error(opts, "no value");
        status = CLI_INVALID;
        goto done;
    }
    out[out_len] = '\n'; /* replaces the NUL; written by length */
    if (write_stdout(opts, out, out_len + 1) != 0)
        goto done;
    status = CLI_OK;
done:
    strand_serde_free(out);
    strand_deserializer_free(des);
    strand_serde_config_free(config);
    free(input);
    free(reader);
    return status;
}

/* ---- validate ---------------------------------------------------------------- */

/* Needs no registry: the schema file and the document, checked with the Avro
 * value library the serializer validates with. */
static int cmd_validate(const cli_options_t *opts)
{
    strand_serde_format_t format;
    char *schema_text = NULL, *input = NULL;
    size_t schema_len = 0, input_len = 0;
    strand_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    json_t *value = NULL;
    strand_avro_error_t err;
    int status = CLI_FAILED;

    if (!opts->schema_file) {
        cli_error(opts, "--schema FILE is required");
        return CLI_FAILED;
    }
    if (cli_format(opts, &format) != 0)
        return CLI_FAILED;
    if (format != STRAND_SERDE_AVRO) {
        cli_error(opts, "--type %s: only avro can be validated so far", opts->type);
        return CLI_FAILED;
    }
    if (cli_read_file(opts, opts->schema_file, "schema", &schema_text, &schema_len) != 0)
        goto done;
    if (strand_avro_schema_parse(schema_text, schema_len, &schema, &err) != 0 ||
        strand_avro_codec_new(schema, &codec, &err) != 0) {
        cli_error(opts, "schema %s: %s", opts->schema_file, err.message);
        goto done;
    }
    if (cli_read_stdin(opts, &input, &input_len) != 0)
        goto done;
    json_error_t jerr;
    value = json_loadb(input, input_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!value) {
        cli_error(opts, "invalid: not a JSON document: line %d, column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        status = CLI_INVALID;
        goto done;
    }
    if (strand_avro_validate_json(codec, value, &err) != 0) {
        cli_error(opts, "invalid: %s", err.message);
        status = err.code == STRAND_AVRO_ERR_VALUE ? CLI_INVALID : CLI_FAILED;
        goto done;
    }
    status = CLI_OK;
done:
    json_decref(value);
    strand_avro_codec_free(codec);
    strand_avro_schema_free(schema);
    free(input);
    free(schema_text);
    return status;
}

/* ---- the command line ---------------------------------------------------------- */

enum { ENCODE = 1, DECODE = 2, VALIDATE = 4, PRODUCE = 8, CONSUME = 16 };

typedef enum { STRING, FLAG, SERDE_PROPERTY, KAFKA_PROPERTY } option_kind_t;

/* Every option, the commands that take it and where it goes. */
static const struct option_spec {
    const char *name;
    option_kind_t kind;
    size_t offset;
    int commands;
} OPTIONS[] = {
    {"--registry", STRING, offsetof(cli_options_t, registry), ENCODE | DECODE | PRODUCE | CONSUME},
    {"--topic", STRING, offsetof(cli_options_t, topic), ENCODE | DECODE | PRODUCE | CONSUME},
    {"--type", STRING, offsetof(cli_options_t, type),
     ENCODE | DECODE | VALIDATE | PRODUCE | CONSUME},
    {"--schema", STRING, offsetof(cli_options_t, schema_file), ENCODE | VALIDATE | PRODUCE},
    {"--reader-schema", STRING, offsetof(cli_options_t, reader_schema_file), DECODE | CONSUME},
    {"--key-schema", STRING, offsetof(cli_options_t, key_schema_file), PRODUCE},
    {"--key-type", STRING, offsetof(cli_options_t, key_type), CONSUME},
    {"--bootstrap-servers", STRING, offsetof(cli_options_t, bootstrap), PRODUCE | CONSUME},
    {"--key-separator", STRING, offsetof(cli_options_t, key_separator), PRODUCE | CONSUME},
    {"--group", STRING, offsetof(cli_options_t, group), CONSUME},
    {"--max-messages", STRING, offsetof(cli_options_t, max_messages), CONSUME},
    {"--timeout-ms", STRING, offsetof(cli_options_t, timeout_ms), CONSUME},
    {"--latest", FLAG, offsetof(cli_options_t, latest), ENCODE | DECODE},
    {"--key", FLAG, offsetof(cli_options_t, key), ENCODE | DECODE},
    {"--from-beginning", FLAG, offsetof(cli_options_t, from_beginning), CONSUME},
    {"--print-key", FLAG, offsetof(cli_options_t, print_key), CONSUME},
    {"--property", SERDE_PROPERTY, 0, ENCODE | DECODE | PRODUCE | CONSUME},
    {"-X", KAFKA_PROPERTY, 0, PRODUCE | CONSUME},
};

static const struct command {
    const char *name;
    int bit;
    int (*run)(const cli_options_t *opts);
} COMMANDS[] = {
    {"encode", ENCODE, cmd_encode},       {"decode", DECODE, cmd_decode},
    {"validate", VALIDATE, cmd_validate}, {"produce", PRODUCE, cli_produce},
    {"consume", CONSUME, cli_consume},
};

static int add_property(cli_options_t *opts, cli_properties_t *props, const char *option,
                        char *pair)
{
    char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        cli_error(opts, "%s %s: expected NAME=VALUE", option, pair);
        return -1;
    }
    if (props->count == CLI_MAX_PROPERTIES) {
        cli_error(opts, "more than %d %s options", CLI_MAX_PROPERTIES, option);
        return -1;
    }
    *eq = '\0';
    props->names[props->count] = pair;
    props->values[props->count] = eq + 1;
    props->count++;
    return 0;
}

/* Parses argv[2..]: "--name value" or "--name=value". Returns 0 or -1 after
 * printing the problem. */
static int parse_options(const struct command *cmd, int argc, char **argv, cli_options_t *opts)
{
    for (int i = 2; i < argc; i++) {
        char *arg = argv[i];
        char *inline_value = NULL;
        char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct option_spec *spec = NULL;
        for (size_t k = 0; k < sizeof OPTIONS / sizeof OPTIONS[0]; k++)
            if (strlen(OPTIONS[k].name) == name_len && strncmp(OPTIONS[k].name, arg, name_len) == 0)
                spec = &OPTIONS[k];
        if (!spec || !(spec->commands & cmd->bit)) {
            cli_error(opts, "unknown option %.*s (strand-serde --help lists them)", (int)name_len,
                      arg);
            return -1;
        }
        if (eq)
            inline_value = eq + 1;
        if (spec->kind == FLAG) {
            if (inline_value) {
                cli_error(opts, "%s takes no value", spec->name);
                return -1;
            }
            *(int *)((char *)opts + spec->offset) = 1;
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                cli_error(opts, "%s needs a value", spec->name);
                return -1;
            }
            inline_value = argv[++i];
        }
        if (spec->kind == STRING)
            *(const char **)((char *)opts + spec->offset) = inline_value;
        else if (add_property(opts,
                              spec->kind == SERDE_PROPERTY ? &opts->serde_properties
                                                           : &opts->kafka_properties,
                              spec->name, inline_value) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_options_t opts;
    memset(&opts, 0, sizeof opts);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_FAILED : CLI_OK;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            cmd = &COMMANDS[i];
    if (!cmd) {
        fprintf(stderr, "strand-serde: unknown command '%s'\n\n%s", argv[1], USAGE);
        return CLI_FAILED;
    }
    opts.command = cmd->name;
    if (parse_options(cmd, argc, argv, &opts) != 0)
        return CLI_FAILED;
    return cmd->run(&opts);
}
