/*
 * coordinator.c - the group registry's life in the server (see
 * coordinator.h).
 */
#include "group/coordinator.h"

#include <stdio.h>

#include "base/alloc.h"
#include "server.h"

int bk_coordinator_start(bk_server_t *server, sd_err_t *err)
{
    const sd_config_t *cfg = &server->config;
    bk_group_config_t gc = {
        .initial_rebalance_delay_ms = sd_config_int(cfg, "group.initial.rebalance.delay.ms"),
        .min_session_timeout_ms = sd_config_int(cfg, "group.min.session.timeout.ms"),
        .max_session_timeout_ms = sd_config_int(cfg, "group.max.session.timeout.ms"),
    };
    if (gc.min_session_timeout_ms > gc.max_session_timeout_ms)
        return sd_err_set(err, SD_ERR_INVALID,
                          "group.min.session.timeout.ms is above group.max.session.timeout.ms");
    bk_groups_t *groups = sd_calloc(1, sizeof *groups);
    if (!groups)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    uint8_t raw[16];
    char tag[40];
    bk_random_uuid(raw);
    snprintf(tag, sizeof tag, "%02x%02x%02x%02x-%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3],
             raw[4], raw[5], raw[6], raw[7]);
    bk_groups_init(groups, &gc, tag);
    server->groups = groups;
    return 0;
}

void bk_coordinator_free(bk_server_t *server)
{
    if (!server->groups)
        return;
    bk_groups_free(server->groups);
    sd_free(server->groups);
    server->groups = NULL;
}

void bk_coordinator_changed(bk_server_t *server)
{
    if (server->groups && bk_groups_take_changed(server->groups))
        bk_server_wake(server);
}

void bk_coordinator_tick(bk_server_t *server)
{
    if (!server->groups)
        return;
    bk_groups_tick(server->groups, server->now_ms);
    bk_coordinator_changed(server);
}

int64_t bk_coordinator_poll_interval(int32_t session_timeout_ms)
{
    int64_t interval = session_timeout_ms / 3;
    if (interval > 1000)
        interval = 1000;
    return interval < 10 ? 10 : interval;
}
