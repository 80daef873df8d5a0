/*
 * cli_kafka.c - strand-serde produce and consume: JSON lines to framed
 * Kafka records and back through librdkafka, as Confluent's Avro console
 * producer (parse.key / key.separator) and console consumer
 * (--from-beginning, --max-messages, print.key) do.
 *
 * produce stops at the first line that does not serialize: the records of
 * the lines before it are delivered, nothing of that line is sent, and the
 * exit status is non-zero. consume stops the same way at the first record
 * that does not deserialize, printing nothing of it.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "strand/serde.h"

#define FLUSH_TIMEOUT_MS 60000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_count(const cli_options_t *opts, const char *option, const char *text,
                       long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < 0) {
        cli_error(opts, "%s %s: expected a non-negative integer", option, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* librdkafka configuration: bootstrap.servers, the command's own settings,
 * then every -X (which may override them). NULL after printing why. */
static rd_kafka_conf_t *kafka_conf(const cli_options_t *opts, const char *const *names,
                                   const char *const *values, size_t n)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", opts->bootstrap, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, names[i], values[i], errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            goto fail;
    const cli_properties_t *props = &opts->kafka_properties;
    for (size_t i = 0; i < props->count; i++)
        if (rd_kafka_conf_set(conf, props->names[i], props->values[i], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    return conf;
fail:
    cli_error(opts, "%s", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ---- produce ------------------------------------------------------------------- */

typedef struct delivery_state {
    long long failed;
    char first_error[512];
} delivery_state_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    delivery_state_t *state = opaque;
    (void)rk;
    if (msg->err) {
        if (state->failed++ == 0)
            snprintf(state->first_error, sizeof state->first_error, "%s",
                     rd_kafka_err2str(msg->err));
    }
}

/* Serializes `text` (len bytes) with ser, printing "line N: ..." on failure;
 * returns 0 or the exit status. */
static int serialize_line(const cli_options_t *opts, strand_serializer_t *ser, long long line_no,
                          const char *what, const char *text, size_t len, uint8_t **out,
                          size_t *out_len)
{
    strand_serde_error_t err;
    if (strand_serializer_serialize_json(ser, opts->topic, text, len, NULL, 0, out, out_len,
                                         &err) != 0) {
        cli_error(opts, "line %lld: %s: %s", line_no, what, err.message);
        return cli_status_of(err.code);
    }
    return 0;
}

int cli_produce(const cli_options_t *opts)
{
    strand_serde_format_t format;
    char *schema = NULL, *key_schema = NULL, *line = NULL;
    size_t schema_len = 0, key_schema_len = 0, line_cap = 0;
    strand_serde_config_t *config = NULL;
    strand_serializer_t *ser = NULL, *key_ser = NULL;
    rd_kafka_t *rk = NULL;
    delivery_state_t delivery = {0, ""};
    strand_serde_error_t err;
    char errstr[512];
    int status = CLI_FAILED;

    if (!opts->bootstrap || !opts->registry || !opts->topic || !opts->schema_file) {
        cli_error(opts, "--bootstrap-servers, --registry, --topic and --schema are required");
        return CLI_FAILED;
    }
    if (opts->key_schema_file && !opts->key_separator) {
        cli_error(opts, "--key-schema needs --key-separator");
        return CLI_FAILED;
    }
    if (opts->key_separator && !*opts->key_separator) {
        cli_error(opts, "--key-separator must not be empty");
        return CLI_FAILED;
    }
    if (cli_format(opts, &format) != 0)
        return CLI_FAILED;
    if (cli_read_file(opts, opts->schema_file, "schema", &schema, &schema_len) != 0)
        goto done;
    if (opts->key_schema_file &&
        cli_read_file(opts, opts->key_schema_file, "key schema", &key_schema, &key_schema_len) != 0)
        goto done;
    if (!(config = cli_serde_config(opts, NULL, NULL, 0)))
        goto done;
    if (strand_serializer_new(NULL, config, format, 0, schema, schema_len, &ser, &err) != 0 ||
        (key_schema && strand_serializer_new(NULL, config, format, 1, key_schema, key_schema_len,
                                             &key_ser, &err) != 0)) {
        cli_error(opts, "%s", err.message);
        goto done;
    }
    rd_kafka_conf_t *conf = kafka_conf(opts, NULL, NULL, 0);
    if (!conf)
        goto done;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cli_error(opts, "%s", errstr);
        goto done;
    }

    status = CLI_OK;
    long long line_no = 0;
    ssize_t n;
    while (!stop_requested && (n = getline(&line, &line_cap, stdin)) >= 0) {
        line_no++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        const char *value = line, *key = NULL;
        size_t value_len = len, key_len = 0;
        if (opts->key_separator) {
            line[len] = '\0';
            char *sep = strstr(line, opts->key_separator);
            if (!sep) {
                cli_error(opts, "line %lld: no key separator '%s'", line_no, opts->key_separator);
                status = CLI_INVALID;
                break;
            }
            key = line;
            key_len = (size_t)(sep - line);
            value = sep + strlen(opts->key_separator);
            value_len = len - (size_t)(value - line);
        }
        uint8_t *value_bytes = NULL, *key_bytes = NULL;
        size_t value_bytes_len = 0, key_bytes_len = 0;
        if ((status = serialize_line(opts, ser, line_no, "value", value, value_len, &value_bytes,
                                     &value_bytes_len)) != 0)
            break;
        if (key_ser && (status = serialize_line(opts, key_ser, line_no, "key", key, key_len,
                                                &key_bytes, &key_bytes_len)) != 0) {
            strand_serde_free(value_bytes);
            break;
        }
        for (;;) {
            rd_kafka_resp_err_t rerr = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(opts->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(value_bytes, value_bytes_len),
                RD_KAFKA_V_KEY(key_ser ? (const void *)key_bytes : (const void *)key,
                               key_ser ? key_bytes_len : key_len),
                RD_KAFKA_V_END);
            if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            if (rerr) {
                cli_error(opts, "line %lld: %s", line_no, rd_kafka_err2str(rerr));
                status = CLI_FAILED;
            }
            break;
        }
        strand_serde_free(value_bytes);
        strand_serde_free(key_bytes);
        if (status != CLI_OK)
            break;
        rd_kafka_poll(rk, 0);
    }
    if (ferror(stdin)) {
        cli_error(opts, "cannot read standard input: %s", strerror(errno));
        status = CLI_FAILED;
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
    if (ferr) {
        cli_error(opts, "%d records not delivered within %d ms", rd_kafka_outq_len(rk),
                  FLUSH_TIMEOUT_MS);
        status = CLI_FAILED;
    }
    if (delivery.failed) {
        cli_error(opts, "%lld records not delivered, the first: %s", delivery.failed,
                  delivery.first_error);
        status = CLI_FAILED;
    }
done:
    if (rk)
        rd_kafka_destroy(rk);
    strand_serializer_free(key_ser);
    strand_serializer_free(ser);
    strand_serde_config_free(config);
    free(line);
    free(key_schema);
    free(schema);
    return status;
}

/* ---- consume ------------------------------------------------------------------- */

/* The record's headers as serde wants them; *out is NULL when there are
 * none, else the caller frees it with free(). */
static int record_headers(const rd_kafka_message_t *msg, strand_serde_header_t **out, size_t *count)
{
    rd_kafka_headers_t *hdrs = NULL;
    *out = NULL;
    *count = 0;
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return 0;
    size_t n = rd_kafka_header_cnt(hdrs);
    if (n == 0)
        return 0;
    strand_serde_header_t *h = calloc(n, sizeof *h);
    if (!h)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name;
        const void *value;
        size_t size;
        if (rd_kafka_header_get_all(hdrs, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        h[i].name = name;
        h[i].value = value;
        h[i].value_len = size;
        *count = i + 1;
    }
    *out = h;
    return 0;
}

/* Prints one record: [key <separator>] value, a newline. Returns 0 or the
 * exit status after printing the problem. */
static int print_record(const cli_options_t *opts, strand_deserializer_t *des,
                        strand_deserializer_t *key_des, const rd_kafka_message_t *msg)
{
    strand_serde_header_t *headers = NULL;
    size_t header_count = 0;
    char *value = NULL, *key = NULL;
    strand_serde_error_t err;
    int status = CLI_FAILED;
    const char *topic = rd_kafka_topic_name(msg->rkt);

    if (record_headers(msg, &headers, &header_count) != 0) {
        cli_error(opts, "out of memory");
        goto done;
    }
    if (strand_deserializer_deserialize_json(des, topic, msg->payload, msg->len, headers,
                                             header_count, &value, NULL, NULL, &err) != 0) {
        cli_error(opts, "%s [%d] offset %lld: value: %s", topic, (int)msg->partition,
                  (long long)msg->offset, err.message);
        status = cli_status_of(err.code);
        goto done;
    }
    if (key_des &&
        strand_deserializer_deserialize_json(key_des, topic, msg->key, msg->key_len, headers,
                                             header_count, &key, NULL, NULL, &err) != 0) {
        cli_error(opts, "%s [%d] offset %lld: key: %s", topic, (int)msg->partition,
                  (long long)msg->offset, err.message);
        status = cli_status_of(err.code);
        goto done;
    }
    if (opts->print_key) {
        if (key_des)
            fputs(key ? key : "null", stdout);
        else if (msg->key)
            fwrite(msg->key, 1, msg->key_len, stdout);
        else
            fputs("null", stdout);
        fputs(opts->key_separator ? opts->key_separator : "\t", stdout);
    }
    fputs(value ? value : "null", stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0) {
        cli_error(opts, "cannot write standard output: %s", strerror(errno));
        goto done;
    }
    status = CLI_OK;
done:
    strand_serde_free(key);
    strand_serde_free(value);
    free(headers);
    return status;
}

int cli_consume(const cli_options_t *opts)
{
    strand_serde_format_t format;
    char *reader = NULL;
    size_t reader_len = 0;
    long long max_messages = -1, timeout_ms = -1;
    strand_serde_config_t *config = NULL;
    strand_deserializer_t *des = NULL, *key_des = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    strand_serde_error_t err;
    char errstr[512], group[64];
    int status = CLI_FAILED;

    if (!opts->bootstrap || !opts->registry || !opts->topic) {
        cli_error(opts, "--bootstrap-servers, --registry and --topic are required");
        return CLI_FAILED;
    }
    if (opts->key_type && strcmp(opts->key_type, "avro") != 0) {
        cli_error(opts, "--key-type %s: expected avro (without it keys print as they are)",
                  opts->key_type);
        return CLI_FAILED;
    }
    if ((opts->max_messages &&
         parse_count(opts, "--max-messages", opts->max_messages, &max_messages) != 0) ||
        (opts->timeout_ms && parse_count(opts, "--timeout-ms", opts->timeout_ms, &timeout_ms) != 0))
        return CLI_FAILED;
    if (cli_format(opts, &format) != 0)
        return CLI_FAILED;
    if (opts->reader_schema_file &&
        cli_read_file(opts, opts->reader_schema_file, "reader schema", &reader, &reader_len) != 0)
        goto done;
    if (!(config = cli_serde_config(opts, NULL, NULL, 0)))
        goto done;
    if (strand_deserializer_new(NULL, config, format, 0, reader, reader_len, &des, &err) != 0 ||
        (opts->key_type && strand_deserializer_new(NULL, config, STRAND_SERDE_AVRO, 1, NULL, 0,
                                                   &key_des, &err) != 0)) {
        cli_error(opts, "%s", err.message);
        goto done;
    }
    /* Like Confluent's console consumer: a group of its own unless named,
     * from the end unless --from-beginning (for a group with no offsets). */
    snprintf(group, sizeof group, "strand-serde-consumer-%ld", (long)getpid());
    const char *names[] = {"group.id", "auto.offset.reset", "enable.partition.eof"};
    const char *values[] = {opts->group ? opts->group : group,
                            opts->from_beginning ? "earliest" : "latest", "false"};
    rd_kafka_conf_t *conf = kafka_conf(opts, names, values, 3);
    if (!conf)
        goto done;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cli_error(opts, "%s", errstr);
        goto done;
    }
    rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, opts->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(rk, topics);
    if (serr) {
        cli_error(opts, "subscribe to %s: %s", opts->topic, rd_kafka_err2str(serr));
        goto done;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    status = CLI_OK;
    long long seen = 0, last_record = now_ms();
    while (!stop_requested && (max_messages < 0 || seen < max_messages)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg) {
            if (timeout_ms >= 0 && now_ms() - last_record >= timeout_ms)
                break;
            continue;
        }
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "strand-serde consume: %s\n", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            if (rd_kafka_fatal_error(rk, errstr, sizeof errstr)) {
                cli_error(opts, "fatal: %s", errstr);
                status = CLI_FAILED;
                break;
            }
            continue;
        }
        last_record = now_ms();
        status = print_record(opts, des, key_des, msg);
        rd_kafka_message_destroy(msg);
        if (status != CLI_OK)
            break;
        seen++;
    }
    rd_kafka_consumer_close(rk);
done:
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (rk)
        rd_kafka_destroy(rk);
    strand_deserializer_free(key_des);
    strand_deserializer_free(des);
    strand_serde_config_free(config);
    free(reader);
    return status;
}
