/*
 * config.h: collabd's configuration, read from (in rising precedence) built-in defaults,
 * an optional JSON file (--config FILE or COLLABD_CONFIG), COLLABD_* environment variables
 * and command-line flags. Every option has one row in the table in config.c, which also
 * produces --help. The struct is filled once at start-up on the main thread and read-only after.
 */
#ifndef CD_CORE_CONFIG_H
#define CD_CORE_CONFIG_H

#include <stddef.h>

struct cd_config {
    char host[128];
    long port;
    char static_dir[512];
    char protocol_dir[512];
    char log_dir[512];
    char log_level[16];
    char store[16];
    char redis_url[512];     /* --store redis: where (see store/redis.c for the forms) */
    long redis_ttl;          /* seconds an idle session is kept in Redis; 0: forever */
    char cors_origins[1024]; /* comma-separated; empty = same-origin only; "*" = any */
    long max_body;           /* bytes of a REST request body */
    long max_message;        /* bytes of one WebSocket message, checked while reassembling */
    long max_doc;            /* bytes (UTF-16 units) of a document */
    long max_sessions;
    long max_clients_per_room;
    long send_queue_max; /* bytes queued to one slow WebSocket client before it is dropped */
    long ping_interval;  /* seconds between WebSocket pings */
    long idle_timeout;   /* seconds without any traffic (incl. pong) before a socket is reaped */
    long shutdown_grace_ms;
    long drain_delay_ms;  /* after SIGTERM: readiness fails this long before clients are told */
    long name_max;        /* characters of a user name */
    long log_stderr;      /* 1: also print a human line per log event to stderr */
    long history_max;     /* accepted updates kept per room for rebasing and catch-up */
    long history_bytes;   /* serialised bytes of history kept per room */
    char collab_mode[16]; /* "rebase" (default) or "reject" stale pushes */
    long rate_limit;      /* messages per second per WebSocket connection */
    long rate_burst;      /* bucket size of the rate limit */
    /* server-side Python (pyexec/) */
    long py_enabled;          /* 0: no server-side execution at all */
    long py_workers;          /* most worker processes at once (one per active context) */
    long py_queue_max;        /* runs waiting for a worker before new ones get 503 */
    long py_timeout_ms;       /* wall-clock time of a run when the request names none */
    long py_timeout_max_ms;   /* the most a request may ask for */
    long py_input_timeout_ms; /* how long input() waits for the person to answer */
    long py_memory;           /* address-space limit of a worker, bytes */
    long py_cpu_seconds;      /* CPU-time limit of a worker over its life */
    long py_output_max;       /* stdout + stderr bytes of one run before it is stopped */
    long py_idle_seconds;     /* an unused context gives its worker back after this */
    long py_uid;              /* the workers' uid and gid when collabd runs as root */
    char py_sandbox_dir[512]; /* one directory per context below this */
    char py_worker_bin[512];  /* collabd-py; empty: next to the collabd executable */
    char py_token[128];       /* when set, every server-side run must present it */
    long py_context_ttl;      /* seconds an unused address context keeps its files */
    long upload_max;          /* bytes of one upload request (its own body cap) */
    long upload_dir_max;      /* bytes of uploaded files kept per context */
    /* stats, dashboard, admin (audit/stats.h, http/stats.c) */
    long http_rate_limit;      /* REST requests per second per client address; 0: no limit */
    long http_rate_burst;      /* bucket size of that limit */
    char trusted_proxies[512]; /* comma-separated addresses/CIDRs whose X-Forwarded-For is believed
                                */
    char admin_token[128];     /* admin endpoints need it; empty: they answer 403. Never logged */
    /* TLS (http/tls.h): both set, or neither */
    char tls_cert[512]; /* PEM certificate (chain) of the HTTPS/WSS listener */
    char tls_key[512];  /* PEM private key matching tls_cert */
};

/* Fill c with the defaults. */
void cd_config_defaults(struct cd_config *c);
/* Apply file, environment and flags on top of c. Returns 0; 1 if --help or --version was
 * printed (the caller exits 0); CD_EINVAL after printing the reason to stderr. */
int cd_config_load(struct cd_config *c, int argc, char **argv);

#endif
