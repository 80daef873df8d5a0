/*
 * main.c - the `strand` binary: parses Kafka-style properties from
 * `--config FILE` and `--name=value` options, starts the broker and, unless
 * schema.registry.listeners is empty, the schema registry in the same
 * process (its Kafka client pointed at this broker), and runs until SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "config.h"
#include "registry.h"
#include "server.h"

static void usage(void)
{
    printf("usage: strand [--config FILE] [--name=value ...]\n\n"
           "Runs a Kafka-compatible broker and a schema registry. Properties (Kafka's names):\n");
    for (size_t i = 0; i < bk_broker_config_count; i++) {
        const sd_cfg_def_t *d = &bk_broker_config_defs[i];
        printf("  %-36s %s (default: %s)\n", d->name, d->doc,
               d->default_value ? d->default_value : "none");
    }
}

/* The in-process registry: started on a thread of its own once the broker
 * serves (it reads `_schemas` through this broker), stopped before it. */
typedef struct embedded_registry {
    sr_registry_config_t config;
    char bootstrap[300];
    pthread_t thread;
    int thread_started;
    sr_registry_t *registry;
    atomic_int failed;
} embedded_registry_t;

static void *registry_main(void *arg)
{
    embedded_registry_t *embedded = arg;
    sd_err_t err = {0};
    if (sr_registry_start(&embedded->config, &embedded->registry, &err) != 0) {
        fprintf(stderr, "strand: cannot start the schema registry: %s\n", err.msg);
        atomic_store(&embedded->failed, 1);
        kill(getpid(), SIGTERM); /* the process stops as a whole */
        return NULL;
    }
    printf("strand: schema registry listening on %s\n", sr_registry_url(embedded->registry));
    fflush(stdout);
    return NULL;
}

static void registry_before_stop(void *arg)
{
    embedded_registry_t *embedded = arg;
    if (embedded->thread_started) {
        pthread_join(embedded->thread, NULL);
        embedded->thread_started = 0;
    }
    sr_registry_stop(embedded->registry);
    embedded->registry = NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
    sd_err_t err = {0};
    sd_props_t *props = sd_props_new();
    if (!props) {
        fprintf(stderr, "strand: out of memory\n");
        return 1;
    }
    if (sd_props_parse_args(props, argc - 1, argv + 1, &err) != 0) {
        fprintf(stderr, "strand: %s\n", err.msg);
        sd_props_free(props);
        return 2;
    }
    bk_server_t server;
    int rc = bk_server_start(&server, props, &err);
    sd_props_free(props);
    if (rc != 0) {
        fprintf(stderr, "strand: cannot start: %s\n", err.msg);
        bk_server_free(&server);
        return 1;
    }

    static embedded_registry_t embedded;
    const char *listeners = sd_config_str(&server.config, "schema.registry.listeners");
    if (listeners && *listeners) {
        sr_registry_config_defaults(&embedded.config);
        const char *host = server.listen_host;
        if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0')
            host = "127.0.0.1";
        int v6 = strchr(host, ':') != NULL;
        snprintf(embedded.bootstrap, sizeof embedded.bootstrap, "%s%s%s:%d", v6 ? "[" : "", host,
                 v6 ? "]" : "", server.listen_port);
        embedded.config.listeners = listeners;
        embedded.config.bootstrap_servers = embedded.bootstrap;
        if (pthread_create(&embedded.thread, NULL, registry_main, &embedded) != 0) {
            fprintf(stderr, "strand: cannot start the schema registry's thread\n");
            bk_server_free(&server);
            return 1;
        }
        embedded.thread_started = 1;
        server.before_stop = registry_before_stop;
        server.before_stop_ctx = &embedded;
    }

    rc = bk_server_run(&server);
    if (embedded.thread_started || embedded.registry)
        registry_before_stop(&embedded);
    bk_server_free(&server);
    if (atomic_load(&embedded.failed))
        return 1;
    return rc == 0 ? 0 : 1;
}
