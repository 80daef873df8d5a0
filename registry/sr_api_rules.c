/*
 * sr_api_rules.c - the checks Confluent makes of a data-contract rule set
 * (RuleSet.validate / Rule.validate): in each list, rule names unique and
 * identifier-like, a type on every rule, a known kind and a mode that fits
 * the list (migration rules UPGRADE/DOWNGRADE/UPDOWN, domain and encoding
 * rules WRITE/READ/WRITEREAD). A failure is answered 42210.
 */
#include <stdio.h>
#include <string.h>

#include "sr_api_int.h"

static int is_letter(unsigned char c)
{
    /* Bytes of multi-byte UTF-8 sequences stand for the letters of other
     * scripts that Java's Character.isLetter accepts. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int check_name(const char *name, char *msg, size_t len)
{
    if (!*name)
        return snprintf(msg, len, "Empty rule name"), -1;
    const unsigned char *p = (const unsigned char *)name;
    if (!is_letter(p[0]) && p[0] != '_')
        return snprintf(msg, len, "Illegal initial character in rule name: %s", name), -1;
    for (p++; *p; p++)
        if (!is_letter(*p) && !(*p >= '0' && *p <= '9') && *p != '_')
            return snprintf(msg, len, "Illegal character in rule name: %s", name), -1;
    return 0;
}

static int one_of(const char *value, const char *const *choices)
{
    for (; *choices; choices++)
        if (strcmp(value, *choices) == 0)
            return 1;
    return 0;
}

static int check_list(const json_t *rules, const char *list, int migration, char *msg, size_t len)
{
    static const char *const kinds[] = {"TRANSFORM", "CONDITION", NULL};
    static const char *const modes[] = {"UPGRADE", "DOWNGRADE", "UPDOWN", "WRITE",
                                        "READ",    "WRITEREAD", NULL};
    static const char *const migration_modes[] = {"UPGRADE", "DOWNGRADE", "UPDOWN", NULL};
    if (!rules || json_is_null(rules))
        return 0;
    if (!json_is_array(rules))
        return snprintf(msg, len, "Field '%s' of the rule set must be an array", list), -1;
    size_t i, j;
    json_t *rule;
    json_array_foreach(rules, i, rule) {
        if (!json_is_object(rule))
            return snprintf(msg, len, "Rule %zu of '%s' is not an object", i, list), -1;
        const json_t *name = json_object_get(rule, "name");
        if (!json_is_string(name))
            return snprintf(msg, len, "Missing rule name"), -1;
        for (j = 0; j < i; j++) {
            const json_t *other = json_object_get(json_array_get(rules, j), "name");
            if (json_is_string(other) && strcmp(json_string_value(other), json_string_value(name)) == 0)
                return snprintf(msg, len, "Found rule with duplicate name '%s'",
                                json_string_value(name)),
                       -1;
        }
        if (check_name(json_string_value(name), msg, len) != 0)
            return -1;
        if (!json_is_string(json_object_get(rule, "type")))
            return snprintf(msg, len, "Missing rule type"), -1;
        const json_t *kind = json_object_get(rule, "kind");
        if (kind && !json_is_null(kind) && (!json_is_string(kind) || !one_of(json_string_value(kind), kinds)))
            return snprintf(msg, len, "Invalid rule kind in rule '%s' (TRANSFORM or CONDITION)",
                            json_string_value(name)),
                   -1;
        const json_t *mode = json_object_get(rule, "mode");
        const char *mode_text = json_is_string(mode) ? json_string_value(mode) : "WRITEREAD";
        if (mode && !json_is_null(mode) && (!json_is_string(mode) || !one_of(mode_text, modes)))
            return snprintf(msg, len, "Invalid rule mode in rule '%s'", json_string_value(name)), -1;
        int is_migration = one_of(mode_text, migration_modes);
        if (migration && !is_migration)
            return snprintf(msg, len, "Migration rules can only be UPGRADE, DOWNGRADE, UPDOWN"), -1;
        if (!migration && is_migration)
            return snprintf(msg, len, "Domain rules can only be WRITE, READ, WRITEREAD"), -1;
    }
    return 0;
}

int sr_api__check_rule_set(const json_t *rule_set, char *msg, size_t len)
{
    if (!rule_set || json_is_null(rule_set))
        return 0;
    if (!json_is_object(rule_set))
        return snprintf(msg, len, "The rule set must be an object"), -1;
    if (check_list(json_object_get(rule_set, "migrationRules"), "migrationRules", 1, msg, len) != 0 ||
        check_list(json_object_get(rule_set, "domainRules"), "domainRules", 0, msg, len) != 0 ||
        check_list(json_object_get(rule_set, "encodingRules"), "encodingRules", 0, msg, len) != 0)
        return -1;
    return 0;
}
