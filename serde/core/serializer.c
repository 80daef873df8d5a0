/*
 * serializer.c - strand_serializer_*: the schema id of a value found as
 * Confluent's serializers find it (AbstractKafkaAvroSerializer.serializeImpl:
 * auto.register.schemas, else use.schema.id, else use.latest.version, else a
 * lookup), the value validated and encoded straight after the wire prefix
 * (magic 0, big-endian id; strand/wire.h), projected onto the registry's
 * schema when that is not the application's own.
 */
#include <string.h>

#include "base/alloc.h"
#include "core/serde_int.h"
#include "strand/wire.h"

/* Per (application schema, topic): what auto-register, a lookup or
 * use.schema.id decided. Ids never change, so these never expire. */
#define TARGETS_MAX 10000

struct strand_serializer {
    serde_context_t ctx;
    serde_schema_t *schema; /* given at creation, or NULL */
    serde_map_t targets;    /* 'm' + schema address + topic -> target_t */
};

/* Where a value goes: the id it is framed with, the schema it is validated
 * and encoded against, and the projection of that onto the id's schema when
 * the two encode differently. */
typedef struct target {
    serde_ref_t ref;
    int32_t id;
    serde_schema_t *encode_with;    /* held */
    serde_projection_t *projection; /* held; NULL when none is needed */
    serde_schema_t *app;            /* held: the key's schema, so its address stays unique */
} target_t;

static void target_destroy(serde_ref_t *ref)
{
    target_t *t = (target_t *)ref;
    serde__schema_release(t->encode_with);
    serde__projection_release(t->projection);
    serde__schema_release(t->app);
    sd_free(t);
}

static target_t *target_new(int32_t id, serde_schema_t *encode_with, serde_projection_t *projection)
{
    target_t *t = sd_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ref.refs = 1;
    t->ref.destroy = target_destroy;
    t->id = id;
    t->encode_with = (serde_schema_t *)serde__retain(&encode_with->ref);
    if (projection && !projection->identity)
        t->projection = (serde_projection_t *)serde__retain(&projection->ref);
    return t;
}

/* The target for the registry's schema `reg` of the application schema
 * `app` (may be NULL): app's data projected onto reg. A pair reg cannot
 * read is refused when `strict`; otherwise the value must be valid under
 * reg itself. `what` names the check in the error. */
static int target_for(serde_context_t *ctx, serde_schema_t *app, serde_schema_t *reg, int strict,
                      const char *what, target_t **out, strand_serde_error_t *err)
{
    serde_projection_t *projection = NULL;
    *out = NULL;
    if (app) {
        int rc = serde__projection(ctx, app, reg, &projection, err);
        if (rc == STRAND_SERDE_ERR_INCOMPATIBLE && strict)
            return serde__error_prefix(err, rc,
                                       "%s: schema %d cannot read data written with the "
                                       "serializer's schema",
                                       what, (int)reg->id);
        if (rc && rc != STRAND_SERDE_ERR_INCOMPATIBLE)
            return rc;
    }
    /* With a projection the value is checked against the application's
     * schema; with an identity one either does; without one (no
     * application schema, or a refused pair that was not strict) it must
     * be valid under the registry's. */
    *out = target_new(reg->id, projection ? app : reg, projection);
    serde__projection_release(projection);
    return *out ? 0 : serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
}

typedef struct make_arg {
    strand_serializer_t *ser;
    serde_schema_t *app;
    const char *topic;
} make_arg_t;

/* auto.register.schemas or a lookup, or use.schema.id. */
static int make_target(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    make_arg_t *a = arg;
    serde_context_t *ctx = &a->ser->ctx;
    const serde_settings_t *s = &ctx->settings;
    target_t *t = NULL;
    int rc;
    *out = NULL;
    (void)permanent; /* registry answers may change; nothing is remembered */

    if (!s->auto_register && s->use_schema_id >= 0) {
        serde_schema_t *reg = NULL;
        rc = serde__schema_by_id(ctx, s->use_schema_id, &reg, err);
        if (!rc)
            rc = target_for(ctx, a->app, reg, s->id_compat_strict, "id.compatibility.strict", &t,
                            err);
        serde__schema_release(reg);
        if (t && a->app)
            t->app = (serde_schema_t *)serde__retain(&a->app->ref);
        *out = t ? &t->ref : NULL;
        return rc;
    }

    char *subject = NULL;
    rc = serde__subject(ctx, a->topic, a->app, &subject, err);
    if (rc)
        return rc;
    if (!ctx->client) {
        rc = serde__error(err, STRAND_SERDE_ERR_REGISTRY, "no registry client");
        goto done;
    }
    strand_registry_schema_input_t input = {
        .schema_type = ctx->format->schema_type,
        .schema = a->app->text,
        .schema_len = a->app->text_len,
    };
    const strand_registry_schema_t *record = NULL;
    strand_registry_error_t re = {0};
    if (s->auto_register) {
        if (strand_registry_register(ctx->client, subject, &input, s->normalize, &record, &re)) {
            rc = serde__registry_error(err, &re, "registering the schema under subject \"%s\"",
                                       subject);
            goto done;
        }
    } else if (strand_registry_lookup(ctx->client, subject, &input, s->normalize, &record, &re)) {
        rc = serde__registry_error(err, &re, "looking up the schema under subject \"%s\"", subject);
        goto done;
    }
    if (record->id < 0)
        rc = serde__error(err, STRAND_SERDE_ERR_REGISTRY,
                          "the registry's answer for subject \"%s\" has no id", subject);
    else if (!(t = target_new(record->id, a->app, NULL)))
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    else
        t->app = (serde_schema_t *)serde__retain(&a->app->ref);
    strand_registry_schema_release(record);
done:
    sd_free(subject);
    *out = t ? &t->ref : NULL;
    return rc;
}

/* The target of one call: from the targets map, or for use.latest.version
 * from the subject's latest version (the client's cache applies
 * latest.cache.ttl.sec). */
static int find_target(strand_serializer_t *ser, const char *topic, serde_schema_t *app,
                       target_t **out, strand_serde_error_t *err)
{
    serde_context_t *ctx = &ser->ctx;
    const serde_settings_t *s = &ctx->settings;
    *out = NULL;
    if (!s->auto_register && s->use_schema_id < 0 && s->use_latest) {
        char *subject = NULL;
        serde_schema_t *latest = NULL;
        int rc = serde__subject(ctx, topic, app, &subject, err);
        if (!rc)
            rc = serde__schema_latest(ctx, subject, &latest, err);
        if (!rc)
            rc = target_for(ctx, app, latest, s->latest_compat_strict,
                            "latest.compatibility.strict", out, err);
        serde__schema_release(latest);
        sd_free(subject);
        return rc;
    }
    if (!app)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "no schema: give one at creation or with the call, or set "
                            "use.latest.version or use.schema.id");

    /* Key: the schema's address (the serializer holds every schema it
     * maps) and the topic; with use.schema.id the topic plays no part. */
    int by_id = !s->auto_register && s->use_schema_id >= 0;
    size_t topic_len = by_id || !topic ? 0 : strlen(topic);
    uint8_t stack_key[256];
    size_t key_len = 1 + sizeof app + 1 + topic_len;
    uint8_t *key = key_len <= sizeof stack_key ? stack_key : sd_malloc(key_len);
    if (!key)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    key[0] = 'm';
    memcpy(key + 1, &app, sizeof app);
    key[1 + sizeof app] = topic ? 1 : 0;
    memcpy(key + 2 + sizeof app, topic_len ? topic : "", topic_len);
    make_arg_t arg = {ser, app, topic};
    int rc =
        serde__map_get(&ser->targets, key, key_len, make_target, &arg, (serde_ref_t **)out, err);
    if (key != stack_key)
        sd_free(key);
    return rc;
}

/* The application schema of a call: its own text, else the serializer's.
 * One reference for the caller (NULL when there is none). */
static int app_schema(strand_serializer_t *ser, const char *schema, size_t schema_len,
                      serde_schema_t **out, strand_serde_error_t *err)
{
    if (schema)
        return serde__schema_from_text(&ser->ctx, schema, schema_len, out, err);
    *out = ser->schema ? (serde_schema_t *)serde__retain(&ser->schema->ref) : NULL;
    return 0;
}

/* The payload of one value: encoded against the target's schema, then
 * projected when needed. Exactly one of json / avro is given. */
static int encode(const target_t *t, const char *json, size_t json_len, avro_value_t *avro,
                  sd_writer_t *w, strand_serde_error_t *err)
{
    const serde_format_t *f = t->encode_with->format;
    if (!t->projection)
        return json ? f->encode_text(t->encode_with, json, json_len, w, err)
                    : f->encode_avro(t->encode_with, avro, w, err);
    sd_writer_t tmp;
    sd_writer_init(&tmp);
    int rc = json ? f->encode_text(t->encode_with, json, json_len, &tmp, err)
                  : f->encode_avro(t->encode_with, avro, &tmp, err);
    if (!rc && tmp.err)
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = f->project_payload(t->projection, tmp.buf, tmp.len, w, err);
    sd_writer_free(&tmp);
    return rc;
}

static int serialize(strand_serializer_t *ser, const char *topic, const char *json, size_t json_len,
                     avro_value_t *avro, const char *schema, size_t schema_len, uint8_t **out,
                     size_t *out_len, strand_serde_error_t *err)
{
    serde_schema_t *app = NULL;
    target_t *t = NULL;
    sd_writer_t w;
    sd_writer_init(&w);
    int rc = app_schema(ser, schema, schema_len, &app, err);
    if (!rc)
        rc = find_target(ser, topic, app, &t, err);
    if (rc)
        goto done;

    uint8_t prefix[STRAND_WIRE_PREFIX_MAX];
    int n = strand_wire_encode_id(t->id, NULL, 0, prefix, sizeof prefix, NULL);
    if (n < 0) {
        rc = serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "schema id %d cannot be framed",
                          (int)t->id);
        goto done;
    }
    sd_writer_reserve(&w, 128);
    sd_write_bytes(&w, prefix, (size_t)n);
    rc = encode(t, json, json_len, avro, &w, err);
    if (!rc && (w.err || sd_writer_reserve(&w, 1)))
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    if (!rc) {
        *out = sd_writer_steal(&w, out_len);
        serde__clear_error(err);
    }
done:
    sd_writer_free(&w);
    serde__release(t ? &t->ref : NULL);
    serde__schema_release(app);
    return rc;
}

/* ---- public API ------------------------------------------------------------------- */

int strand_serializer_new(strand_registry_client_t *client, const strand_serde_config_t *config,
                          strand_serde_format_t format, int is_key, const char *schema,
                          size_t schema_len, strand_serializer_t **out, strand_serde_error_t *err)
{
    if (!out)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "no place for the serializer");
    *out = NULL;
    strand_serializer_t *ser = sd_calloc(1, sizeof *ser);
    if (!ser)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    int rc = serde__context_init(&ser->ctx, client, config, format, is_key, 0, err);
    if (!rc && serde__map_init(&ser->targets, TARGETS_MAX))
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    if (!rc && schema)
        rc = serde__schema_from_text(&ser->ctx, schema, schema_len, &ser->schema, err);
    if (rc) {
        strand_serializer_free(ser);
        return rc;
    }
    serde__clear_error(err);
    *out = ser;
    return 0;
}

void strand_serializer_free(strand_serializer_t *ser)
{
    if (!ser)
        return;
    serde__map_free(&ser->targets);
    serde__schema_release(ser->schema);
    serde__context_free(&ser->ctx);
    sd_free(ser);
}

int strand_serializer_serialize_json(strand_serializer_t *ser, const char *topic, const char *json,
                                     size_t json_len, const char *schema, size_t schema_len,
                                     uint8_t **out, size_t *out_len, strand_serde_error_t *err)
{
    if (!ser || !out || !out_len)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "serialize needs a serializer and "
                            "places for the output");
    *out = NULL;
    *out_len = 0;
    if (!json) { /* a tombstone: no framing, no registry call */
        serde__clear_error(err);
        return 0;
    }
    return serialize(ser, topic, json, json_len, NULL, schema, schema_len, out, out_len, err);
}

int strand_serializer_serialize_avro(strand_serializer_t *ser, const char *topic,
                                     avro_value_t *value, const char *schema, size_t schema_len,
                                     uint8_t **out, size_t *out_len, strand_serde_error_t *err)
{
    if (!ser || !out || !out_len)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "serialize needs a serializer and "
                            "places for the output");
    *out = NULL;
    *out_len = 0;
    if (!value) {
        serde__clear_error(err);
        return 0;
    }
    if (!value->iface)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "the avro-c value has no class");
    return serialize(ser, topic, NULL, 0, value, schema, schema_len, out, out_len, err);
}

int strand_serializer_subject(strand_serializer_t *ser, const char *topic, const char *schema,
                              size_t schema_len, char **out, strand_serde_error_t *err)
{
    if (!ser || !out)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "subject needs a serializer and a "
                            "place for the output");
    *out = NULL;
    serde_schema_t *app = NULL;
    int rc = app_schema(ser, schema, schema_len, &app, err);
    if (!rc)
        rc = serde__subject(&ser->ctx, topic, app, out, err);
    serde__schema_release(app);
    if (!rc)
        serde__clear_error(err);
    return rc;
}
