/*
 * avro_consumer.c - a librdkafka consumer reading Confluent wire-format Avro
 * records with libstrand-serde: the deserializer takes the schema id from
 * each record (its framing or its __value_schema_id header), fetches the
 * writer schema from the registry once, and decodes the value; given a
 * reader schema it projects every value onto it (new fields take their
 * defaults, enum symbols map by name).
 *
 *     avro_consumer BOOTSTRAP REGISTRY_URL TOPIC COUNT [READER_SCHEMA_FILE]
 *
 * Joins the consumer group "avro-consumer-example" on TOPIC from its
 * earliest offset, prints "<partition> <offset> <key> <schema id> <value as
 * JSON>" for each of COUNT records and exits 0; exits 1 at the first record
 * that does not deserialize (after saying why), or when COUNT records do not
 * arrive within 60 s.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strand/serde.h"

#define WAIT_SECONDS 60

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
            *len = fread(text, 1, (size_t)size, f);
            text[*len] = '\0';
        }
    }
    fclose(f);
    return text;
}

/* Deserializes and prints one record; 0, or -1 after saying why not. */
static int print_record(strand_deserializer_t *des, const rd_kafka_message_t *msg)
{
    /* Confluent's deserializers read the schema id from a header when the
     * producer put it there: hand the record's headers over. */
    strand_serde_header_t headers[16];
    size_t header_count = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *hvalue;
        size_t size;
        while (header_count < 16 && rd_kafka_header_get_all(hdrs, header_count, &name, &hvalue,
                                                            &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            headers[header_count] = (strand_serde_header_t){name, hvalue, size};
            header_count++;
        }
    }
    char *json = NULL;
    int32_t schema_id = -1;
    strand_serde_error_t err;
    if (strand_deserializer_deserialize_json(des, rd_kafka_topic_name(msg->rkt), msg->payload,
                                             msg->len, headers, header_count, &json, NULL,
                                             &schema_id, &err) != 0) {
        fprintf(stderr, "avro_consumer: partition %d offset %lld: %s\n", (int)msg->partition,
                (long long)msg->offset, err.message);
        return -1;
    }
    printf("%d %lld %.*s %d %s\n", (int)msg->partition, (long long)msg->offset, (int)msg->key_len,
           msg->key ? (const char *)msg->key : "", (int)schema_id, json ? json : "null");
    fflush(stdout);
    strand_serde_free(json);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: avro_consumer BOOTSTRAP REGISTRY_URL TOPIC COUNT "
                        "[READER_SCHEMA_FILE]\n");
        return 2;
    }
    const char *bootstrap = argv[1], *registry = argv[2], *topic = argv[3];
    long long count = atoll(argv[4]);
    char *reader = NULL;
    size_t reader_len = 0;
    strand_serde_config_t *config = NULL;
    strand_deserializer_t *des = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    strand_serde_error_t err;
    char errstr[512];
    int status = 1;

    if (argc == 6 && !(reader = read_file(argv[5], &reader_len))) {
        fprintf(stderr, "avro_consumer: cannot read %s\n", argv[5]);
        return 2;
    }
    config = strand_serde_config_new();
    if (!config || strand_serde_config_set(config, "schema.registry.url", registry, &err) != 0 ||
        strand_deserializer_new(NULL, config, STRAND_SERDE_AVRO, 0, reader, reader_len, &des,
                                &err) != 0) {
        fprintf(stderr, "avro_consumer: %s\n", config ? err.message : "out of memory");
        goto done;
    }

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", "avro-consumer-example", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "avro_consumer: %s\n", errstr);
        goto done;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "avro_consumer: %s\n", errstr);
        goto done;
    }
    rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "avro_consumer: cannot subscribe to %s\n", topic);
        goto done;
    }

    long long seen = 0;
    time_t deadline = time(NULL) + WAIT_SECONDS;
    while (seen < count && time(NULL) < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg)
            continue;
        int rc = 0;
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "avro_consumer: %s\n", rd_kafka_message_errstr(msg));
        } else if ((rc = print_record(des, msg)) == 0) {
            seen++;
        }
        rd_kafka_message_destroy(msg);
        if (rc != 0)
            break;
    }
    if (seen == count)
        status = 0;
    else
        fprintf(stderr, "avro_consumer: %lld of %lld records\n", seen, count);
    rd_kafka_consumer_close(rk);
done:
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (rk)
        rd_kafka_destroy(rk);
    strand_deserializer_free(des);
    strand_serde_config_free(config);
    free(reader);
    return status;
}
