/*
 * avro_producer.c - a librdkafka producer writing Avro records in
 * Confluent's wire format with libstrand-serde: the application builds each
 * value as an avro-c value, the serializer validates it, registers the
 * schema on first use (auto.register.schemas) and frames it with the schema
 * id; librdkafka sends the bytes.
 *
 *     avro_producer BOOTSTRAP REGISTRY_URL TOPIC COUNT
 *
 * Record i: key "payment-<i>", value Payment{id: "pay-<i>", amount: i * 1.25,
 * currency: EUR, USD or GBP in turn, note: null or "note <i>" every third}.
 * Prints "delivered N records with schema id ID" and exits 0 when every
 * record was acknowledged.
 */
#include <avro.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strand/serde.h"
#include "strand/wire.h"

static const char PAYMENT_SCHEMA[] =
    "{\"type\": \"record\", \"name\": \"Payment\", \"namespace\": \"com.example.payments\","
    " \"fields\": ["
    "  {\"name\": \"id\", \"type\": \"string\"},"
    "  {\"name\": \"amount\", \"type\": \"double\"},"
    "  {\"name\": \"currency\", \"type\": {\"type\": \"enum\", \"name\": \"Currency\","
    "   \"symbols\": [\"EUR\", \"USD\", \"GBP\"]}},"
    "  {\"name\": \"note\", \"type\": [\"null\", \"string\"], \"default\": null}"
    "]}";

static long long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (msg->err) {
        if (failed++ == 0)
            fprintf(stderr, "avro_producer: delivery failed: %s\n", rd_kafka_err2str(msg->err));
    } else {
        delivered++;
    }
}

/* Fills `value` (a Payment) for record i. Returns 0 or avro-c's error. */
static int fill_payment(avro_value_t *value, long long i)
{
    char id[64], note[64];
    avro_value_t field, branch;
    snprintf(id, sizeof id, "pay-%lld", i);
    snprintf(note, sizeof note, "note %lld", i);
    int rc = 0;
    rc = rc ? rc : avro_value_get_by_name(value, "id", &field, NULL);
    rc = rc ? rc : avro_value_set_string(&field, id);
    rc = rc ? rc : avro_value_get_by_name(value, "amount", &field, NULL);
    rc = rc ? rc : avro_value_set_double(&field, (double)i * 1.25);
    rc = rc ? rc : avro_value_get_by_name(value, "currency", &field, NULL);
    rc = rc ? rc : avro_value_set_enum(&field, (int)(i % 3));
    rc = rc ? rc : avro_value_get_by_name(value, "note", &field, NULL);
    if (i % 3 == 0) {
        rc = rc ? rc : avro_value_set_branch(&field, 1, &branch);
        rc = rc ? rc : avro_value_set_string(&branch, note);
    } else {
        rc = rc ? rc : avro_value_set_branch(&field, 0, &branch);
        rc = rc ? rc : avro_value_set_null(&branch);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: avro_producer BOOTSTRAP REGISTRY_URL TOPIC COUNT\n");
        return 2;
    }
    const char *bootstrap = argv[1], *registry = argv[2], *topic = argv[3];
    long long count = atoll(argv[4]);
    strand_serde_config_t *config = NULL;
    strand_serializer_t *ser = NULL;
    avro_schema_t schema = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t value = {NULL, NULL};
    rd_kafka_t *rk = NULL;
    strand_serde_error_t err;
    char errstr[512];
    int32_t schema_id = -1;
    int status = 1;

    /* The serializer: Confluent's properties, the schema values are written
     * with, and a registry client of its own made from the properties. */
    config = strand_serde_config_new();
    if (!config || strand_serde_config_set(config, "schema.registry.url", registry, &err) != 0)
        goto serde_fail;
    if (strand_serializer_new(NULL, config, STRAND_SERDE_AVRO, 0, PAYMENT_SCHEMA,
                              strlen(PAYMENT_SCHEMA), &ser, &err) != 0)
        goto serde_fail;

    /* The application's own avro-c view of the same schema. */
    if (avro_schema_from_json_length(PAYMENT_SCHEMA, strlen(PAYMENT_SCHEMA), &schema) != 0 ||
        !(iface = avro_generic_class_from_schema(schema)) ||
        avro_generic_value_new(iface, &value) != 0) {
        fprintf(stderr, "avro_producer: avro-c: %s\n", avro_strerror());
        goto done;
    }

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "avro_producer: %s\n", errstr);
        goto done;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "avro_producer: %s\n", errstr);
        goto done;
    }

    for (long long i = 0; i < count; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        char key[64];
        avro_value_reset(&value);
        if (fill_payment(&value, i) != 0) {
            fprintf(stderr, "avro_producer: avro-c: %s\n", avro_strerror());
            goto done;
        }
        if (strand_serializer_serialize_avro(ser, topic, &value, NULL, 0, &bytes, &len, &err) != 0)
            goto serde_fail;
        if (schema_id < 0) {
            strand_wire_frame_t frame;
            if (strand_wire_decode(bytes, len, 0, &frame, NULL) == 0)
                schema_id = frame.id;
        }
        snprintf(key, sizeof key, "payment-%lld", i);
        rd_kafka_resp_err_t rerr;
        /* RD_KAFKA_MSG_F_COPY: librdkafka keeps its own copy, ours goes now. */
        while ((rerr = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(bytes, len),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 100);
        strand_serde_free(bytes);
        if (rerr) {
            fprintf(stderr, "avro_producer: produce: %s\n", rd_kafka_err2str(rerr));
            goto done;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "avro_producer: %d records still queued\n", rd_kafka_outq_len(rk));
    if (delivered == count && failed == 0) {
        printf("delivered %lld records with schema id %d\n", delivered, (int)schema_id);
        status = 0;
    }
    goto done;

serde_fail:
    fprintf(stderr, "avro_producer: %s\n", config ? err.message : "out of memory");
done:
    if (rk)
        rd_kafka_destroy(rk);
    if (value.self)
        avro_value_decref(&value);
    if (iface)
        avro_value_iface_decref(iface);
    if (schema)
        avro_schema_decref(schema);
    strand_serializer_free(ser);
    strand_serde_config_free(config);
    return status;
}
