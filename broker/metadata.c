/*
 * metadata.c - SQLite-backed metadata store (see metadata.h).
 */
#include "metadata.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"

struct bk_meta {
    sqlite3 *db;
    char cluster_id[32];
};

static const char schema_sql[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS cluster (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, id BLOB NOT NULL,"
    "  partitions INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS topic_configs (topic TEXT NOT NULL, name TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY (topic, name));"
    "CREATE TABLE IF NOT EXISTS producer_ids (id INTEGER PRIMARY KEY CHECK (id = 0),"
    "  next INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS group_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL,"
    "  partition INTEGER NOT NULL, committed_offset INTEGER NOT NULL,"
    "  leader_epoch INTEGER NOT NULL, metadata TEXT, commit_timestamp INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, topic, partition));";

static int db_error(bk_meta_t *meta, sd_err_t *err, const char *what)
{
    return sd_err_set(err, SD_ERR_IO, "metadata store: %s: %s", what, sqlite3_errmsg(meta->db));
}

void bk_random_uuid(uint8_t out[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(out + got, 16 - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
}

static void base64url(const uint8_t *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = alphabet[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

static int load_cluster_id(bk_meta_t *meta, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(meta->db, "SELECT value FROM cluster WHERE key='cluster.id'", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(meta, err, "reading the cluster id");
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(meta->cluster_id, sizeof meta->cluster_id, "%s", sqlite3_column_text(st, 0));
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    uint8_t raw[16];
    bk_random_uuid(raw);
    base64url(raw, 16, meta->cluster_id);
    if (sqlite3_prepare_v2(meta->db, "INSERT INTO cluster VALUES ('cluster.id', ?)", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, meta->cluster_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = db_error(meta, err, "storing the cluster id");
done:
    sqlite3_finalize(st);
    return rc;
}

int bk_meta_open(const char *dir, bk_meta_t **out, sd_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/strand-meta.db", dir);
    bk_meta_t *meta = sd_calloc(1, sizeof *meta);
    if (!meta)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    int rc;
    if (sqlite3_open_v2(path, &meta->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = sd_err_set(err, SD_ERR_IO, "cannot open metadata store %s: %s", path,
                        meta->db ? sqlite3_errmsg(meta->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(meta->db, 5000);
    if (sqlite3_exec(meta->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(meta, err, "creating tables");
        goto fail;
    }
    rc = load_cluster_id(meta, err);
    if (rc)
        goto fail;
    *out = meta;
    return 0;
fail:
    bk_meta_close(meta);
    return rc;
}

void bk_meta_close(bk_meta_t *meta)
{
    if (!meta)
        return;
    sqlite3_close(meta->db);
    sd_free(meta);
}

const char *bk_meta_cluster_id(const bk_meta_t *meta) { return meta->cluster_id; }

static int load_configs(bk_meta_t *meta, const char *topic, sd_props_t *props, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(meta->db, "SELECT name, value FROM topic_configs WHERE topic = ?", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = db_error(meta, err, "reading topic configs");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sd_props_set(props, (const char *)sqlite3_column_text(st, 0),
                         (const char *)sqlite3_column_text(st, 1))) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (step != SQLITE_DONE)
        rc = db_error(meta, err, "reading topic configs");
done:
    sqlite3_finalize(st);
    return rc;
}

int bk_meta_load_topics(bk_meta_t *meta, bk_meta_topic_cb cb, void *opaque, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    sd_props_t *configs = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(meta->db, "SELECT name, id, partitions FROM topics ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_error(meta, err, "listing topics");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bk_meta_topic_t topic = {0};
        topic.name = (const char *)sqlite3_column_text(st, 0);
        if (sqlite3_column_bytes(st, 1) == 16)
            memcpy(topic.id, sqlite3_column_blob(st, 1), 16);
        topic.partitions = sqlite3_column_int(st, 2);
        configs = sd_props_new();
        if (!configs) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
            goto done;
        }
        rc = load_configs(meta, topic.name, configs, err);
        if (rc)
            goto done;
        topic.configs = configs;
        rc = cb(&topic, opaque);
        sd_props_free(configs);
        configs = NULL;
        if (rc)
            goto done;
    }
    if (step != SQLITE_DONE)
        rc = db_error(meta, err, "listing topics");
done:
    sd_props_free(configs);
    sqlite3_finalize(st);
    return rc;
}

static int exec_simple(bk_meta_t *meta, const char *sql, sd_err_t *err)
{
    if (sqlite3_exec(meta->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(meta, err, sql);
    return 0;
}

/* Ends the transaction begun with BEGIN IMMEDIATE: COMMIT when rc is 0,
 * ROLLBACK otherwise. Returns rc, or COMMIT's own error. */
static int end_transaction(bk_meta_t *meta, int rc, sd_err_t *err)
{
    if (rc) {
        sqlite3_exec(meta->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec_simple(meta, "COMMIT", err);
}

static int insert_configs(bk_meta_t *meta, const char *name, const sd_props_t *configs,
                          sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(meta->db, "INSERT OR REPLACE INTO topic_configs VALUES (?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_error(meta, err, "storing topic configs");
    for (size_t i = 0; configs && i < sd_props_count(configs); i++) {
        sqlite3_reset(st);
        if (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, sd_props_key_at(configs, i), -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, sd_props_value_at(configs, i), -1, SQLITE_STATIC) !=
                SQLITE_OK ||
            sqlite3_step(st) != SQLITE_DONE) {
            rc = db_error(meta, err, "storing topic configs");
            break;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int bk_meta_create_topic(bk_meta_t *meta, const bk_meta_topic_t *topic, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(meta->db,
                           "INSERT INTO topics VALUES (?, ?, ?, CAST(strftime('%s','now') AS "
                           "INTEGER) * 1000)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, topic->name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, topic->id, 16, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, topic->partitions) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE) {
        rc = db_error(meta, err, "creating topic");
        goto done;
    }
    rc = insert_configs(meta, topic->name, topic->configs, err);
done:
    sqlite3_finalize(st);
    return end_transaction(meta, rc, err);
}

static int delete_rows(bk_meta_t *meta, const char *sql, const char *name, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(meta->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = db_error(meta, err, "deleting");
    sqlite3_finalize(st);
    return rc;
}

int bk_meta_delete_topic(bk_meta_t *meta, const char *name, sd_err_t *err)
{
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = delete_rows(meta, "DELETE FROM topics WHERE name = ?", name, err);
    if (!rc)
        rc = delete_rows(meta, "DELETE FROM topic_configs WHERE topic = ?", name, err);
    /* Kafka drops the committed offsets of a deleted topic too, so a topic
     * created again under the name starts with none. */
    if (!rc)
        rc = delete_rows(meta, "DELETE FROM group_offsets WHERE topic = ?", name, err);
    return end_transaction(meta, rc, err);
}

int bk_meta_set_topic_configs(bk_meta_t *meta, const char *name, const sd_props_t *configs,
                              sd_err_t *err)
{
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = delete_rows(meta, "DELETE FROM topic_configs WHERE topic = ?", name, err);
    if (!rc)
        rc = insert_configs(meta, name, configs, err);
    return end_transaction(meta, rc, err);
}

int bk_meta_next_producer_id(bk_meta_t *meta, int64_t *id, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (exec_simple(meta, "INSERT OR IGNORE INTO producer_ids VALUES (0, 1000)", err) ||
        sqlite3_prepare_v2(meta->db, "UPDATE producer_ids SET next = next + 1 RETURNING next - 1",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = db_error(meta, err, "allocating a producer id");
    else
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return end_transaction(meta, rc, err);
}

/* ------------------------------------------------------ committed offsets */

int bk_meta_commit_offsets(bk_meta_t *meta, const char *group, const bk_meta_offset_t *offsets,
                           size_t n, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(meta->db,
                           "INSERT OR REPLACE INTO group_offsets VALUES (?, ?, ?, ?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_error(meta, err, "storing committed offsets");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const bk_meta_offset_t *o = &offsets[i];
        sqlite3_reset(st);
        if (sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, o->topic, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int(st, 3, o->partition) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, o->offset) != SQLITE_OK ||
            sqlite3_bind_int(st, 5, o->leader_epoch) != SQLITE_OK ||
            (o->metadata ? sqlite3_bind_text(st, 6, o->metadata, -1, SQLITE_STATIC)
                         : sqlite3_bind_null(st, 6)) != SQLITE_OK ||
            sqlite3_bind_int64(st, 7, o->commit_timestamp_ms) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_DONE) {
            rc = db_error(meta, err, "storing committed offsets");
            goto fail;
        }
    }
fail:
    sqlite3_finalize(st);
    return end_transaction(meta, rc, err);
}

int bk_meta_load_offsets(bk_meta_t *meta, const char *group, const char *topic, int32_t partition,
                         bk_meta_offset_cb cb, void *opaque, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(meta->db,
                           "SELECT topic, partition, committed_offset, leader_epoch, metadata,"
                           " commit_timestamp FROM group_offsets WHERE group_id = ?1"
                           " AND (?2 IS NULL OR topic = ?2) AND (?3 < 0 OR partition = ?3)"
                           " ORDER BY topic, partition",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC) != SQLITE_OK ||
        (topic ? sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2)) !=
            SQLITE_OK ||
        sqlite3_bind_int(st, 3, partition) != SQLITE_OK) {
        rc = db_error(meta, err, "reading committed offsets");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bk_meta_offset_t o;
        o.topic = (const char *)sqlite3_column_text(st, 0);
        o.partition = sqlite3_column_int(st, 1);
        o.offset = sqlite3_column_int64(st, 2);
        o.leader_epoch = sqlite3_column_int(st, 3);
        o.metadata = (const char *)sqlite3_column_text(st, 4);
        o.commit_timestamp_ms = sqlite3_column_int64(st, 5);
        rc = cb(&o, opaque);
        if (rc)
            goto done;
    }
    if (step != SQLITE_DONE)
        rc = db_error(meta, err, "reading committed offsets");
done:
    sqlite3_finalize(st);
    return rc;
}

int bk_meta_delete_offsets(bk_meta_t *meta, const char *group, const bk_meta_offset_t *which,
                           size_t n, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = exec_simple(meta, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(meta->db,
                           "DELETE FROM group_offsets WHERE group_id = ?1 AND topic = ?2"
                           " AND partition = ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(meta, err, "deleting committed offsets");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        if (sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, which[i].topic, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int(st, 3, which[i].partition) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_DONE) {
            rc = db_error(meta, err, "deleting committed offsets");
            goto fail;
        }
    }
fail:
    sqlite3_finalize(st);
    return end_transaction(meta, rc, err);
}

int bk_meta_delete_group_offsets(bk_meta_t *meta, const char *group, sd_err_t *err)
{
    return delete_rows(meta, "DELETE FROM group_offsets WHERE group_id = ?", group, err);
}

int bk_meta_list_offset_groups(bk_meta_t *meta, bk_meta_group_cb cb, void *opaque, sd_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(meta->db, "SELECT DISTINCT group_id FROM group_offsets ORDER BY 1", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_error(meta, err, "listing groups");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = cb((const char *)sqlite3_column_text(st, 0), opaque);
        if (rc)
            goto done;
    }
    if (step != SQLITE_DONE)
        rc = db_error(meta, err, "listing groups");
done:
    sqlite3_finalize(st);
    return rc;
}
