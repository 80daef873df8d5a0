/*
 * registry.h - a running schema registry: Confluent Schema Registry's REST
 * API over HTTP, its state rebuilt from and written to the `_schemas` topic
 * of a Kafka cluster, one writer elected among the registries sharing that
 * topic. Used by `strand-registry` (alone) and `strand` (in-process).
 */
#ifndef STRAND_REGISTRY_H
#define STRAND_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "base/error.h"

typedef struct sr_registry sr_registry_t;

typedef struct sr_registry_config {
    const char *listeners;         /* "http://HOST:PORT"; port 0 picks a free port */
    const char *bootstrap_servers; /* the Kafka cluster holding `_schemas` */
    const char *topic;             /* "_schemas" */
    int replication_factor;        /* of a topic created here; -1 = the cluster's default */
    const char *group_id;          /* leader election group, "schema-registry" */
    bool leader_eligibility;
    const char *host_name; /* advertised to the other registries; NULL/"" = derived */
    const char *default_compatibility; /* "BACKWARD" */
    int init_timeout_ms;               /* reading `_schemas` to its end at start */
    int write_timeout_ms;              /* a write produced and applied */
    int threads;                       /* HTTP threads */
    size_t max_request_bytes;          /* larger bodies are answered 413 */
    size_t max_schema_bytes;           /* larger schemas are answered 42209 */
} sr_registry_config_t;

/* The defaults above. */
void sr_registry_config_defaults(sr_registry_config_t *config);

/* The standalone registry's properties (Confluent's names: listeners,
 * kafkastore.bootstrap.servers, kafkastore.topic, ...) and how to read a
 * validated sd_config_t of them into a config (strings borrowed from it). */
extern const sd_cfg_def_t sr_registry_config_defs[];
extern const size_t sr_registry_config_count;
void sr_registry_config_read(const sd_config_t *props, sr_registry_config_t *config);

/* Starts the registry: opens (or creates) the topic, binds the listener,
 * reads the topic to its end and joins the leader election; returns once it
 * serves (writes included, unless no leader could be elected within
 * init_timeout_ms, which is logged). *out is owned by the caller
 * (sr_registry_stop). Returns 0 or a negative code with err naming what
 * failed. */
int sr_registry_start(const sr_registry_config_t *config, sr_registry_t **out, sd_err_t *err);

/* "http://HOST:PORT" as bound (the port chosen when 0 was asked for). */
const char *sr_registry_url(const sr_registry_t *registry);

/* Leaves the election, stops serving and releases everything. */
void sr_registry_stop(sr_registry_t *registry);

#endif
