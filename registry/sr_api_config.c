/*
 * sr_api_config.c - /config and /mode, global and per subject (Confluent's
 * ConfigResource and ModeResource). GET /config answers compatibilityLevel
 * where PUT takes compatibility; PUT merges the fields given into the
 * config in force and echoes them; defaultToGlobal falls back to the global
 * setting instead of 40408 / 40409. Modes: READWRITE, READONLY,
 * READONLY_OVERRIDE, IMPORT (needs force=true once subjects exist) and,
 * globally only, FORWARD.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"
#include "sr_records.h"

/* Fields a config may hold besides compatibilityLevel, with their JSON type. */
static const struct {
    const char *name;
    json_type type;
} config_fields[] = {
    {"alias", JSON_STRING},
    {"normalize", JSON_TRUE}, /* a boolean */
    {"validateFields", JSON_TRUE},
    {"validateRules", JSON_TRUE},
    {"compatibilityPolicy", JSON_STRING},
    {"compatibilityGroup", JSON_STRING},
    {"defaultMetadata", JSON_OBJECT},
    {"overrideMetadata", JSON_OBJECT},
    {"defaultRuleSet", JSON_OBJECT},
    {"overrideRuleSet", JSON_OBJECT},
};

static const char *const modes[] = {"READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT",
                                    "FORWARD"};

static bool type_ok(const json_t *value, json_type type)
{
    if (type == JSON_TRUE)
        return json_is_boolean(value);
    return json_typeof(value) == type;
}

/* A config as GET returns it: compatibilityLevel first, no "subject". */
static json_t *config_view(const json_t *config, const char *fallback_level)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    const json_t *level = config ? json_object_get(config, "compatibilityLevel") : NULL;
    if (json_is_string(level))
        json_object_set(out, "compatibilityLevel", (json_t *)level);
    else if (fallback_level)
        json_object_set_new(out, "compatibilityLevel", json_string(fallback_level));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)config, key, value)
    {
        if (strcmp(key, "compatibilityLevel") != 0 && strcmp(key, "subject") != 0 &&
            !json_is_null(value))
            json_object_set(out, key, value);
    }
    return out;
}

void sr_api__get_config(sr_api_call_t *call)
{
    json_t *out = NULL;
    const char *fallback = sr_registry_default_compatibility(call->registry);
    sr_state_read_lock(call->state);
    const json_t *global = sr_state_global_config(call->state);
    if (!call->subject) {
        out = config_view(global, fallback);
    } else {
        const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
        if (subject && subject->config)
            out = config_view(subject->config, NULL);
        else if (sr_api__arg_bool(call, "defaultToGlobal"))
            out = config_view(global, fallback);
        else {
            sr_state_read_unlock(call->state);
            return sr_api__error(call, SR_E_SUBJECT_NO_CONFIG,
                                 "Subject '%s' does not have subject-level compatibility "
                                 "configured",
                                 call->subject);
        }
    }
    sr_state_read_unlock(call->state);
    sr_api__reply(call, 200, out);
}

/* Validates a PUT /config body into `update` (the stored field names) and
 * `echo` (the request's names). */
static int read_config_update(sr_api_call_t *call, json_t *update, json_t *echo)
{
    if (!call->body) {
        sr_api__error(call, 422, "Request body is missing");
        return -1;
    }
    if (!json_is_object(call->body)) {
        sr_api__error(call, 400, "The request body must be a JSON object");
        return -1;
    }
    const json_t *level = json_object_get(call->body, "compatibility");
    if (!level || json_is_null(level))
        level = json_object_get(call->body, "compatibilityLevel");
    if (level && !json_is_null(level)) {
        sc_level_t parsed;
        sd_err_t err = {0};
        if (!json_is_string(level) || sc_level_parse(json_string_value(level), &parsed, &err)) {
            sr_api__error(call, SR_E_INVALID_COMPATIBILITY,
                          "Invalid compatibility level. Valid values are none, backward, "
                          "forward, full, backward_transitive, forward_transitive, and "
                          "full_transitive");
            return -1;
        }
        json_object_set_new(update, "compatibilityLevel", json_string(sc_level_name(parsed)));
        json_object_set_new(echo, "compatibility", json_string(sc_level_name(parsed)));
    }
    for (size_t i = 0; i < sizeof config_fields / sizeof config_fields[0]; i++) {
        json_t *value = json_object_get(call->body, config_fields[i].name);
        if (!value || json_is_null(value))
            continue;
        if (!type_ok(value, config_fields[i].type)) {
            sr_api__error(call, 400, "Invalid type for config field '%s'", config_fields[i].name);
            return -1;
        }
        char why[256];
        if (strstr(config_fields[i].name, "RuleSet") &&
            sr_api__check_rule_set(value, why, sizeof why) != 0) {
            sr_api__error(call, SR_E_INVALID_RULESET, "Invalid rule set in '%s': %s",
                          config_fields[i].name, why);
            return -1;
        }
        json_object_set(update, config_fields[i].name, value);
        json_object_set(echo, config_fields[i].name, value);
    }
    return 0;
}

static void write_one(sr_api_call_t *call, char *key, char *value, bool tombstone, const char *what,
                      json_t *response)
{
    int rc = -1;
    if (!key || (!value && !tombstone)) {
        sr_api__nomem(call);
    } else {
        sr_write_t record = {key, value};
        rc = sr_api__write(call, &record, 1, what);
    }
    free(key);
    free(value);
    if (rc == 0) {
        sr_api__reply(call, 200, response);
        response = NULL;
    }
    json_decref(response);
}

void sr_api__put_config(sr_api_call_t *call)
{
    json_t *update = json_object(), *echo = json_object(), *merged = NULL;
    if (!update || !echo) {
        json_decref(update);
        json_decref(echo);
        return sr_api__nomem(call);
    }
    if (read_config_update(call, update, echo) != 0) {
        json_decref(update);
        json_decref(echo);
        return;
    }
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    const json_t *current = NULL;
    if (call->subject) {
        const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
        current = subject ? subject->config : NULL;
    } else {
        current = sr_state_global_config(call->state);
    }
    merged = config_view(current, NULL);
    sr_state_read_unlock(call->state);
    char *key = NULL, *value = NULL;
    if (merged && json_object_update(merged, update) == 0) {
        key = sr_key_config(call->subject);
        value = sr_value_config(call->subject, merged);
    }
    write_one(call, key, value, false, "Update config", echo);
    sr_registry_write_unlock(call->registry);
    json_decref(merged);
    json_decref(update);
}

void sr_api__delete_config(sr_api_call_t *call)
{
    json_t *old = NULL;
    const char *fallback = sr_registry_default_compatibility(call->registry);
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    const json_t *current;
    if (call->subject) {
        const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
        if (!subject) {
            sr_state_read_unlock(call->state);
            sr_registry_write_unlock(call->registry);
            return sr_api__error(call, SR_E_SUBJECT_NOT_FOUND, "Subject '%s' not found.",
                                 call->subject);
        }
        if (!subject->config) {
            sr_state_read_unlock(call->state);
            sr_registry_write_unlock(call->registry);
            return sr_api__error(call, SR_E_SUBJECT_NO_CONFIG,
                                 "Subject '%s' does not have subject-level compatibility "
                                 "configured",
                                 call->subject);
        }
        current = subject->config;
    } else {
        current = sr_state_global_config(call->state);
    }
    bool was_set = current != NULL;
    old = config_view(current, call->subject ? NULL : fallback);
    sr_state_read_unlock(call->state);
    if (!old)
        sr_api__nomem(call);
    else if (!was_set)
        sr_api__reply(call, 200, old);
    else
        write_one(call, sr_key_config(call->subject), NULL, true, "Delete config", old);
    sr_registry_write_unlock(call->registry);
}

/* --- mode --- */

void sr_api__get_mode(sr_api_call_t *call)
{
    const char *mode;
    char copy[32] = "";
    sr_state_read_lock(call->state);
    const char *global = sr_state_global_mode(call->state);
    if (!call->subject) {
        mode = global ? global : "READWRITE";
    } else {
        const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
        if (subject && subject->mode)
            mode = subject->mode;
        else if (sr_api__arg_bool(call, "defaultToGlobal"))
            mode = global ? global : "READWRITE";
        else
            mode = NULL;
    }
    if (mode)
        snprintf(copy, sizeof copy, "%s", mode);
    sr_state_read_unlock(call->state);
    if (!mode)
        return sr_api__error(call, SR_E_SUBJECT_NO_MODE,
                             "Subject '%s' does not have subject-level mode configured",
                             call->subject);
    sr_api__reply(call, 200, json_pack("{s:s}", "mode", copy));
}

static bool any_versions(sr_api_call_t *call, const char *only)
{
    if (only)
        return sr_api__subject_visible(sr_state_subject(call->state, only), false);
    size_t n = sr_state_subject_count(call->state);
    for (size_t i = 0; i < n; i++)
        if (sr_api__subject_visible(sr_state_subject_at(call->state, i), false))
            return true;
    return false;
}

void sr_api__put_mode(sr_api_call_t *call)
{
    if (!call->body)
        return sr_api__error(call, 422, "Request body is missing");
    const json_t *mode_json = json_object_get(call->body, "mode");
    char mode[32] = "";
    if (json_is_string(mode_json) && json_string_length(mode_json) < sizeof mode) {
        const char *s = json_string_value(mode_json);
        for (size_t i = 0; s[i]; i++)
            mode[i] = (char)toupper((unsigned char)s[i]);
    }
    bool valid = false;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(mode, modes[i]) == 0)
            valid = true;
    if (!valid || (call->subject && strcmp(mode, "FORWARD") == 0))
        return sr_api__error(call, SR_E_INVALID_MODE,
                             "Invalid mode. Valid values are READWRITE, READONLY, "
                             "READONLY_OVERRIDE, and IMPORT%s",
                             call->subject ? "" : " (and FORWARD globally)");

    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    bool blocked = strcmp(mode, "IMPORT") == 0 && !sr_api__arg_bool(call, "force") &&
                   any_versions(call, call->subject);
    sr_state_read_unlock(call->state);
    if (blocked)
        sr_api__error(call, SR_E_NOT_PERMITTED,
                      "Cannot import since found existing subjects; set force=true to import "
                      "into them");
    else
        write_one(call, sr_key_mode(call->subject), sr_value_mode(call->subject, mode), false,
                  "Update mode", json_pack("{s:s}", "mode", mode));
    sr_registry_write_unlock(call->registry);
}

void sr_api__delete_mode(sr_api_call_t *call)
{
    char old[32] = "READWRITE";
    bool was_set = false;
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    if (call->subject) {
        const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
        if (!subject || !subject->mode) {
            sr_state_read_unlock(call->state);
            sr_registry_write_unlock(call->registry);
            if (!subject)
                return sr_api__error(call, SR_E_SUBJECT_NOT_FOUND, "Subject '%s' not found.",
                                     call->subject);
            return sr_api__error(call, SR_E_SUBJECT_NO_MODE,
                                 "Subject '%s' does not have subject-level mode configured",
                                 call->subject);
        }
        snprintf(old, sizeof old, "%s", subject->mode);
        was_set = true;
    } else if (sr_state_global_mode(call->state)) {
        snprintf(old, sizeof old, "%s", sr_state_global_mode(call->state));
        was_set = true;
    }
    sr_state_read_unlock(call->state);
    json_t *response = json_pack("{s:s}", "mode", old);
    if (!was_set)
        sr_api__reply(call, 200, response);
    else
        write_one(call, sr_key_mode(call->subject), NULL, true, "Delete mode", response);
    sr_registry_write_unlock(call->registry);
}
