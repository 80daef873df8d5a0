/*
 * serde_avro.c - the Avro format of the serializer and deserializer: schemas
 * compiled into codecs (strand/avro_value.h), values validated while they
 * are encoded straight after the wire prefix, payloads decoded and projected
 * by resolvers. Every payload follows Confluent's rule that a top-level
 * "bytes" schema is written raw (AbstractKafkaAvroSerializer).
 */
#include <string.h>

#include "avro/avro_model.h"
#include "avro/avro_value_int.h"
#include "base/alloc.h"
#include "core/serde_int.h"

/* Every payload is framed the Confluent way. */
#define FLAGS STRAND_AVRO_RAW_BYTES

/* An Avro module error as a serde error; `otherwise` is the code of a
 * failure this context does not single out. */
static int from_avro(int rc, const char *message, int otherwise, const char *prefix,
                     strand_serde_error_t *err)
{
    int code;
    switch (rc) {
    case SD_ERR_NOMEM: code = STRAND_SERDE_ERR_NOMEM; break;
    case STRAND_AVRO_ERR_INCOMPATIBLE: code = STRAND_SERDE_ERR_INCOMPATIBLE; break;
    case STRAND_AVRO_ERR_DECODE: code = STRAND_SERDE_ERR_DECODE; break;
    case STRAND_AVRO_ERR_VALUE: code = STRAND_SERDE_ERR_INVALID_VALUE; break;
    default: code = otherwise; break;
    }
    return serde__error(err, code, "%s%s", prefix, message);
}

static int compile(const char *text, size_t len, serde_schema_t *const *refs, size_t ref_count,
                   unsigned flags, serde_schema_t *out, strand_serde_error_t *err)
{
    sd_err_t e = {0};
    sd_avro_named_t *named = NULL;
    sd_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    strand_avro_error_t ae = {0};
    int rc = 0;

    if (ref_count) {
        named = sd_avro_named_new();
        if (!named) {
            rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < ref_count; i++) {
            const strand_avro_codec_t *ref = refs[i]->impl;
            rc = sd_avro_named_add(named, (sd_avro_schema_t *)strand_avro_codec_schema(ref), &e);
            if (rc) {
                rc = from_avro(rc, e.msg, STRAND_SERDE_ERR_SCHEMA, "schema references: ", err);
                goto fail;
            }
        }
    }
    rc = sd_avro_parse_flags(
        text, len, named, (flags & SERDE_FROM_REGISTRY) ? SD_AVRO_PARSE_LENIENT : 0, &schema, &e);
    if (rc) {
        rc = from_avro(rc, e.msg, STRAND_SERDE_ERR_SCHEMA, "invalid Avro schema: ", err);
        goto fail;
    }
    rc = strand_avro_codec_new(schema, &codec, &ae);
    if (rc) {
        rc = from_avro(rc, ae.message, STRAND_SERDE_ERR_SCHEMA, "Avro schema: ", err);
        goto fail;
    }

    const sd_avro_node_t *root = sd_avro_deref(sd_avro_schema_root(schema));
    /* Confluent's AvroSchema.name(): a named type's full name, else the
     * type's name. */
    out->name = sd_strdup(root->fullname ? root->fullname : sd_avro_kind_name(root->kind));
    out->text = sd_avro_confluent_canonical(schema, &out->text_len, &e);
    out->identity = out->text ? sd_avro_canonical_form(schema, &out->identity_len, &e) : NULL;
    if (!out->name || !out->text || !out->identity) {
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    out->impl = codec;
    codec = NULL;
fail:
    strand_avro_codec_free(codec);
    sd_avro_schema_free(schema);
    sd_avro_named_free(named);
    return rc;
}

static void release(void *impl) { strand_avro_codec_free(impl); }

static int encode_text(const serde_schema_t *schema, const char *text, size_t len, sd_writer_t *w,
                       strand_serde_error_t *err)
{
    if (serde__avro_json_fast(schema->impl, text, len, w) == 0)
        return 0;
    json_error_t jerr;
    json_t *value = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!value)
        return serde__error(err, STRAND_SERDE_ERR_INVALID_VALUE,
                            "the value is not JSON: line %d column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    sd_err_t e = {0};
    int rc = avro_value__encode_json(schema->impl, value, FLAGS, w, &e);
    json_decref(value);
    return rc ? from_avro(rc, e.msg, STRAND_SERDE_ERR_INVALID_VALUE, "", err) : 0;
}

static int encode_avro(const serde_schema_t *schema, avro_value_t *value, sd_writer_t *w,
                       strand_serde_error_t *err)
{
    sd_err_t e = {0};
    int rc = avro_value__encode_value(schema->impl, value, FLAGS, w, &e);
    return rc ? from_avro(rc, e.msg, STRAND_SERDE_ERR_INVALID_VALUE, "", err) : 0;
}

static int project_new(const serde_schema_t *writer, const serde_schema_t *reader, void **impl,
                       strand_serde_error_t *err)
{
    strand_avro_error_t ae = {0};
    strand_avro_resolver_t *resolver = NULL;
    int rc = strand_avro_resolver_new(writer->impl, reader->impl, &resolver, &ae);
    if (rc)
        return from_avro(rc, ae.message, STRAND_SERDE_ERR_INCOMPATIBLE, "", err);
    *impl = resolver;
    return 0;
}

static void project_release(void *impl) { strand_avro_resolver_free(impl); }

static int project_payload(const serde_projection_t *projection, const uint8_t *data, size_t len,
                           sd_writer_t *w, strand_serde_error_t *err)
{
    const strand_avro_resolver_t *resolver = projection->impl;
    sd_err_t e = {0};
    json_t *value = NULL;
    int rc = avro_value__decode(&resolver->plans, data, len, FLAGS, &value, &e);
    if (!rc)
        rc = avro_value__encode_json(resolver->reader, value, FLAGS, w, &e);
    json_decref(value);
    return rc ? from_avro(rc, e.msg, STRAND_SERDE_ERR_INVALID_VALUE, "", err) : 0;
}

static int decode_json(const serde_schema_t *writer, const serde_projection_t *projection,
                       const uint8_t *data, size_t len, char **out, size_t *out_len,
                       strand_serde_error_t *err)
{
    strand_avro_error_t ae = {0};
    int rc = projection
                 ? strand_avro_resolver_decode_json_text(projection->impl, data, len, FLAGS, out,
                                                         out_len, &ae)
                 : strand_avro_decode_json_text(writer->impl, data, len, FLAGS, out, out_len, &ae);
    return rc ? from_avro(rc, ae.message, STRAND_SERDE_ERR_DECODE, "", err) : 0;
}

static int decode_avro(const serde_schema_t *writer, const serde_projection_t *projection,
                       const uint8_t *data, size_t len, avro_value_t *out,
                       strand_serde_error_t *err)
{
    strand_avro_error_t ae = {0};
    int rc = projection
                 ? strand_avro_resolver_decode_value(projection->impl, data, len, FLAGS, out, &ae)
                 : strand_avro_decode_value(writer->impl, data, len, FLAGS, out, &ae);
    return rc ? from_avro(rc, ae.message, STRAND_SERDE_ERR_DECODE, "", err) : 0;
}

const serde_format_t serde__avro_format = {
    .format = STRAND_SERDE_AVRO,
    .schema_type = "AVRO",
    .compile = compile,
    .release = release,
    .encode_text = encode_text,
    .encode_avro = encode_avro,
    .project_new = project_new,
    .project_release = project_release,
    .project_payload = project_payload,
    .decode_json = decode_json,
    .decode_avro = decode_avro,
};
