/*
 * serde_context.c - what a serializer or deserializer keeps: its registry
 * client, its settings, and its caches of compiled schemas (by id, GUID,
 * subject version and application text) and projections (by writer and
 * reader), each made once however many threads ask at the same time.
 * Schemas with references (Confluent's schema references) are compiled with
 * the referenced subject versions, fetched and compiled once each.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "core/serde_int.h"
#include "strand/wire.h"

/* How many entries each cache keeps (Confluent's client keeps 1000 schemas
 * per subject); past them values are made per call. */
#define SCHEMAS_MAX 10000
#define TEXTS_MAX 1000
#define PROJECTIONS_MAX 10000
/* Deepest chain of schema references followed. */
#define REFERENCE_DEPTH_MAX 32

/* ---- compiled schemas ----------------------------------------------------------- */

static void schema_destroy(serde_ref_t *ref)
{
    serde_schema_t *s = (serde_schema_t *)ref;
    if (s->impl)
        s->format->release(s->impl);
    sd_free(s->name);
    sd_free(s->text);
    sd_free(s->identity);
    sd_free(s);
}

static int schema_compile(const serde_format_t *format, const char *text, size_t len,
                          serde_schema_t *const *refs, size_t ref_count, unsigned flags, int32_t id,
                          const char *guid, serde_schema_t **out, strand_serde_error_t *err)
{
    *out = NULL;
    serde_schema_t *s = sd_calloc(1, sizeof *s);
    if (!s)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    s->ref.refs = 1;
    s->ref.destroy = schema_destroy;
    s->format = format;
    s->id = id;
    if (guid)
        snprintf(s->guid, sizeof s->guid, "%s", guid);
    int rc = format->compile(text, len, refs, ref_count, flags, s, err);
    if (rc) {
        schema_destroy(&s->ref);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- the context ------------------------------------------------------------------ */

int serde__context_init(serde_context_t *ctx, strand_registry_client_t *client,
                        const strand_serde_config_t *config, strand_serde_format_t format,
                        int is_key, int offline, strand_serde_error_t *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->is_key = is_key;
    ctx->format = serde__format(format, err);
    if (!ctx->format)
        return err ? err->code : STRAND_SERDE_ERR_UNSUPPORTED;
    serde__settings(config, is_key, &ctx->settings, err);
    if (serde__map_init(&ctx->by_id, SCHEMAS_MAX) || serde__map_init(&ctx->texts, TEXTS_MAX) ||
        serde__map_init(&ctx->projections, PROJECTIONS_MAX))
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    if (client || offline) {
        ctx->client = client;
        return 0;
    }
    if (!config)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "no registry client and no configuration to make one from");
    /* The client takes the whole property set and ignores what it does not
     * know, as Confluent's serializers pass theirs on. */
    size_t n = sd_props_count(config->props);
    const char **keys = sd_calloc(n + 1, sizeof *keys);
    const char **values = sd_calloc(n + 1, sizeof *values);
    int rc = 0;
    if (!keys || !values) {
        rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            keys[i] = sd_props_key_at(config->props, i);
            values[i] = sd_props_value_at(config->props, i);
        }
        strand_registry_error_t re = {0};
        if (strand_registry_client_new(keys, values, n, &ctx->client, &re))
            rc = serde__registry_error(err, &re, "registry client");
        else
            ctx->owns_client = 1;
    }
    sd_free(keys);
    sd_free(values);
    return rc;
}

void serde__context_free(serde_context_t *ctx)
{
    serde__map_free(&ctx->projections);
    serde__map_free(&ctx->texts);
    serde__map_free(&ctx->by_id);
    if (ctx->owns_client)
        strand_registry_client_free(ctx->client);
    ctx->client = NULL;
}

/* ---- application schemas ------------------------------------------------------------ */

typedef struct text_arg {
    serde_context_t *ctx;
    const char *text;
    size_t len;
} text_arg_t;

static int make_from_text(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    text_arg_t *a = arg;
    serde_schema_t *s = NULL;
    int rc = schema_compile(a->ctx->format, a->text, a->len, NULL, 0, 0, -1, NULL, &s, err);
    /* A text that does not parse never will. */
    *permanent = rc != 0 && rc != STRAND_SERDE_ERR_NOMEM;
    *out = s ? &s->ref : NULL;
    return rc;
}

int serde__schema_from_text(serde_context_t *ctx, const char *text, size_t len,
                            serde_schema_t **out, strand_serde_error_t *err)
{
    text_arg_t arg = {ctx, text, len};
    return serde__map_get(&ctx->texts, text, len, make_from_text, &arg, (serde_ref_t **)out, err);
}

/* ---- registry schemas ------------------------------------------------------------------ */

static int compile_record(serde_context_t *ctx, const strand_registry_schema_t *record, int depth,
                          serde_schema_t **out, strand_serde_error_t *err);

typedef struct version_arg {
    serde_context_t *ctx;
    const strand_registry_reference_t *ref;
    int depth;
} version_arg_t;

static int make_version(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    version_arg_t *a = arg;
    const strand_registry_schema_t *record = NULL;
    strand_registry_error_t re = {0};
    *out = NULL;
    if (!a->ctx->client)
        return serde__error(err, STRAND_SERDE_ERR_UNKNOWN_SCHEMA,
                            "referenced subject \"%s\" version %d: no registry client",
                            a->ref->subject, a->ref->version);
    if (strand_registry_get_version(a->ctx->client, a->ref->subject, a->ref->version, &record, &re))
        return serde__registry_error(err, &re, "referenced subject \"%s\" version %d",
                                     a->ref->subject, a->ref->version);
    serde_schema_t *s = NULL;
    int rc = compile_record(a->ctx, record, a->depth, &s, err);
    strand_registry_schema_release(record);
    *permanent = rc == STRAND_SERDE_ERR_SCHEMA || rc == STRAND_SERDE_ERR_UNSUPPORTED;
    *out = s ? &s->ref : NULL;
    return rc;
}

/* Compiles a registry record, with the subject versions it references. */
static int compile_record(serde_context_t *ctx, const strand_registry_schema_t *record, int depth,
                          serde_schema_t **out, strand_serde_error_t *err)
{
    *out = NULL;
    if (strcmp(record->schema_type, ctx->format->schema_type) != 0)
        return serde__error(err, STRAND_SERDE_ERR_UNSUPPORTED,
                            "schema %d is a %s schema; this reads %s", (int)record->id,
                            record->schema_type, ctx->format->schema_type);
    if (depth > REFERENCE_DEPTH_MAX)
        return serde__error(err, STRAND_SERDE_ERR_SCHEMA, "schema references nested deeper than %d",
                            REFERENCE_DEPTH_MAX);
    serde_schema_t **refs = NULL;
    size_t got = 0;
    int rc = 0;
    if (record->reference_count) {
        refs = sd_calloc(record->reference_count, sizeof *refs);
        if (!refs)
            return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    }
    for (; got < record->reference_count; got++) {
        const strand_registry_reference_t *ref = &record->references[got];
        size_t sublen = strlen(ref->subject);
        uint8_t *key = sd_malloc(5 + sublen);
        if (!key) {
            rc = serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
            break;
        }
        key[0] = 'v';
        sd_put_be32(key + 1, (uint32_t)ref->version);
        memcpy(key + 5, ref->subject, sublen);
        version_arg_t arg = {ctx, ref, depth + 1};
        rc = serde__map_get(&ctx->by_id, key, 5 + sublen, make_version, &arg,
                            (serde_ref_t **)&refs[got], err);
        sd_free(key);
        if (rc)
            break;
    }
    if (!rc)
        rc = schema_compile(ctx->format, record->schema, record->schema_len, refs, got,
                            SERDE_FROM_REGISTRY, record->id, record->guid, out, err);
    for (size_t i = 0; i < got; i++)
        serde__schema_release(refs[i]);
    sd_free(refs);
    if (rc && rc != STRAND_SERDE_ERR_NOMEM && rc != STRAND_SERDE_ERR_UNSUPPORTED && record->id >= 0)
        serde__error_prefix(err, rc, "schema %d", (int)record->id);
    return rc;
}

typedef struct record_arg {
    serde_context_t *ctx;
    const strand_registry_schema_t *record;
} record_arg_t;

static int make_from_record(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    record_arg_t *a = arg;
    serde_schema_t *s = NULL;
    int rc = compile_record(a->ctx, a->record, 0, &s, err);
    *permanent = rc == STRAND_SERDE_ERR_SCHEMA || rc == STRAND_SERDE_ERR_UNSUPPORTED;
    *out = s ? &s->ref : NULL;
    return rc;
}

static void id_key(uint8_t key[5], int32_t id)
{
    key[0] = 'i';
    sd_put_be32(key + 1, (uint32_t)id);
}

int serde__schema_from_record(serde_context_t *ctx, const strand_registry_schema_t *record,
                              serde_schema_t **out, strand_serde_error_t *err)
{
    record_arg_t arg = {ctx, record};
    if (record->id < 0) {
        serde_ref_t *ref = NULL;
        int permanent;
        int rc = make_from_record(&arg, &ref, &permanent, err);
        *out = (serde_schema_t *)ref;
        return rc;
    }
    uint8_t key[5];
    id_key(key, record->id);
    return serde__map_get(&ctx->by_id, key, sizeof key, make_from_record, &arg, (serde_ref_t **)out,
                          err);
}

typedef struct fetch_arg {
    serde_context_t *ctx;
    int32_t id;
    const char *guid; /* text, or NULL for a fetch by id */
} fetch_arg_t;

static int make_fetched(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    fetch_arg_t *a = arg;
    const strand_registry_schema_t *record = NULL;
    strand_registry_error_t re = {0};
    int rc;
    *out = NULL;
    if (!a->ctx->client) {
        if (a->guid)
            return serde__error(err, STRAND_SERDE_ERR_UNKNOWN_SCHEMA,
                                "schema %s not found (no registry client)", a->guid);
        return serde__error(err, STRAND_SERDE_ERR_UNKNOWN_SCHEMA,
                            "schema %d not found (no registry client)", (int)a->id);
    }
    if (a->guid)
        rc = strand_registry_get_by_guid(a->ctx->client, a->guid, &record, &re);
    else
        rc = strand_registry_get_by_id(a->ctx->client, a->id, &record, &re);
    if (rc) {
        rc = a->guid ? serde__registry_error(err, &re, "schema %s", a->guid)
                     : serde__registry_error(err, &re, "schema %d", (int)a->id);
        if (rc == STRAND_SERDE_ERR_UNKNOWN_SCHEMA && err) {
            if (a->guid)
                snprintf(err->message, sizeof err->message,
                         "schema %s not found in the registry (%d)", a->guid, re.error_code);
            else
                snprintf(err->message, sizeof err->message,
                         "schema %d not found in the registry (%d)", (int)a->id, re.error_code);
        }
        return rc;
    }
    serde_schema_t *s = NULL;
    rc = compile_record(a->ctx, record, 0, &s, err);
    strand_registry_schema_release(record);
    *permanent = rc == STRAND_SERDE_ERR_SCHEMA || rc == STRAND_SERDE_ERR_UNSUPPORTED;
    *out = s ? &s->ref : NULL;
    return rc;
}

int serde__schema_by_id(serde_context_t *ctx, int32_t id, serde_schema_t **out,
                        strand_serde_error_t *err)
{
    uint8_t key[5];
    id_key(key, id);
    fetch_arg_t arg = {ctx, id, NULL};
    return serde__map_get(&ctx->by_id, key, sizeof key, make_fetched, &arg, (serde_ref_t **)out,
                          err);
}

int serde__schema_by_guid(serde_context_t *ctx, const uint8_t guid[16], serde_schema_t **out,
                          strand_serde_error_t *err)
{
    uint8_t key[17];
    key[0] = 'g';
    memcpy(key + 1, guid, 16);
    char text[STRAND_WIRE_GUID_TEXT_SIZE];
    strand_wire_guid_format(guid, text);
    fetch_arg_t arg = {ctx, -1, text};
    return serde__map_get(&ctx->by_id, key, sizeof key, make_fetched, &arg, (serde_ref_t **)out,
                          err);
}

int serde__schema_latest(serde_context_t *ctx, const char *subject, serde_schema_t **out,
                         strand_serde_error_t *err)
{
    *out = NULL;
    if (!ctx->client)
        return serde__error(err, STRAND_SERDE_ERR_UNKNOWN_SCHEMA,
                            "no latest version of subject \"%s\" (no registry client)", subject);
    const strand_registry_schema_t *record = NULL;
    strand_registry_error_t re = {0};
    if (strand_registry_get_latest(ctx->client, subject, &record, &re))
        return serde__registry_error(err, &re, "latest version of subject \"%s\"", subject);
    int rc = serde__schema_from_record(ctx, record, out, err);
    strand_registry_schema_release(record);
    return rc;
}

/* ---- projections ---------------------------------------------------------------------- */

static void projection_destroy(serde_ref_t *ref)
{
    serde_projection_t *p = (serde_projection_t *)ref;
    if (p->impl)
        p->writer->format->project_release(p->impl);
    serde__schema_release(p->writer);
    serde__schema_release(p->reader);
    sd_free(p);
}

typedef struct projection_arg {
    serde_schema_t *writer, *reader;
} projection_arg_t;

static int make_projection(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    projection_arg_t *a = arg;
    *out = NULL;
    serde_projection_t *p = sd_calloc(1, sizeof *p);
    if (!p)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    p->ref.refs = 1;
    p->ref.destroy = projection_destroy;
    p->writer = (serde_schema_t *)serde__retain(&a->writer->ref);
    p->reader = (serde_schema_t *)serde__retain(&a->reader->ref);
    /* Schemas that encode alike need no projection. */
    p->identity = a->writer->identity_len == a->reader->identity_len &&
                  memcmp(a->writer->identity, a->reader->identity, a->reader->identity_len) == 0;
    if (!p->identity) {
        int rc = a->writer->format->project_new(a->writer, a->reader, &p->impl, err);
        if (rc) {
            *permanent = rc == STRAND_SERDE_ERR_INCOMPATIBLE;
            projection_destroy(&p->ref);
            return rc;
        }
    }
    *out = &p->ref;
    return 0;
}

int serde__projection(serde_context_t *ctx, serde_schema_t *writer, serde_schema_t *reader,
                      serde_projection_t **out, strand_serde_error_t *err)
{
    /* The entry holds both schemas, so their addresses identify them. */
    const void *key[2] = {writer, reader};
    projection_arg_t arg = {writer, reader};
    return serde__map_get(&ctx->projections, key, sizeof key, make_projection, &arg,
                          (serde_ref_t **)out, err);
}

/* ---- subjects --------------------------------------------------------------------------- */

int serde__subject(const serde_context_t *ctx, const char *topic, const serde_schema_t *schema,
                   char **out, strand_serde_error_t *err)
{
    static const char *const names[] = {"TopicNameStrategy", "RecordNameStrategy",
                                        "TopicRecordNameStrategy"};
    serde_strategy_t strategy = ctx->settings.strategy;
    const char *name = schema ? schema->name : NULL;
    *out = NULL;
    if (strategy != SERDE_RECORD_NAME && !topic)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "%s needs a topic", names[strategy]);
    if (strategy != SERDE_TOPIC_NAME && !name)
        return serde__error(err, STRAND_SERDE_ERR_SUBJECT,
                            "%s needs a schema to name the subject by: give the %s schema at "
                            "creation or with the call",
                            names[strategy], ctx->is_key ? "key" : "value");
    const char *suffix = strategy == SERDE_TOPIC_NAME ? (ctx->is_key ? "key" : "value") : name;
    size_t n =
        strategy == SERDE_RECORD_NAME ? strlen(name) + 1 : strlen(topic) + 1 + strlen(suffix) + 1;
    char *s = sd_malloc(n);
    if (!s)
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    if (strategy == SERDE_RECORD_NAME)
        memcpy(s, name, n);
    else
        snprintf(s, n, "%s-%s", topic, suffix);
    *out = s;
    return 0;
}

/* ---- test hook ---------------------------------------------------------------------------- */

typedef struct ready_arg {
    serde_schema_t *schema;
} ready_arg_t;

static int make_ready(void *arg, serde_ref_t **out, int *permanent, strand_serde_error_t *err)
{
    (void)permanent;
    (void)err;
    *out = serde__retain(&((ready_arg_t *)arg)->schema->ref);
    return 0;
}

int serde__context_seed(serde_context_t *ctx, int32_t id, const char *guid, const char *text,
                        size_t len, strand_serde_error_t *err)
{
    uint8_t guid_bytes[16];
    if (guid) {
        strand_wire_error_t we;
        if (strand_wire_guid_parse(guid, strlen(guid), guid_bytes, &we))
            return serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "%s", we.message);
    }
    serde_schema_t *s = NULL;
    int rc =
        schema_compile(ctx->format, text, len, NULL, 0, SERDE_FROM_REGISTRY, id, guid, &s, err);
    if (rc)
        return rc;
    ready_arg_t arg = {s};
    serde_ref_t *got = NULL;
    uint8_t key[17];
    id_key(key, id);
    rc = serde__map_get(&ctx->by_id, key, 5, make_ready, &arg, &got, err);
    serde__release(got);
    if (!rc && guid) {
        key[0] = 'g';
        memcpy(key + 1, guid_bytes, 16);
        got = NULL;
        rc = serde__map_get(&ctx->by_id, key, 17, make_ready, &arg, &got, err);
        serde__release(got);
    }
    serde__schema_release(s);
    return rc;
}
