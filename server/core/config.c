/*
 * config.c: the option table and its three sources (file, environment, flags).
 * Invariant: every option is validated against its range whatever the source, and a bad
 * value stops start-up with a message naming the option and the source.
 * Depends on util/ and cJSON only.
 */
#include "config.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT, OPT_SIZE };

struct opt {
    const char *name; /* flag --name, env COLLABD_NAME (upper, '-' -> '_'), file key */
    enum opt_type type;
    size_t off;
    size_t size; /* for strings: buffer size */
    long min, max;
    const char *help;
};

#define S(field, help)                                                                             \
    {                                                                                              \
#field, OPT_STR, offsetof(struct cd_config, field),                                        \
            sizeof(((struct cd_config *)0)->field), 0, 0, help                                     \
    }
#define I(field, lo, hi, help)                                                                     \
    {                                                                                              \
#field, OPT_INT, offsetof(struct cd_config, field), 0, lo, hi, help                        \
    }
#define Z(field, lo, hi, help)                                                                     \
    {                                                                                              \
#field, OPT_SIZE, offsetof(struct cd_config, field), 0, lo, hi, help                       \
    }

static const struct opt opts[] = {
    S(host, "address to listen on"),
    I(port, 0, 65535, "TCP port (0 picks a free one; the URL is printed)"),
    S(static_dir, "directory served at / (the built frontend)"),
    S(protocol_dir, "directory holding openapi.json and the message schemas"),
    S(log_dir, "directory for server.log"),
    S(log_level, "debug, info, warn or error"),
    S(store, "session store: memory or redis"),
    S(redis_url, "redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N][&password=P]"),
    I(redis_ttl, 0, 315360000, "seconds an idle session is kept in Redis (0: forever)"),
    S(cors_origins, "comma-separated origins allowed cross-origin (empty: same origin; *: any)"),
    Z(max_body, 64, 1L << 30, "largest REST request body, bytes (k/m suffix)"),
    Z(max_message, 256, 1L << 30, "largest WebSocket message, bytes"),
    Z(max_doc, 1024, 1L << 30, "largest document, UTF-16 units"),
    I(max_sessions, 1, 10000000, "most sessions held at once"),
    I(max_clients_per_room, 1, 100000, "most WebSocket clients in one session"),
    Z(send_queue_max, 4096, 1L << 32, "bytes queued to one client before it is disconnected"),
    I(ping_interval, 1, 3600, "seconds between WebSocket pings"),
    I(idle_timeout, 2, 86400, "seconds of silence before a WebSocket is closed"),
    I(shutdown_grace_ms, 0, 600000, "milliseconds to drain on SIGTERM"),
    I(drain_delay_ms, 0, 600000, "milliseconds /health reports draining before clients are told"),
    I(name_max, 1, 256, "longest user name, characters"),
    I(log_stderr, 0, 1, "1: also print log events to stderr"),
    I(history_max, 1, 10000000, "accepted updates kept per session for rebasing and catch-up"),
    Z(history_bytes, 1024, 1L << 32, "bytes of update history kept per session"),
    S(collab_mode, "stale pushes: rebase (over each newer update) or reject (client pulls)"),
    I(rate_limit, 1, 1000000, "WebSocket messages per second per connection"),
    I(rate_burst, 1, 10000000, "burst allowance of the WebSocket rate limit"),
    I(py_enabled, 0, 1, "server-side Python: 1 on, 0 off"),
    I(py_workers, 1, 4096, "most Python worker processes (one per active context)"),
    I(py_queue_max, 0, 1000000, "Python runs waiting for a worker before 503"),
    I(py_timeout_ms, 10, 3600000, "wall-clock limit of a Python run when none is asked, ms"),
    I(py_timeout_max_ms, 10, 3600000, "largest timeout a request may ask for, ms"),
    I(py_input_timeout_ms, 10, 3600000, "how long input() waits for an answer, ms"),
    Z(py_memory, 16L << 20, 1L << 40, "address-space limit of a Python worker, bytes"),
    I(py_cpu_seconds, 1, 1000000, "CPU seconds a Python worker may use over its life"),
    Z(py_output_max, 1024, 1L << 30, "stdout+stderr bytes of one run before it is stopped"),
    I(py_idle_seconds, 1, 604800, "seconds an unused Python context keeps its worker"),
    I(py_uid, 1, 4294967294L, "uid/gid of the workers when collabd runs as root"),
    S(py_sandbox_dir, "directory holding each Python context's working directory"),
    S(py_worker_bin, "path of collabd-py (empty: beside the collabd executable)"),
    S(py_token, "execution token every server-side run must present (empty: none)"),
    I(py_context_ttl, 1, 31536000, "seconds an unused address context keeps its directory"),
    Z(upload_max, 1024, 1L << 32, "largest upload request (multipart body), bytes"),
    Z(upload_dir_max, 1024, 1L << 40, "bytes of uploaded files kept per Python context"),
    I(http_rate_limit, 0, 1000000, "REST requests per second per client address (0: no limit)"),
    I(http_rate_burst, 1, 10000000, "burst allowance of the REST rate limit"),
    S(trusted_proxies, "proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client"),
    S(admin_token, "token of the admin endpoints (stats clear); empty: admin disabled"),
    S(tls_cert, "PEM certificate (chain): serve HTTPS and WSS on the port (with --tls-key)"),
    S(tls_key, "PEM private key of --tls-cert"),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void cd_config_defaults(struct cd_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 8080;
    snprintf(c->static_dir, sizeof(c->static_dir), "frontend/dist");
    snprintf(c->protocol_dir, sizeof(c->protocol_dir), "protocol");
    snprintf(c->log_dir, sizeof(c->log_dir), "logs");
    snprintf(c->log_level, sizeof(c->log_level), "info");
    snprintf(c->store, sizeof(c->store), "memory");
    snprintf(c->redis_url, sizeof(c->redis_url), "redis://127.0.0.1:6379/0");
    c->redis_ttl = 7L * 24 * 3600;
    c->max_body = 1L << 20;
    c->max_message = 1L << 20;
    c->max_doc = 10L << 20;
    c->max_sessions = 10000;
    c->max_clients_per_room = 256;
    c->send_queue_max = 32L << 20;
    c->ping_interval = 30;
    c->idle_timeout = 75;
    c->shutdown_grace_ms = 5000;
    c->name_max = 64;
    c->log_stderr = 1;
    c->history_max = 1000;
    c->history_bytes = 8L << 20;
    snprintf(c->collab_mode, sizeof(c->collab_mode), "rebase");
    c->rate_limit = 100;
    c->rate_burst = 200;
    c->py_enabled = 1;
    c->py_workers = 8;
    c->py_queue_max = 256;
    c->py_timeout_ms = 30000;
    c->py_timeout_max_ms = 120000;
    c->py_input_timeout_ms = 300000;
    c->py_memory = 1L << 30;
    c->py_cpu_seconds = 600;
    c->py_output_max = 1L << 20;
    c->py_idle_seconds = 600;
    c->py_uid = 65534;
    snprintf(c->py_sandbox_dir, sizeof(c->py_sandbox_dir), "sandbox");
    c->py_context_ttl = 86400;
    c->upload_max = 10L << 20;
    c->upload_dir_max = 64L << 20;
    c->http_rate_limit = 200;
    c->http_rate_burst = 400;
}

/* Parse a decimal integer with an optional k/m/g suffix (OPT_SIZE only). */
static int parse_long(const char *s, int allow_suffix, long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return CD_EINVAL;
    if (allow_suffix && *end) {
        long long mul = 1;
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1024;
            break;
        case 'm':
            mul = 1024 * 1024;
            break;
        case 'g':
            mul = 1024LL * 1024 * 1024;
            break;
        default:
            return CD_EINVAL;
        }
        end++;
        if (v > (long long)(1LL << 40) || v < 0)
            return CD_EINVAL;
        v *= mul;
    }
    if (*end)
        return CD_EINVAL;
    *out = (long)v;
    return CD_OK;
}

static int set_opt(struct cd_config *c, const struct opt *o, const char *val, const char *src)
{
    char *base = (char *)c + o->off;
    if (o->type == OPT_STR) {
        size_t n = strlen(val);
        if (n >= o->size) {
            fprintf(stderr, "collabd: %s: value of %s is too long (max %zu)\n", src, o->name,
                    o->size - 1);
            return CD_EINVAL;
        }
        memcpy(base, val, n + 1);
        return CD_OK;
    }
    long v;
    if (parse_long(val, o->type == OPT_SIZE, &v) || v < o->min || v > o->max) {
        fprintf(stderr, "collabd: %s: %s must be an integer in [%ld, %ld], got \"%s\"\n", src,
                o->name, o->min, o->max, val);
        return CD_EINVAL;
    }
    memcpy(base, &v, sizeof(v));
    return CD_OK;
}

static const struct opt *find_opt(const char *name, size_t n)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *a = opts[i].name;
        size_t j = 0;
        for (; j < n && a[j]; j++)
            if (!(a[j] == name[j] || (a[j] == '_' && name[j] == '-')))
                break;
        if (j == n && !a[j])
            return &opts[i];
    }
    return NULL;
}

static int load_file(struct cd_config *c, const char *path)
{
    int rc = CD_EINVAL;
    char *text = NULL;
    cJSON *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "collabd: cannot open config file %s: %s\n", path, strerror(errno));
        return CD_EINVAL;
    }
    if (fseek(f, 0, SEEK_END) || ftell(f) < 0 || ftell(f) > (1L << 20))
        goto out;
    long len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
        goto out;
    text[len] = '\0';
    root = cJSON_ParseWithLength(text, (size_t)len);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "collabd: config file %s is not a JSON object\n", path);
        goto out;
    }
    cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        const struct opt *o = find_opt(item->string, strlen(item->string));
        char num[32];
        const char *val = NULL;
        if (!o) {
            fprintf(stderr, "collabd: config file %s: unknown option \"%s\"\n", path, item->string);
            goto out;
        }
        if (cJSON_IsString(item))
            val = item->valuestring;
        else if (cJSON_IsNumber(item) && o->type != OPT_STR) {
            snprintf(num, sizeof(num), "%.0f", item->valuedouble);
            val = num;
        } else if (cJSON_IsBool(item)) {
            val = cJSON_IsTrue(item) ? "1" : "0";
        }
        if (!val || set_opt(c, o, val, path))
            goto out;
    }
    rc = CD_OK;
out:
    if (rc && !root)
        fprintf(stderr, "collabd: cannot read config file %s\n", path);
    cJSON_Delete(root);
    free(text);
    fclose(f);
    return rc;
}

static void usage(void)
{
    printf("usage: collabd [--option value]...\n\n"
           "Collaborative code editor server: REST + WebSocket on one port.\n"
           "Every option can also be set as COLLABD_<OPTION> in the environment or as a key of\n"
           "the JSON file given with --config FILE. Flags win over the environment, which wins\n"
           "over the file.\n\n");
    printf("  %-24s %s\n", "--config FILE", "read options from a JSON object file");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", opts[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        printf("  %-24s %s\n", flag, opts[i].help);
    }
    printf("  %-24s %s\n  %-24s %s\n", "--help", "print this and exit", "--version",
           "print the version and exit");
}

int cd_config_load(struct cd_config *c, int argc, char **argv)
{
    const char *file = getenv("COLLABD_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("collabd %s\n", COLLABD_VERSION);
            return 1;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
    }
    if (file && *file && load_file(c, file))
        return CD_EINVAL;
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64] = "COLLABD_";
        size_t k = strlen(env);
        for (const char *p = opts[i].name; *p && k + 1 < sizeof(env); p++)
            env[k++] = (char)toupper((unsigned char)*p);
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && set_opt(c, &opts[i], v, env))
            return CD_EINVAL;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "collabd: unexpected argument \"%s\" (see --help)\n", a);
            return CD_EINVAL;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        const struct opt *o = find_opt(a, n);
        if (!o) {
            fprintf(stderr, "collabd: unknown option --%.*s (see --help)\n", (int)n, a);
            return CD_EINVAL;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "collabd: option --%s needs a value\n", o->name);
            return CD_EINVAL;
        }
        if (set_opt(c, o, val, "command line"))
            return CD_EINVAL;
    }
    if (strcmp(c->store, "memory") != 0 && strcmp(c->store, "redis") != 0) {
        fprintf(stderr, "collabd: store \"%s\" is not available (memory, redis)\n", c->store);
        return CD_EINVAL;
    }
    if (strcmp(c->collab_mode, "rebase") && strcmp(c->collab_mode, "reject")) {
        fprintf(stderr, "collabd: collab_mode must be rebase or reject\n");
        return CD_EINVAL;
    }
    if (!c->tls_cert[0] != !c->tls_key[0]) {
        fprintf(stderr, "collabd: --tls-cert and --tls-key go together: %s is missing\n",
                c->tls_cert[0] ? "--tls-key" : "--tls-cert");
        return CD_EINVAL;
    }
    if (c->py_timeout_ms > c->py_timeout_max_ms) {
        fprintf(stderr, "collabd: py_timeout_ms is over py_timeout_max_ms\n");
        return CD_EINVAL;
    }
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error")) {
        fprintf(stderr, "collabd: log_level must be debug, info, warn or error\n");
        return CD_EINVAL;
    }
    return CD_OK;
}
