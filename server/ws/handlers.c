/*
 * handlers.c: parsing and routing of client messages. Every refusal is a JSON error message
 * {type:"error", code, message, ref} (ref echoes the client's "ref" field when it sent one);
 * a client that keeps sending garbage is closed with 4004 after CD_MAX_PROTOCOL_ERRORS.
 * Must not block: everything here runs on the event loop.
 */
#include "handlers.h"
#include "collab.h"
#include "run.h"
#include "core/clock.h"
#include "audit/events.h"
#include "core/log.h"
#include "util/error.h"
#include "util/text.h"
#include "util/utf16.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CD_MAX_PROTOCOL_ERRORS 50
#define CD_REF_MAX             64

typedef int (*handler_fn)(struct cd_conn *c, const cJSON *msg, const cJSON *ref);

static int on_ping(struct cd_conn *c, const cJSON *msg, const cJSON *ref)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return CD_ENOMEM;
    cJSON_AddStringToObject(o, "type", "pong");
    if (ref)
        cJSON_AddItemToObject(o, "ref", cJSON_Duplicate(ref, 1));
    int rc = cd_conn_send_json(c, o);
    cJSON_Delete(o);
    return rc;
}

static const struct {
    const char *type;
    handler_fn fn;
} handlers[] = {
    {"ping", on_ping},
    {"push", cd_collab_on_push},
    {"pull", cd_collab_on_pull},
    {"cursor", cd_collab_on_cursor},
    {"run", cd_run_on_run},
    {"run_input", cd_run_on_input},
    {"run_stop", cd_run_on_stop},
    {"run_reset", cd_run_on_reset},
};

/* Token bucket: rate_limit tokens per second, at most rate_burst. Returns 1 if the message
 * may be handled. Over the limit the message is dropped with an error (at most one a second);
 * a client with more than five seconds' worth of messages dropped within five seconds is
 * closed (4003). The drops are counted over a window, not in a row: a flood that the bucket
 * lets a message through now and then (its refill) is still a flood. */
static int rate_ok(struct cd_conn *c)
{
    const struct cd_config *cfg = &c->srv->cfg;
    uint64_t now = cd_mono_us();
    if (!c->tokens_us) {
        c->tokens = (double)cfg->rate_burst;
        c->tokens_us = now;
    }
    c->tokens += (double)(now - c->tokens_us) * (double)cfg->rate_limit / 1e6;
    if (c->tokens > (double)cfg->rate_burst)
        c->tokens = (double)cfg->rate_burst;
    c->tokens_us = now;
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return 1;
    }
    if (now - c->limited_since_us > 5000000) { /* a new five-second window of drops */
        c->limited_since_us = now;
        c->limited = 0;
    }
    c->limited++;
    if (c->limited > (uint64_t)cfg->rate_limit * 5) {
        cd_logf(CD_LOG_WARN, NULL, "closing %s (%s): rate limit exceeded for 5 s", c->conn_id,
                c->ip);
        cd_conn_close_after_flush(c, CD_CLOSE_RATE_LIMITED, "rate limit exceeded");
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "conn", c->conn_id);
        cJSON_AddStringToObject(ev, "action", "closed");
        cd_audit(c->srv->seclog, "rate_limited", c->ip, c->ua, ev);
        return 0;
    }
    uint64_t ms = now / 1000;
    if (ms - c->limited_told_ms >= 1000) {
        char m[128];
        snprintf(m, sizeof(m), "over %ld messages per second: message dropped", cfg->rate_limit);
        cd_conn_send_error(c, "rate_limited", m, NULL);
        c->limited_told_ms = ms;
    }
    return 0;
}

static void protocol_error(struct cd_conn *c, const char *code, const char *message,
                           const cJSON *ref)
{
    cd_conn_send_error(c, code, message, ref);
    if (++c->errors >= CD_MAX_PROTOCOL_ERRORS)
        cd_conn_close_after_flush(c, CD_CLOSE_PROTOCOL, "too many protocol errors");
}

void cd_ws_handle_message(struct cd_conn *c, char *data, size_t len)
{
    const char *end = NULL;
    if (c->close_code || !rate_ok(c))
        return;
    /* lone surrogates (legal in JavaScript strings) become bytes cJSON carries verbatim */
    if (cd_json_wtf8_prepass(data, &len)) {
        protocol_error(c, "bad_json", "message is not valid JSON (raw control character)", NULL);
        return;
    }
    cJSON *msg = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!msg) {
        char m[96];
        snprintf(m, sizeof(m), "message is not valid JSON (near byte %zu)",
                 end ? (size_t)(end - data) : (size_t)0);
        protocol_error(c, "bad_json", m, NULL);
        return;
    }
    if (!cJSON_IsObject(msg)) {
        protocol_error(c, "bad_message", "a message must be a JSON object", NULL);
        goto out;
    }
    /* ref is echoed back, so it is kept small: a short string or a finite number */
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(msg, "ref");
    if (ref && !((cJSON_IsString(ref) && strlen(ref->valuestring) <= CD_REF_MAX) ||
                 (cJSON_IsNumber(ref) && isfinite(ref->valuedouble)))) {
        protocol_error(c, "bad_message", "ref must be a string of at most 64 bytes or a number",
                       NULL);
        goto out;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    if (!cJSON_IsString(type)) {
        protocol_error(c, "bad_message", "a message needs a string \"type\"", ref);
        goto out;
    }
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (!strcmp(handlers[i].type, type->valuestring)) {
            handlers[i].fn(c, msg, ref);
            goto out;
        }
    }
    char m[160];
    const char *t = type->valuestring;
    snprintf(m, sizeof(m), "unknown message type \"%.*s\"", (int)cd_utf8_prefix(t, strlen(t), 64),
             t);
    protocol_error(c, "unknown_type", m, ref);
out:
    cJSON_Delete(msg);
}
