/*
 * avro_compat.c - can an Avro reader schema read everything a writer schema
 * writes? Schema resolution as the Avro specification (1.11, "Schema
 * Resolution") defines it, with the verdicts, rule names and JSON-pointer
 * locations of Apache Avro's SchemaCompatibility, which Confluent Schema
 * Registry runs for AVRO subjects.
 *
 * Every incompatibility is reported, not only the first. Where the reader has
 * a union, the branches are tried quietly (no findings) and only the union's
 * verdict is reported, as Avro does. Recursive types terminate: a record pair
 * already being checked further up counts as compatible ("compatible unless
 * proven otherwise"), and verdicts of finished record pairs are remembered.
 *
 * Two deliberate differences from Avro's reports, not its verdicts: Avro
 * starts locations again at "/" inside a writer union's branches, where ours
 * carry on from the union (/fields/3/type); and a named type used in several
 * places is reported at each place, where Avro repeats its first report.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_model.h"
#include "base/alloc.h"
#include "compat_int.h"

/* The rules, under the names Confluent reports (Avro's
 * SchemaIncompatibilityType), with the message each finding carries. */
typedef enum rule {
    RULE_READER_FIELD_MISSING_DEFAULT_VALUE,
    RULE_TYPE_MISMATCH,
    RULE_MISSING_UNION_BRANCH,
    RULE_MISSING_ENUM_SYMBOLS,
    RULE_NAME_MISMATCH,
    RULE_FIXED_SIZE_MISMATCH,
} rule_t;

static const struct {
    const char *name;
    const char *format; /* printf arguments listed beside each */
} rules[] = {
    [RULE_READER_FIELD_MISSING_DEFAULT_VALUE] =
        {"READER_FIELD_MISSING_DEFAULT_VALUE",
         /* field */ "field '%s' is only in the reader schema and has no default value"},
    [RULE_TYPE_MISMATCH] =
        {"TYPE_MISMATCH",
         /* reader kind, writer kind */ "reader type %s cannot read writer type %s"},
    [RULE_MISSING_UNION_BRANCH] =
        {"MISSING_UNION_BRANCH",
         /* writer kind */ "reader union has no branch that reads writer type %s"},
    [RULE_MISSING_ENUM_SYMBOLS] =
        {"MISSING_ENUM_SYMBOLS",
         /* enum, symbols */ "reader enum %s lacks writer symbols %s and has no default"},
    [RULE_NAME_MISMATCH] =
        {"NAME_MISMATCH",
         /* reader name, writer name */ "reader name %s matches neither the writer's name %s "
                                        "nor any reader alias"},
    [RULE_FIXED_SIZE_MISMATCH] =
        {"FIXED_SIZE_MISMATCH",
         /* fixed, reader size, writer size */ "reader fixed %s has size %zu, writer size is %zu"},
};

/* Writer kinds a reader kind accepts besides its own: the specification's
 * promotions. */
static const struct {
    sd_avro_kind_t reader;
    sd_avro_kind_t writer;
} promotions[] = {
    {SD_AVRO_LONG, SD_AVRO_INT},     {SD_AVRO_FLOAT, SD_AVRO_INT},
    {SD_AVRO_FLOAT, SD_AVRO_LONG},   {SD_AVRO_DOUBLE, SD_AVRO_INT},
    {SD_AVRO_DOUBLE, SD_AVRO_LONG},  {SD_AVRO_DOUBLE, SD_AVRO_FLOAT},
    {SD_AVRO_BYTES, SD_AVRO_STRING}, {SD_AVRO_STRING, SD_AVRO_BYTES},
};

/* Avro's messages use the Java enum names of the kinds. */
static const char *const kind_names[] = {
    [SD_AVRO_NULL] = "NULL",   [SD_AVRO_BOOLEAN] = "BOOLEAN", [SD_AVRO_INT] = "INT",
    [SD_AVRO_LONG] = "LONG",   [SD_AVRO_FLOAT] = "FLOAT",     [SD_AVRO_DOUBLE] = "DOUBLE",
    [SD_AVRO_BYTES] = "BYTES", [SD_AVRO_STRING] = "STRING",   [SD_AVRO_RECORD] = "RECORD",
    [SD_AVRO_ENUM] = "ENUM",   [SD_AVRO_ARRAY] = "ARRAY",     [SD_AVRO_MAP] = "MAP",
    [SD_AVRO_UNION] = "UNION", [SD_AVRO_FIXED] = "FIXED",     [SD_AVRO_REF] = "REF",
};

static const char *kind_name(sd_avro_kind_t kind)
{
    return (size_t)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

/* Past this many findings in one comparison the rest only count towards the
 * verdict: a pathological schema pair cannot make the report explode. */
#define MAX_FINDINGS 1000

/* -- a growable string for the location and the field path ------------------ */

typedef struct text {
    char *s; /* owned, NUL-terminated */
    size_t len;
    size_t cap;
} text_t;

/* Appends sep + token; returns the previous length (for text_cut) or
 * (size_t)-1 when out of memory. */
static size_t text_push(text_t *t, const char *sep, const char *token)
{
    size_t old = t->len, add = strlen(sep) + strlen(token);
    if (t->len + add + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + add + 1)
            cap *= 2;
        char *s = sd_realloc(t->s, cap);
        if (!s)
            return (size_t)-1;
        t->s = s;
        t->cap = cap;
    }
    memcpy(t->s + t->len, sep, strlen(sep));
    memcpy(t->s + t->len + strlen(sep), token, strlen(token) + 1);
    t->len += add;
    return old;
}

static void text_cut(text_t *t, size_t len)
{
    t->len = len;
    if (t->s)
        t->s[len] = '\0';
}

/* Writes n in decimal into buf (at least 21 bytes): snprintf costs more than
 * the rest of a field's check. */
static void decimal(char *buf, size_t n)
{
    char tmp[24];
    size_t len = 0;
    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    buf[len] = '\0';
}

/* -- remembered record pairs ------------------------------------------------ */

typedef enum pair_state {
    PAIR_UNSEEN = 0,
    PAIR_IN_PROGRESS,
    PAIR_COMPATIBLE,
    PAIR_INCOMPATIBLE,
} pair_state_t;

typedef struct pair {
    const sd_avro_node_t *reader; /* NULL = empty slot */
    const sd_avro_node_t *writer;
    pair_state_t state;
} pair_t;

/* Open addressing over (reader, writer) definition pointers. */
typedef struct pairs {
    pair_t *slots; /* owned */
    size_t cap;    /* a power of two */
    size_t count;
} pairs_t;

static size_t pair_hash(const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    uint64_t h = (uint64_t)(uintptr_t)reader * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uintptr_t)writer + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    return (size_t)(h ^ (h >> 29));
}

/* The slot of the pair, inserted as PAIR_UNSEEN when new; NULL when out of
 * memory. */
static pair_t *pairs_slot(pairs_t *p, const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    if ((p->count + 1) * 4 > p->cap * 3) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        pair_t *slots = sd_calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->slots[i].reader)
                continue;
            size_t j = pair_hash(p->slots[i].reader, p->slots[i].writer) & (cap - 1);
            while (slots[j].reader)
                j = (j + 1) & (cap - 1);
            slots[j] = p->slots[i];
        }
        sd_free(p->slots);
        p->slots = slots;
        p->cap = cap;
    }
    size_t j = pair_hash(reader, writer) & (p->cap - 1);
    while (p->slots[j].reader) {
        if (p->slots[j].reader == reader && p->slots[j].writer == writer)
            return &p->slots[j];
        j = (j + 1) & (p->cap - 1);
    }
    p->slots[j].reader = reader;
    p->slots[j].writer = writer;
    p->slots[j].state = PAIR_UNSEEN;
    p->count++;
    return &p->slots[j];
}

/* -- the checker ------------------------------------------------------------ */

typedef struct checker {
    sc_findings_t *findings; /* borrowed */
    size_t first_finding;    /* findings->count when this comparison began */
    int quiet;               /* > 0 while trying union branches: verdicts only */
    text_t location;         /* JSON pointer into the reader schema */
    text_t path;             /* field path: "User.address.zip" */
    pairs_t pairs;
    int err; /* SD_ERR_NOMEM once an allocation failed */
} checker_t;

/* Records an incompatibility: *ok becomes false and, unless quiet, a finding
 * is added at the current location. */
static void report(checker_t *c, bool *ok, rule_t rule, ...)
{
    *ok = false;
    if (c->quiet || c->err || c->findings->count - c->first_finding >= MAX_FINDINGS)
        return;
    char message[512];
    va_list ap;
    va_start(ap, rule);
    vsnprintf(message, sizeof message, rules[rule].format, ap);
    va_end(ap);
    if (sc_findings_add(c->findings, rules[rule].name, c->location.len ? c->location.s : "/",
                        c->path.s ? c->path.s : "", "%s", message) < 0)
        c->err = SD_ERR_NOMEM;
}

static bool check(checker_t *c, const sd_avro_node_t *reader, const sd_avro_node_t *writer);

/* check() one level down: token is appended to the location and, when
 * path_token is not NULL, path_sep + path_token to the field path. */
static bool check_at(checker_t *c, const char *token, const char *path_sep, const char *path_token,
                     const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    size_t loc = text_push(&c->location, "/", token);
    size_t path = c->path.len;
    if (loc == (size_t)-1 ||
        (path_token && text_push(&c->path, path_sep, path_token) == (size_t)-1)) {
        c->err = SD_ERR_NOMEM;
        if (loc != (size_t)-1)
            text_cut(&c->location, loc);
        return false;
    }
    bool ok = check(c, reader, writer);
    text_cut(&c->location, loc);
    text_cut(&c->path, path);
    return ok;
}

/* The verdict alone, with no findings (trying a union branch). */
static bool check_quietly(checker_t *c, const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    c->quiet++;
    bool ok = check(c, reader, writer);
    c->quiet--;
    return ok;
}

/* Named types match by unqualified name, or when a reader alias (a full
 * name) is the writer's full name. */
static void check_names(checker_t *c, bool *ok, const sd_avro_node_t *reader,
                        const sd_avro_node_t *writer)
{
    if (reader->name && writer->name && strcmp(reader->name, writer->name) == 0)
        return;
    for (size_t i = 0; i < reader->alias_count; i++)
        if (writer->fullname && strcmp(reader->aliases[i], writer->fullname) == 0)
            return;
    size_t loc = text_push(&c->location, "/", "name");
    if (loc == (size_t)-1) {
        c->err = SD_ERR_NOMEM;
        *ok = false;
        return;
    }
    report(c, ok, RULE_NAME_MISMATCH, reader->fullname ? reader->fullname : "?",
           writer->fullname ? writer->fullname : "?");
    text_cut(&c->location, loc);
}

static int compare_symbols(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every writer symbol must be a reader symbol, unless the reader enum has a
 * default (which must be one of its symbols) to read the others as. */
static void check_symbols(checker_t *c, bool *ok, const sd_avro_node_t *reader,
                          const sd_avro_node_t *writer)
{
    const char **missing = NULL;
    size_t n = 0;
    for (size_t i = 0; i < writer->u.enm.symbol_count; i++)
        if (sd_avro_enum_symbol_index(reader, writer->u.enm.symbols[i]) < 0)
            n++;
    if (n == 0)
        return;
    const char *dflt = reader->u.enm.default_symbol;
    if (dflt && sd_avro_enum_symbol_index(reader, dflt) >= 0)
        return;
    *ok = false;
    if (c->quiet)
        return;

    /* "[C, D]": sorted, as Avro lists them. */
    text_t list = {0};
    size_t loc = (size_t)-1;
    missing = sd_malloc(n * sizeof *missing);
    if (!missing)
        goto nomem;
    n = 0;
    for (size_t i = 0; i < writer->u.enm.symbol_count; i++)
        if (sd_avro_enum_symbol_index(reader, writer->u.enm.symbols[i]) < 0)
            missing[n++] = writer->u.enm.symbols[i];
    qsort(missing, n, sizeof *missing, compare_symbols);
    if (text_push(&list, "", "[") == (size_t)-1)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (text_push(&list, i ? ", " : "", missing[i]) == (size_t)-1)
            goto nomem;
    if (text_push(&list, "", "]") == (size_t)-1)
        goto nomem;
    loc = text_push(&c->location, "/", "symbols");
    if (loc == (size_t)-1)
        goto nomem;
    report(c, ok, RULE_MISSING_ENUM_SYMBOLS, reader->fullname ? reader->fullname : "?", list.s);
    text_cut(&c->location, loc);
    sd_free(list.s);
    sd_free(missing);
    return;
nomem:
    c->err = SD_ERR_NOMEM;
    sd_free(list.s);
    sd_free(missing);
}

static void check_size(checker_t *c, bool *ok, const sd_avro_node_t *reader,
                       const sd_avro_node_t *writer)
{
    if (reader->u.fixed.size == writer->u.fixed.size)
        return;
    size_t loc = text_push(&c->location, "/", "size");
    if (loc == (size_t)-1) {
        c->err = SD_ERR_NOMEM;
        *ok = false;
        return;
    }
    report(c, ok, RULE_FIXED_SIZE_MISMATCH, reader->fullname ? reader->fullname : "?",
           reader->u.fixed.size, writer->u.fixed.size);
    text_cut(&c->location, loc);
}

/* The writer field a reader field reads: the one of the same name, else the
 * first one named by a reader field alias. Fields mostly keep their order
 * from one version to the next, so the writer field at `hint` (the one after
 * the previous match) is tried before searching. */
static const sd_avro_field_t *writer_field(const sd_avro_node_t *writer,
                                           const sd_avro_field_t *reader_field, size_t hint)
{
    if (hint < writer->u.record.field_count &&
        strcmp(writer->u.record.fields[hint].name, reader_field->name) == 0)
        return &writer->u.record.fields[hint];
    const sd_avro_field_t *f = sd_avro_record_field(writer, reader_field->name);
    for (size_t i = 0; !f && i < reader_field->alias_count; i++)
        f = sd_avro_record_field(writer, reader_field->aliases[i]);
    return f;
}

/* Each reader field is read from its writer field or, when the writer has
 * none, from the reader's default. */
static void check_fields(checker_t *c, bool *ok, const sd_avro_node_t *reader,
                         const sd_avro_node_t *writer)
{
    size_t loc = text_push(&c->location, "/", "fields");
    if (loc == (size_t)-1) {
        c->err = SD_ERR_NOMEM;
        *ok = false;
        return;
    }
    size_t hint = 0;
    for (size_t i = 0; i < reader->u.record.field_count && !c->err; i++) {
        const sd_avro_field_t *rf = &reader->u.record.fields[i];
        const sd_avro_field_t *wf = writer_field(writer, rf, hint);
        if (wf)
            hint = wf->position + 1;
        char index[24];
        decimal(index, rf->position);
        size_t field_loc = text_push(&c->location, "/", index);
        size_t path = text_push(&c->path, c->path.len ? "." : "", rf->name);
        if (field_loc == (size_t)-1 || path == (size_t)-1) {
            c->err = SD_ERR_NOMEM;
            *ok = false;
            break;
        }
        if (wf) {
            if (!check_at(c, "type", "", NULL, rf->type, wf->type))
                *ok = false;
        } else if (!rf->default_value) {
            const sd_avro_node_t *type = sd_avro_deref(rf->type);
            if (type->kind == SD_AVRO_ENUM && type->u.enm.default_symbol) {
                /* Avro's SchemaCompatibility checks such a field's enum
                 * against the writer record itself, which can only be a
                 * TYPE_MISMATCH; it is kept for the same verdicts. */
                if (!check_at(c, "type", "", NULL, type, writer))
                    *ok = false;
            } else {
                report(c, ok, RULE_READER_FIELD_MISSING_DEFAULT_VALUE, rf->name);
            }
        }
        text_cut(&c->path, path);
        text_cut(&c->location, field_loc);
    }
    text_cut(&c->location, loc);
}

static bool promotes(sd_avro_kind_t reader, sd_avro_kind_t writer)
{
    for (size_t i = 0; i < sizeof promotions / sizeof promotions[0]; i++)
        if (promotions[i].reader == reader && promotions[i].writer == writer)
            return true;
    return false;
}

/* Both nodes dereferenced and of the same kind. */
static bool check_same_kind(checker_t *c, const sd_avro_node_t *reader,
                            const sd_avro_node_t *writer)
{
    bool ok = true;
    char index[24];
    switch (reader->kind) {
    case SD_AVRO_ARRAY:
        return check_at(c, "items", "", "[]", reader->u.array.items, writer->u.array.items);
    case SD_AVRO_MAP:
        return check_at(c, "values", "", "{}", reader->u.map.values, writer->u.map.values);
    case SD_AVRO_FIXED:
        check_names(c, &ok, reader, writer);
        check_size(c, &ok, reader, writer);
        return ok;
    case SD_AVRO_ENUM:
        check_names(c, &ok, reader, writer);
        check_symbols(c, &ok, reader, writer);
        return ok;
    case SD_AVRO_RECORD:
        check_names(c, &ok, reader, writer);
        check_fields(c, &ok, reader, writer);
        return ok;
    case SD_AVRO_UNION:
        /* Each writer branch must be readable by the reader union. */
        for (size_t i = 0; i < writer->u.un.branch_count && !c->err; i++) {
            const sd_avro_node_t *branch = writer->u.un.branches[i];
            if (check_quietly(c, reader, branch))
                continue;
            decimal(index, i);
            size_t loc = text_push(&c->location, "/", index);
            if (loc == (size_t)-1) {
                c->err = SD_ERR_NOMEM;
                return false;
            }
            report(c, &ok, RULE_MISSING_UNION_BRANCH, kind_name(sd_avro_deref(branch)->kind));
            text_cut(&c->location, loc);
        }
        return ok;
    default: /* primitives */ return true;
    }
}

static bool check_node(checker_t *c, const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    bool ok = true;
    if (reader->kind == writer->kind)
        return check_same_kind(c, reader, writer);
    if (writer->kind == SD_AVRO_UNION) {
        /* A writer union read by a non-union: every branch must be readable. */
        for (size_t i = 0; i < writer->u.un.branch_count && !c->err; i++)
            if (!check(c, reader, writer->u.un.branches[i]))
                ok = false;
        return ok;
    }
    if (reader->kind == SD_AVRO_UNION) {
        for (size_t i = 0; i < reader->u.un.branch_count && !c->err; i++)
            if (check_quietly(c, reader->u.un.branches[i], writer))
                return true;
        report(c, &ok, RULE_MISSING_UNION_BRANCH, kind_name(writer->kind));
        return ok;
    }
    if (promotes(reader->kind, writer->kind))
        return true;
    report(c, &ok, RULE_TYPE_MISMATCH, kind_name(reader->kind), kind_name(writer->kind));
    return ok;
}

static bool check(checker_t *c, const sd_avro_node_t *reader, const sd_avro_node_t *writer)
{
    reader = sd_avro_deref(reader);
    writer = sd_avro_deref(writer);
    if (c->err)
        return false;
    /* Only records can recur, so only record pairs are remembered. */
    if (reader->kind != SD_AVRO_RECORD || writer->kind != SD_AVRO_RECORD)
        return check_node(c, reader, writer);
    pair_t *pair = pairs_slot(&c->pairs, reader, writer);
    if (!pair) {
        c->err = SD_ERR_NOMEM;
        return false;
    }
    switch (pair->state) {
    case PAIR_IN_PROGRESS: return true; /* compatible unless proven otherwise further up */
    case PAIR_COMPATIBLE: return true;
    case PAIR_INCOMPATIBLE:
        /* Known bad: walk it again only to report it at this location. */
        if (c->quiet || c->findings->count - c->first_finding >= MAX_FINDINGS)
            return false;
        break;
    case PAIR_UNSEEN: break;
    }
    pair->state = PAIR_IN_PROGRESS;
    bool ok = check_node(c, reader, writer);
    /* The table may have grown meanwhile: look the slot up again. */
    pair = pairs_slot(&c->pairs, reader, writer);
    if (!pair) {
        c->err = SD_ERR_NOMEM;
        return false;
    }
    pair->state = ok ? PAIR_COMPATIBLE : PAIR_INCOMPATIBLE;
    return ok;
}

/* -- the format ------------------------------------------------------------- */

/* *out = a new set of the named types of schemas[0 .. count). Returns 0 or
 * a negative code (two schemas define one name, out of memory). */
static int named_set(sd_avro_schema_t **schemas, size_t count, sd_avro_named_t **out, sd_err_t *err)
{
    sd_avro_named_t *set = sd_avro_named_new();
    *out = NULL;
    if (!set)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        int rc = sd_avro_named_add(set, schemas[i], err);
        if (rc < 0) {
            sd_avro_named_free(set);
            return rc;
        }
    }
    *out = set;
    return 0;
}

/* Each reference is parsed against a fresh set of the ones before it, never
 * against a set that will hold it: a schema keeps the set it was parsed
 * with alive, and a set keeps its schemas alive. */
static int avro_parse(const char *text, size_t len, const sc_reference_t *refs, size_t ref_count,
                      void **model, sd_err_t *err)
{
    sd_avro_schema_t **parsed = NULL;
    sd_avro_named_t *set = NULL;
    sd_avro_schema_t *schema = NULL;
    size_t done = 0;
    int rc = 0;

    *model = NULL;
    if (ref_count > 0) {
        parsed = sd_calloc(ref_count, sizeof *parsed);
        if (!parsed) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    for (; done < ref_count; done++) {
        if (done > 0 && (rc = named_set(parsed, done, &set, err)) < 0)
            goto fail;
        rc = sd_avro_parse(refs[done].text, refs[done].len, set, &parsed[done], err);
        sd_avro_named_free(set);
        set = NULL;
        if (rc < 0) {
            if (err) {
                char inner[SD_ERR_MSG_MAX];
                memcpy(inner, err->msg, sizeof inner);
                sd_err_set(err, rc, "reference %s: %.400s", refs[done].name ? refs[done].name : "?",
                           inner);
            }
            goto fail;
        }
    }
    if (ref_count > 0 && (rc = named_set(parsed, ref_count, &set, err)) < 0)
        goto fail;
    rc = sd_avro_parse(text, len, set, &schema, err);
    if (rc < 0)
        goto fail;
    *model = schema;
fail:
    sd_avro_named_free(set);
    for (size_t i = 0; i < done; i++)
        sd_avro_schema_free(parsed[i]);
    sd_free(parsed);
    return rc;
}

static void avro_free(void *model) { sd_avro_schema_free(model); }

static int avro_check_reader_writer(const void *reader_model, const void *writer_model,
                                    sc_findings_t *findings, sd_err_t *err)
{
    const sd_avro_node_t *reader = sd_avro_schema_root(reader_model);
    const sd_avro_node_t *writer = sd_avro_schema_root(writer_model);
    checker_t c = {.findings = findings, .first_finding = findings->count};
    const sd_avro_node_t *root = sd_avro_deref(reader);

    if (root->kind == SD_AVRO_RECORD && text_push(&c.path, "", root->name) == (size_t)-1)
        c.err = SD_ERR_NOMEM;
    if (!c.err)
        check(&c, reader, writer);
    sd_free(c.location.s);
    sd_free(c.path.s);
    sd_free(c.pairs.slots);
    if (c.err) {
        sc_findings_truncate(findings, c.first_finding);
        return sd_err_set(err, c.err, "out of memory checking Avro compatibility");
    }
    return 0;
}

/* sd_avro's texts come from sd_malloc, which is malloc: free() releases
 * them as sc_format_t promises. */
static int avro_text(char *text, size_t length, char **out, size_t *len, sd_err_t *err)
{
    if (!text)
        return err && err->code ? err->code : sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    *out = text;
    if (len)
        *len = length;
    return 0;
}

static int avro_canonical_text(const void *model, char **text, size_t *len, sd_err_t *err)
{
    size_t length = 0;
    *text = NULL;
    sd_err_clear(err);
    char *made = sd_avro_confluent_canonical(model, &length, err);
    return avro_text(made, length, text, len, err);
}

static int avro_normalized_text(const void *model, char **text, size_t *len, sd_err_t *err)
{
    size_t length = 0;
    *text = NULL;
    sd_err_clear(err);
    char *made = sd_avro_normalized(model, &length, err);
    return avro_text(made, length, text, len, err);
}

const sc_format_t sc__avro_format = {
    .type = SC_TYPE_AVRO,
    .parse = avro_parse,
    .free_model = avro_free,
    .check_reader_writer = avro_check_reader_writer,
    .canonical_text = avro_canonical_text,
    .normalized_text = avro_normalized_text,
};
