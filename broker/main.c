/*
 * main.c - the `strand` binary: parses Kafka-style properties from
 * `--config FILE` and `--name=value` options, starts the broker and runs it
 * until SIGTERM.
 */
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "config.h"
#include "server.h"

static void usage(void)
{
    printf("usage: strand [--config FILE] [--name=value ...]\n\n"
           "Runs a Kafka-compatible broker. Properties (Kafka's names):\n");
    for (size_t i = 0; i < bk_broker_config_count; i++) {
        const sd_cfg_def_t *d = &bk_broker_config_defs[i];
        printf("  %-36s %s (default: %s)\n", d->name, d->doc,
               d->default_value ? d->default_value : "none");
    }
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
    rc = bk_server_run(&server);
    bk_server_free(&server);
    return rc == 0 ? 0 : 1;
}
