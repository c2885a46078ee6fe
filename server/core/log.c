/*
 * log.c: JSON-lines server log. Owns the FILE* of server.log; each event is built as a cJSON
 * object, printed unformatted (so any string, including hostile user input, is escaped) and
 * written with a single fputs + fflush so lines never interleave. Must not depend on lws.
 */
#include "log.h"
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

static FILE *logf_;
static char path_[1024];
static int level_ = CD_LOG_INFO;
static int stderr_ = 1;

static const char *names[] = {"debug", "info", "warn", "error"};

int cd_log_open(const char *dir, const char *level_name, int also_stderr)
{
    for (int i = 0; i < 4; i++)
        if (level_name && !strcmp(level_name, names[i]))
            level_ = i;
    stderr_ = also_stderr;
    if (mkdir(dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "collabd: cannot create log directory %s: %s\n", dir, strerror(errno));
        return CD_EIO;
    }
    snprintf(path_, sizeof(path_), "%s/server.log", dir);
    return cd_log_reopen();
}

int cd_log_reopen(void)
{
    if (logf_)
        fclose(logf_);
    logf_ = path_[0] ? fopen(path_, "a") : NULL;
    if (!logf_) {
        fprintf(stderr, "collabd: cannot open %s: %s\n", path_, strerror(errno));
        return CD_EIO;
    }
    return CD_OK;
}

void cd_log_close(void)
{
    if (logf_)
        fclose(logf_);
    logf_ = NULL;
}

int cd_log_enabled(int level)
{
    return level >= level_;
}

void cd_log_fields(int level, const char *req_id, const char *msg, cJSON *fields)
{
    if (level < level_) {
        cJSON_Delete(fields);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    int has_fields = fields && fields->child;
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(fields);
        return;
    }
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "level", names[level]);
    cJSON_AddStringToObject(o, "msg", msg);
    if (req_id)
        cJSON_AddStringToObject(o, "req", req_id);
    if (fields) {
        cJSON *f = fields->child;
        while (f) {
            cJSON *next = f->next;
            cJSON_DetachItemViaPointer(fields, f);
            cJSON_AddItemToObject(o, f->string, f);
            f = next;
        }
        cJSON_Delete(fields);
    }
    char *line = cJSON_PrintUnformatted(o);
    if (line) {
        if (logf_) {
            fputs(line, logf_);
            fputc('\n', logf_);
            fflush(logf_);
        }
        if (stderr_) {
            fprintf(stderr, "%s %-5s %s%s%s\n", ts, names[level], msg, has_fields ? " " : "",
                    has_fields ? line : "");
        }
        free(line);
    }
    cJSON_Delete(o);
}

void cd_logf(int level, const char *req_id, const char *fmt, ...)
{
    if (level < level_)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cd_log_fields(level, req_id, msg, NULL);
}
