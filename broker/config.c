/*
 * config.c - broker and topic property tables. Names and defaults follow
 * Apache Kafka's broker and topic configuration documentation; properties a
 * Strand broker does not implement are absent, so passing one is an error
 * rather than a silent no-op.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#define UNBOUNDED 1, 0
#define LONG_MAX_TEXT "9223372036854775807"

static const char *const timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const cleanup_policies[] = {"delete", "compact", "compact,delete",
                                               "delete,compact", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

const sd_cfg_def_t bk_broker_config_defs[] = {
    {"listeners", SD_CFG_STRING, "PLAINTEXT://0.0.0.0:9092", UNBOUNDED, NULL,
     "Listener to bind, PLAINTEXT://HOST:PORT; port 0 picks a free port."},
    {"advertised.listeners", SD_CFG_STRING, "", UNBOUNDED, NULL,
     "Address given to clients in Metadata; empty means the bound listener."},
    {"schema.registry.listeners", SD_CFG_STRING, "http://0.0.0.0:8081", UNBOUNDED, NULL,
     "Where the in-process schema registry serves, http://HOST:PORT (port 0 picks a free "
     "port); empty runs the broker without it."},
    {"broker.id", SD_CFG_INT, "0", 0, 2147483647, NULL, "This broker's node id."},
    {"log.dirs", SD_CFG_STRING, "./data", UNBOUNDED, NULL, "The data directory (one directory)."},
    {"num.partitions", SD_CFG_INT, "1", 1, 100000, NULL, "Partitions of an auto-created topic."},
    {"default.replication.factor", SD_CFG_INT, "1", 1, 1, NULL,
     "Replication factor of auto-created topics (a single node: 1)."},
    {"auto.create.topics.enable", SD_CFG_BOOL, "true", UNBOUNDED, NULL,
     "Create a topic when a client asks for its metadata or produces to it."},
    {"delete.topic.enable", SD_CFG_BOOL, "true", UNBOUNDED, NULL, "Allow DeleteTopics."},
    {"log.segment.bytes", SD_CFG_INT, "1073741824", 14, 2147483647, NULL,
     "Segment size at which a new segment is rolled."},
    {"log.roll.hours", SD_CFG_INT, "168", 1, 2147483647, NULL, "Segment age at which to roll."},
    {"log.roll.ms", SD_CFG_LONG, NULL, 1, INT64_MAX, NULL, "Overrides log.roll.hours."},
    {"log.index.size.max.bytes", SD_CFG_INT, "10485760", 4, 2147483647, NULL,
     "Largest offset index; a full index rolls the segment."},
    {"log.index.interval.bytes", SD_CFG_INT, "4096", 0, 2147483647, NULL,
     "Bytes of log between two index entries."},
    {"log.flush.interval.messages", SD_CFG_LONG, LONG_MAX_TEXT, 1, INT64_MAX, NULL,
     "Flush a partition after this many messages."},
    {"log.flush.interval.ms", SD_CFG_LONG, LONG_MAX_TEXT, 0, INT64_MAX, NULL,
     "Flush a partition when its oldest unflushed message is this old."},
    {"log.retention.hours", SD_CFG_INT, "168", -1, 2147483647, NULL, "Retention by time."},
    {"log.retention.ms", SD_CFG_LONG, NULL, -1, INT64_MAX, NULL, "Overrides log.retention.hours."},
    {"log.retention.bytes", SD_CFG_LONG, "-1", -1, INT64_MAX, NULL,
     "Retention by size per partition; -1 = none."},
    {"log.cleanup.policy", SD_CFG_CHOICE, "delete", UNBOUNDED, cleanup_policies,
     "Default cleanup.policy."},
    {"log.retention.check.interval.ms", SD_CFG_LONG, "300000", 1, INT64_MAX, NULL,
     "How often segments are checked against retention.ms and retention.bytes."},
    {"log.cleaner.enable", SD_CFG_BOOL, "true", UNBOUNDED, NULL,
     "Run the log cleaner (compaction of topics with cleanup.policy=compact)."},
    {"log.cleaner.backoff.ms", SD_CFG_LONG, "15000", 0, INT64_MAX, NULL,
     "Pause between the cleaner's checks for a log to clean."},
    {"log.cleaner.dedupe.buffer.size", SD_CFG_LONG, "134217728", 1048576, INT64_MAX, NULL,
     "Memory for the cleaner's key map; a larger dirty part is cleaned in several passes."},
    {"log.cleaner.delete.retention.ms", SD_CFG_LONG, "86400000", 0, INT64_MAX, NULL,
     "How long tombstones are kept in a compacted topic."},
    {"log.cleaner.min.cleanable.ratio", SD_CFG_DOUBLE, "0.5", UNBOUNDED, NULL,
     "Dirty ratio above which a log is compacted."},
    {"log.cleaner.min.compaction.lag.ms", SD_CFG_LONG, "0", 0, INT64_MAX, NULL,
     "Minimum age of a record before it may be compacted."},
    {"log.cleaner.max.compaction.lag.ms", SD_CFG_LONG, LONG_MAX_TEXT, 1, INT64_MAX, NULL,
     "Maximum time a record may stay uncompacted."},
    {"log.message.timestamp.type", SD_CFG_CHOICE, "CreateTime", UNBOUNDED, timestamp_types,
     "CreateTime keeps the producer's timestamp; LogAppendTime sets the broker's."},
    {"message.max.bytes", SD_CFG_INT, "1048588", 0, 2147483647, NULL,
     "Largest record batch accepted."},
    {"socket.request.max.bytes", SD_CFG_INT, "104857600", 1, 2147483647, NULL,
     "Largest request frame; a larger one closes the connection."},
    {"max.connections", SD_CFG_INT, "2147483647", 1, 2147483647, NULL,
     "Connections accepted at most at once."},
    {"connections.max.idle.ms", SD_CFG_LONG, "600000", -1, INT64_MAX, NULL,
     "Idle connections are closed after this long; -1 = never."},
    {"min.insync.replicas", SD_CFG_INT, "1", 1, 1, NULL, "Single node: 1."},
    {"group.initial.rebalance.delay.ms", SD_CFG_INT, "3000", 0, 2147483647, NULL,
     "How long the first rebalance of an empty group waits for more members."},
    {"group.min.session.timeout.ms", SD_CFG_INT, "6000", 1, 2147483647, NULL,
     "Smallest session timeout a group member may ask for."},
    {"group.max.session.timeout.ms", SD_CFG_INT, "1800000", 1, 2147483647, NULL,
     "Largest session timeout a group member may ask for."},
    {"offset.metadata.max.bytes", SD_CFG_INT, "4096", 0, 2147483647, NULL,
     "Largest metadata string stored with a committed offset."},
    {"strand.acks.all.fsync", SD_CFG_BOOL, "true", UNBOUNDED, NULL,
     "acks=all is answered after fdatasync (group commit); false answers after the write."},
    {"strand.log.level", SD_CFG_CHOICE, "info", UNBOUNDED, log_levels, "Log verbosity."},
};
const size_t bk_broker_config_count =
    sizeof bk_broker_config_defs / sizeof bk_broker_config_defs[0];

const bk_topic_config_def_t bk_topic_config_defs[] = {
    {{"cleanup.policy", SD_CFG_CHOICE, NULL, UNBOUNDED, cleanup_policies, NULL},
     "log.cleanup.policy"},
    {{"segment.bytes", SD_CFG_INT, NULL, 14, 2147483647, NULL, NULL}, "log.segment.bytes"},
    {{"segment.ms", SD_CFG_LONG, NULL, 1, INT64_MAX, NULL, NULL}, "log.roll.ms"},
    {{"segment.index.bytes", SD_CFG_INT, NULL, 4, 2147483647, NULL, NULL},
     "log.index.size.max.bytes"},
    {{"index.interval.bytes", SD_CFG_INT, NULL, 0, 2147483647, NULL, NULL},
     "log.index.interval.bytes"},
    {{"flush.messages", SD_CFG_LONG, NULL, 1, INT64_MAX, NULL, NULL},
     "log.flush.interval.messages"},
    {{"flush.ms", SD_CFG_LONG, NULL, 0, INT64_MAX, NULL, NULL}, "log.flush.interval.ms"},
    {{"retention.ms", SD_CFG_LONG, NULL, -1, INT64_MAX, NULL, NULL}, "log.retention.ms"},
    {{"retention.bytes", SD_CFG_LONG, NULL, -1, INT64_MAX, NULL, NULL}, "log.retention.bytes"},
    {{"delete.retention.ms", SD_CFG_LONG, NULL, 0, INT64_MAX, NULL, NULL},
     "log.cleaner.delete.retention.ms"},
    {{"min.cleanable.dirty.ratio", SD_CFG_DOUBLE, NULL, UNBOUNDED, NULL, NULL},
     "log.cleaner.min.cleanable.ratio"},
    {{"min.compaction.lag.ms", SD_CFG_LONG, NULL, 0, INT64_MAX, NULL, NULL},
     "log.cleaner.min.compaction.lag.ms"},
    {{"max.compaction.lag.ms", SD_CFG_LONG, NULL, 1, INT64_MAX, NULL, NULL},
     "log.cleaner.max.compaction.lag.ms"},
    {{"max.message.bytes", SD_CFG_INT, NULL, 0, 2147483647, NULL, NULL}, "message.max.bytes"},
    {{"message.timestamp.type", SD_CFG_CHOICE, NULL, UNBOUNDED, timestamp_types, NULL},
     "log.message.timestamp.type"},
    {{"min.insync.replicas", SD_CFG_INT, NULL, 1, 1, NULL, NULL}, "min.insync.replicas"},
};
const size_t bk_topic_config_count = sizeof bk_topic_config_defs / sizeof bk_topic_config_defs[0];

const bk_topic_config_def_t *bk_topic_config_find(const char *name)
{
    for (size_t i = 0; i < bk_topic_config_count; i++)
        if (strcmp(bk_topic_config_defs[i].def.name, name) == 0)
            return &bk_topic_config_defs[i];
    return NULL;
}

const char *bk_topic_config_default(const sd_config_t *broker, const bk_topic_config_def_t *def,
                                    char *buf, size_t n)
{
    const char *name = def->broker_name;
    const char *text = sd_config_str(broker, name);
    if (!text && strcmp(name, "log.roll.ms") == 0) {
        snprintf(buf, n, "%lld", (long long)sd_config_int(broker, "log.roll.hours") * 3600000LL);
        return buf;
    }
    if (!text && strcmp(name, "log.retention.ms") == 0) {
        long long hours = sd_config_int(broker, "log.retention.hours");
        snprintf(buf, n, "%lld", hours < 0 ? -1LL : hours * 3600000LL);
        return buf;
    }
    snprintf(buf, n, "%s", text ? text : "");
    return buf;
}

int bk_topic_config_validate(const char *name, const char *value, sd_err_t *err)
{
    const bk_topic_config_def_t *def = bk_topic_config_find(name);
    if (!def)
        return sd_err_set(err, SD_ERR_INVALID, "unknown topic config '%s'", name);
    sd_cfg_value_t parsed;
    int rc = sd_cfg_parse_value(&def->def, value, &parsed, err);
    if (rc == 0 && def->def.type == SD_CFG_DOUBLE && (parsed.d < 0 || parsed.d > 1))
        rc = sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: must be between 0 and 1",
                        value, name);
    return rc;
}
