/*
 * main.c - the `strand-registry` binary: the schema registry alone, against
 * any Kafka cluster. Properties use Confluent Schema Registry's names, from
 * `--config FILE` and `--name=value`; `--bootstrap-servers HOST:PORT` is
 * short for kafkastore.bootstrap.servers. Runs until SIGTERM or SIGINT.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "registry.h"

static void usage(void)
{
    printf("usage: strand-registry --bootstrap-servers HOST:PORT [--config FILE] "
           "[--name=value ...]\n\n"
           "Runs a Confluent-compatible schema registry storing its state in the Kafka "
           "cluster's _schemas topic. Properties (Confluent's names):\n");
    for (size_t i = 0; i < sr_registry_config_count; i++) {
        const sd_cfg_def_t *d = &sr_registry_config_defs[i];
        printf("  %-36s %s (default: %s)\n", d->name, d->doc,
               d->default_value ? d->default_value : "none");
    }
}

/* Rewrites --bootstrap-servers[=| ]X into --kafkastore.bootstrap.servers=X.
 * Returns a new argv (entries borrowed or from `owned`), NULL on failure. */
static char **rewrite_args(int argc, char **argv, int *out_argc, char **owned)
{
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return NULL;
    int n = 0;
    *owned = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--bootstrap-servers") == 0 && i + 1 < argc)
            value = argv[++i];
        else if (strncmp(argv[i], "--bootstrap-servers=", 20) == 0)
            value = argv[i] + 20;
        if (value) {
            free(*owned);
            size_t len = strlen(value) + 40;
            *owned = malloc(len);
            if (!*owned) {
                free(args);
                return NULL;
            }
            snprintf(*owned, len, "--kafkastore.bootstrap.servers=%s", value);
            args[n++] = *owned;
        } else {
            args[n++] = argv[i];
        }
    }
    *out_argc = n;
    return args;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    /* Every thread started from here on inherits the mask; sigwait below
     * takes the signals synchronously. */
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    sd_err_t err = {0};
    int args_count = 0;
    char *owned = NULL;
    char **args = rewrite_args(argc, argv, &args_count, &owned);
    sd_props_t *props = sd_props_new();
    if (!args || !props) {
        fprintf(stderr, "strand-registry: out of memory\n");
        return 1;
    }
    int rc = sd_props_parse_args(props, args_count, args, &err);
    free(args);
    free(owned);
    sd_config_t config = {0};
    if (rc == 0)
        rc = sd_config_init(&config, sr_registry_config_defs, sr_registry_config_count, props,
                            &err);
    sd_props_free(props);
    if (rc != 0) {
        fprintf(stderr, "strand-registry: %s\n", err.msg);
        return 2;
    }
    sd_log_level_t level;
    if (sd_log_level_parse(sd_config_str(&config, "strand.log.level"), &level) == 0)
        sd_log_set_level(level);

    sr_registry_config_t registry_config;
    sr_registry_config_read(&config, &registry_config);
    sr_registry_t *registry = NULL;
    rc = sr_registry_start(&registry_config, &registry, &err);
    if (rc != 0) {
        fprintf(stderr, "strand-registry: cannot start: %s\n", err.msg);
        sd_config_free(&config);
        return 1;
    }
    printf("strand: schema registry listening on %s\n", sr_registry_url(registry));
    fflush(stdout);

    int signo = 0;
    sigwait(&signals, &signo);
    sd_info("registry", "stopping on signal %d", signo);
    sr_registry_stop(registry);
    sd_config_free(&config);
    return 0;
}
