/*
 * deserializer.c - strand_deserializer_*: the writer's schema id taken from
 * the record's schema-id header or the value's own prefix, in all three of
 * Confluent's forms (DualSchemaIdDeserializer; strand/wire.h), the writer
 * schema fetched and compiled once per id, and the payload decoded as
 * written or projected onto the reader schema by the Avro resolution rules.
 */
#include <string.h>

#include "base/alloc.h"
#include "core/serde_int.h"
#include "strand/wire.h"

struct strand_deserializer {
    serde_context_t ctx;
    serde_schema_t *reader; /* given at creation, or NULL */
};

/* The side's schema-id header: the last one, as Kafka's lastHeader. */
static const strand_serde_header_t *id_header(const strand_deserializer_t *des,
                                              const strand_serde_header_t *headers, size_t n)
{
    const char *name =
        des->ctx.is_key ? STRAND_WIRE_KEY_SCHEMA_ID_HEADER : STRAND_WIRE_VALUE_SCHEMA_ID_HEADER;
    for (size_t i = n; headers && i-- > 0;)
        if (headers[i].name && headers[i].value && strcmp(headers[i].name, name) == 0)
            return &headers[i];
    return NULL;
}

/* Everything but the decoding itself: the frame, the writer's schema, and
 * the projection onto the reader (NULL when there is no reader or the two
 * encode alike). A tombstone gives frame->kind STRAND_WIRE_NONE. */
static int prepare(strand_deserializer_t *des, const char *topic, const void *value, size_t len,
                   const strand_serde_header_t *headers, size_t header_count,
                   strand_wire_frame_t *frame, serde_schema_t **writer,
                   serde_projection_t **projection, strand_serde_error_t *err)
{
    serde_context_t *ctx = &des->ctx;
    *writer = NULL;
    *projection = NULL;
    const strand_serde_header_t *h = value ? id_header(des, headers, header_count) : NULL;
    strand_wire_error_t we;
    if (strand_wire_decode_record(value, len, h ? h->value : NULL, h ? h->value_len : 0, 0, frame,
                                  &we))
        return serde__error(err,
                            we.code == STRAND_WIRE_ERR_SPACE ? STRAND_SERDE_ERR_ARGUMENT
                                                             : STRAND_SERDE_ERR_FRAMING,
                            "%s%s", h ? "schema-id header: " : "", we.message);
    if (frame->kind == STRAND_WIRE_NONE)
        return 0;

    int rc = frame->kind == STRAND_WIRE_ID ? serde__schema_by_id(ctx, frame->id, writer, err)
                                           : serde__schema_by_guid(ctx, frame->guid, writer, err);
    if (rc)
        return rc;

    serde_schema_t *reader = NULL;
    if (des->reader) {
        reader = (serde_schema_t *)serde__retain(&des->reader->ref);
    } else if (ctx->settings.use_latest) {
        char *subject = NULL;
        rc = serde__subject(ctx, topic, *writer, &subject, err);
        if (!rc)
            rc = serde__schema_latest(ctx, subject, &reader, err);
        sd_free(subject);
        if (rc)
            return rc;
    }
    if (reader && reader != *writer) {
        rc = serde__projection(ctx, *writer, reader, projection, err);
        if (rc == STRAND_SERDE_ERR_INCOMPATIBLE) {
            if ((*writer)->id >= 0)
                serde__error_prefix(err, rc, "the reader schema cannot read data of schema %d",
                                    (int)(*writer)->id);
            else
                serde__error_prefix(err, rc, "the reader schema cannot read data of schema %s",
                                    (*writer)->guid);
        }
        if (!rc && (*projection)->identity) {
            serde__projection_release(*projection);
            *projection = NULL;
        }
    }
    serde__schema_release(reader);
    return rc;
}

/* Names the writer's schema in a decoding error; gives its id on success. */
static void after_decode(int rc, const serde_schema_t *writer, int32_t *schema_id,
                         strand_serde_error_t *err)
{
    if (!rc) {
        if (schema_id)
            *schema_id = writer->id;
    } else if (rc != STRAND_SERDE_ERR_NOMEM) {
        if (writer->id >= 0)
            serde__error_prefix(err, rc, "payload of schema %d", (int)writer->id);
        else
            serde__error_prefix(err, rc, "payload of schema %s", writer->guid);
    }
}

static void finish(serde_schema_t *writer, serde_projection_t *projection)
{
    serde__projection_release(projection);
    serde__schema_release(writer);
}

/* ---- public API ------------------------------------------------------------------- */

static int deserializer_new(strand_registry_client_t *client, const strand_serde_config_t *config,
                            strand_serde_format_t format, int is_key, const char *reader_schema,
                            size_t reader_schema_len, int offline, strand_deserializer_t **out,
                            strand_serde_error_t *err)
{
    if (!out)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "no place for the deserializer");
    *out = NULL;
    strand_deserializer_t *des = sd_calloc(1, sizeof *des);
    if (!des)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    int rc = serde__context_init(&des->ctx, client, config, format, is_key, offline, err);
    if (!rc && reader_schema)
        rc =
            serde__schema_from_text(&des->ctx, reader_schema, reader_schema_len, &des->reader, err);
    if (rc) {
        if (rc != STRAND_SERDE_ERR_NOMEM && reader_schema && des->ctx.format)
            serde__error_prefix(err, rc, "reader schema");
        strand_deserializer_free(des);
        return rc;
    }
    serde__clear_error(err);
    *out = des;
    return 0;
}

int strand_deserializer_new(strand_registry_client_t *client, const strand_serde_config_t *config,
                            strand_serde_format_t format, int is_key, const char *reader_schema,
                            size_t reader_schema_len, strand_deserializer_t **out,
                            strand_serde_error_t *err)
{
    return deserializer_new(client, config, format, is_key, reader_schema, reader_schema_len, 0,
                            out, err);
}

int serde__deserializer_new_offline(const strand_serde_config_t *config,
                                    strand_serde_format_t format, int is_key,
                                    const char *reader_schema, size_t reader_schema_len,
                                    strand_deserializer_t **out, strand_serde_error_t *err)
{
    return deserializer_new(NULL, config, format, is_key, reader_schema, reader_schema_len, 1, out,
                            err);
}

int serde__deserializer_seed(strand_deserializer_t *des, int32_t id, const char *guid,
                             const char *text, size_t len, strand_serde_error_t *err)
{
    return serde__context_seed(&des->ctx, id, guid, text, len, err);
}

void strand_deserializer_free(strand_deserializer_t *des)
{
    if (!des)
        return;
    serde__schema_release(des->reader);
    serde__context_free(&des->ctx);
    sd_free(des);
}

int strand_deserializer_deserialize_json(strand_deserializer_t *des, const char *topic,
                                         const void *value, size_t len,
                                         const strand_serde_header_t *headers, size_t header_count,
                                         char **out, size_t *out_len, int32_t *schema_id,
                                         strand_serde_error_t *err)
{
    if (schema_id)
        *schema_id = -1;
    if (out_len)
        *out_len = 0;
    if (!des || !out)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "deserialize needs a deserializer and a place for the output");
    *out = NULL;
    strand_wire_frame_t frame;
    serde_schema_t *writer = NULL;
    serde_projection_t *projection = NULL;
    int rc =
        prepare(des, topic, value, len, headers, header_count, &frame, &writer, &projection, err);
    if (!rc && frame.kind != STRAND_WIRE_NONE) {
        rc = des->ctx.format->decode_json(writer, projection, frame.payload, frame.payload_len, out,
                                          out_len, err);
        after_decode(rc, writer, schema_id, err);
    }
    finish(writer, projection);
    if (!rc)
        serde__clear_error(err);
    return rc;
}

int strand_deserializer_deserialize_avro(strand_deserializer_t *des, const char *topic,
                                         const void *value, size_t len,
                                         const strand_serde_header_t *headers, size_t header_count,
                                         avro_value_t *out, int32_t *schema_id,
                                         strand_serde_error_t *err)
{
    if (schema_id)
        *schema_id = -1;
    if (!des || !out)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "deserialize needs a deserializer and a place for the output");
    memset(out, 0, sizeof *out);
    strand_wire_frame_t frame;
    serde_schema_t *writer = NULL;
    serde_projection_t *projection = NULL;
    int rc =
        prepare(des, topic, value, len, headers, header_count, &frame, &writer, &projection, err);
    if (!rc && frame.kind != STRAND_WIRE_NONE) {
        rc = des->ctx.format->decode_avro(writer, projection, frame.payload, frame.payload_len, out,
                                          err);
        after_decode(rc, writer, schema_id, err);
    }
    finish(writer, projection);
    if (!rc)
        serde__clear_error(err);
    return rc;
}
