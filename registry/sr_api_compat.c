/*
 * sr_api_compat.c - POST /compatibility/subjects/{subject}/versions[/{version}]
 * (Confluent's CompatibilityResource): checks a schema against one version,
 * or against the subject's undeleted versions at the level in scope, and
 * answers {"is_compatible":bool}, with the readable findings as "messages"
 * when verbose=true. Nothing is written.
 */
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"

void sr_api__check_compatibility(sr_api_call_t *call)
{
    bool verbose = sr_api__arg_bool(call, "verbose");
    bool normalize = sr_api__arg_bool(call, "normalize");
    int32_t number = -1;
    const char *version_text = call->param_count > 1 ? call->params[1] : NULL;
    if (version_text && !sr_api__parse_version(version_text, &number))
        return sr_api__invalid_version(call, version_text);

    sr_api_schema_input_t in = {0};
    const sr_version_t **targets = NULL;
    json_t *messages = NULL;
    bool compatible = true;
    int rc = -1;

    sr_state_read_lock(call->state);
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    if (version_text && !sr_api__subject_visible(subject, false)) {
        sr_api__error(call, SR_E_SUBJECT_NOT_FOUND, "Subject '%s' not found.", call->subject);
        goto done;
    }
    if (sr_api__schema_input(call, normalize, &in) != 0)
        goto done;
    sc_level_t level;
    sd_err_t err = {0};
    if (sc_level_parse(sr_api__compatibility(call, subject), &level, &err) != 0)
        level = SC_LEVEL_BACKWARD;

    size_t count = 0;
    size_t n = subject ? subject->version_count : 0;
    if (n && !(targets = sd_calloc(n, sizeof *targets))) {
        sr_api__nomem(call);
        goto done;
    }
    if (version_text) {
        const sr_version_t *v = sr_api__find_version(subject, number, false);
        if (!v) {
            sr_api__error(call, SR_E_VERSION_NOT_FOUND, "Version %s not found.", version_text);
            goto done;
        }
        targets[count++] = v;
    } else {
        for (size_t i = 0; i < n; i++)
            if (!subject->versions[i].deleted)
                targets[count++] = &subject->versions[i];
    }
    rc = sr_api__check(call, &in, subject, targets, count, level, &compatible,
                       verbose ? &messages : NULL);

done:
    sr_state_read_unlock(call->state);
    if (rc == 0) {
        json_t *out = json_object();
        if (out) {
            json_object_set_new(out, "is_compatible", json_boolean(compatible));
            if (verbose)
                json_object_set(out, "messages", messages);
        }
        sr_api__reply(call, 200, out);
    }
    json_decref(messages);
    sd_free(targets);
    sr_api__schema_input_free(&in);
}
