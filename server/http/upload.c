/*
 * upload.c: files for server-side Python (P7), compatible with the older Pyodide server:
 *   POST   /api/upload                 multipart/form-data; every part with a filename is kept
 *   GET    /api/uploaded-files         the context's files
 *   GET    /api/file-info/{name}       size, time, SHA-256, lines of one file
 *   DELETE /api/uploaded-files/{name}
 * Files live in the context's own directory (the one its Python worker works in, so a program
 * opens them by name); the context is the `session` (query or form field) or the client's
 * address, as for /api/execute. Bodies may be up to --upload-max (the route's own cap).
 *
 * The directory is writable by sandboxed user code, so nothing in it is trusted: names are
 * reduced to safe base names (util/multipart.c: no '/', no leading dot, .csv .json .txt .py
 * only), every open is relative to the directory's descriptor with O_NOFOLLOW (a symlink
 * planted by a program cannot make collabd read or write elsewhere), only regular files are
 * listed or read, and a new file is written under a hidden temporary name and renamed into
 * place (replacing whatever was there, never writing through it).
 */
#include "audit/events.h"
#include "audit/hash.h"
#include "audit/stats.h"
#include "core/clock.h"
#include "core/log.h"
#include "pyexec/pool.h"
#include "routes.h"
#include "store/store.h"
#include "util/error.h"
#include "util/multipart.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PARTS 16
#define MAX_FILES 100 /* files kept per context */

/* Open the context directory of the request (query or given session); 1 = answered. */
static int context_dir(struct cd_http_req *r, const char *session, int *dirfd, char *key,
                       size_t ksize, int *rc)
{
    char qs[64];
    if (!session)
        session = cd_http_arg(r, "session=", qs, sizeof(qs));
    if (!cd_http_py_allowed(r, rc))
        return 1;
    if (session) {
        if (!r->srv->store->ops->get(r->srv->store, session, strlen(session))) {
            *rc = cd_http_error(r, 404, "session_not_found", "no session with that id");
            return 1;
        }
        snprintf(key, ksize, "s:%s", session);
    } else {
        char ip[64];
        cd_http_peer(r, ip, sizeof(ip));
        snprintf(key, ksize, "ip:%s", ip);
    }
    char dir[1024];
    if (cd_pyexec_dir(r->srv->py, key, dir, sizeof(dir)) ||
        (*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        *rc = cd_http_error(r, 500, "io_error", "the context's directory is not available");
        return 1;
    }
    return 0;
}

/* A regular file of the directory, opened for reading without following links; -1 if none. */
static int open_regular(int dirfd, const char *name, struct stat *st)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* SHA-256 and line count of an open file (at most max bytes are read). */
static int digest_fd(int fd, size_t max, char sha[65], long *lines)
{
    struct cd_buf b;
    cd_buf_init(&b, max);
    char chunk[65536];
    ssize_t n;
    int rc = CD_OK;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        if ((rc = cd_buf_append(&b, chunk, (size_t)n)))
            break;
    if (n < 0)
        rc = CD_EIO;
    if (!rc) {
        *lines = 0;
        for (size_t i = 0; i < b.len; i++)
            *lines += b.data[i] == '\n';
        if (b.len && b.data[b.len - 1] != '\n')
            (*lines)++;
        rc = cd_sha256_hex(b.data ? b.data : "", b.len, sha);
    }
    cd_buf_cleanup(&b);
    return rc;
}

static cJSON *file_json(const char *name, const struct stat *st)
{
    char ts[32];
    cd_iso8601((uint64_t)st->st_mtim.tv_sec * 1000 + (uint64_t)st->st_mtim.tv_nsec / 1000000, ts);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "size", (double)st->st_size);
    cJSON_AddStringToObject(o, "modified", ts);
    return o;
}

/* Count the directory's regular files and their bytes (not following links). */
static void dir_usage(int dirfd, size_t *files, size_t *bytes)
{
    *files = *bytes = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
            !S_ISREG(st.st_mode))
            continue;
        (*files)++;
        *bytes += (size_t)st.st_size;
    }
    closedir(d);
}

/* Write data under a hidden name, then rename it to name (atomic; replaces links, never
 * follows them). */
static int write_file(struct cd_http_req *r, int dirfd, const char *name, const char *data,
                      size_t len)
{
    char tmp[64];
    static unsigned long seq;
    snprintf(tmp, sizeof(tmp), ".upload-%d-%lu", (int)getpid(), ++seq);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return CD_EIO;
    int rc = CD_OK;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = CD_EIO;
            break;
        }
        off += (size_t)n;
    }
    if (!rc && geteuid() == 0 &&
        fchown(fd, (uid_t)r->srv->cfg.py_uid, (gid_t)r->srv->cfg.py_uid)) /* the worker's */
        rc = CD_EIO;
    if (close(fd) && !rc)
        rc = CD_EIO;
    if (!rc && renameat(dirfd, tmp, dirfd, name))
        rc = CD_EIO;
    if (rc)
        unlinkat(dirfd, tmp, 0);
    return rc;
}

int cd_upload_post(struct cd_http_req *r)
{
    int rc = 0, dirfd = -1;
    char ctype[512], boundary[CD_MPART_BOUNDARY_MAX + 1], key[CD_PY_KEY_MAX];
    struct cd_mpart *parts = NULL;
    size_t nparts = 0;
    cJSON *files = NULL;
    int n = lws_hdr_copy(r->wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE);
    int brc =
        n > 0 ? cd_multipart_boundary(ctype, (size_t)n, boundary, sizeof(boundary)) : CD_EINVAL;
    if (brc == CD_EINVAL)
        return cd_http_error(r, 415, "unsupported_media_type",
                             "an upload is multipart/form-data (e.g. curl -F file=@data.csv)");
    if (brc)
        return cd_http_error(r, 400, "bad_multipart",
                             "the multipart boundary is missing or invalid");
    parts = calloc(MAX_PARTS, sizeof(*parts));
    if (!parts)
        return cd_http_error(r, 500, "out_of_memory", "out of memory");
    int prc = cd_multipart_parse(r->body.data ? r->body.data : "", r->body.len, boundary, parts,
                                 MAX_PARTS, &nparts);
    if (prc) {
        rc = cd_http_error(r, prc == CD_ELIMIT ? 413 : 400, "bad_multipart",
                           "the multipart body is malformed, truncated or has too many parts "
                           "(%s)",
                           cd_strerror(prc));
        goto out;
    }
    const char *session = NULL;
    char sbuf[64];
    for (size_t i = 0; i < nparts; i++)
        if (!parts[i].has_filename && !strcmp(parts[i].name, "session") && parts[i].len &&
            parts[i].len < sizeof(sbuf)) {
            memcpy(sbuf, parts[i].data, parts[i].len);
            sbuf[parts[i].len] = '\0';
            session = sbuf;
        }
    if (context_dir(r, session, &dirfd, key, sizeof(key), &rc))
        goto out;
    /* check every file before writing any: a refused name or type, or the quota, stores
     * nothing (a failing disk may still leave the files written before it failed) */
    char names[MAX_PARTS][CD_UPLOAD_NAME_MAX + 1];
    size_t nfiles = 0, bytes = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (!parts[i].has_filename)
            continue;
        if (cd_upload_name_safe(parts[i].filename, parts[i].filename_len, names[i],
                                sizeof(names[i]))) {
            rc = cd_http_error(r, 400, "bad_filename",
                               "file names may use ASCII letters, digits, space and . _ - ( ) + "
                               "only, may not start with a dot, dash or space, nor end with a dot "
                               "or space, and are at most 128 bytes");
            goto out;
        }
        if (!cd_upload_ext_allowed(names[i])) {
            rc = cd_http_error(r, 415, "file_type_not_allowed",
                               "only .csv, .json, .txt and .py files may be uploaded");
            goto out;
        }
        nfiles++;
        bytes += parts[i].len;
    }
    if (!nfiles) {
        rc = cd_http_error(r, 400, "no_file", "no file was uploaded (a part needs a filename)");
        goto out;
    }
    size_t have_files, have_bytes;
    dir_usage(dirfd, &have_files, &have_bytes);
    for (size_t i = 0; i < nparts; i++) { /* a file replaced does not count twice */
        struct stat st;
        if (parts[i].has_filename && !fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) &&
            S_ISREG(st.st_mode)) {
            have_files -= have_files ? 1 : 0;
            have_bytes -= (size_t)st.st_size < have_bytes ? (size_t)st.st_size : have_bytes;
        }
    }
    if (have_files + nfiles > MAX_FILES ||
        have_bytes + bytes > (size_t)r->srv->cfg.upload_dir_max) {
        rc = cd_http_error(r, 413, "quota_exceeded",
                           "the context keeps at most %d files and %ld bytes; delete some first",
                           MAX_FILES, r->srv->cfg.upload_dir_max);
        goto out;
    }
    files = cJSON_CreateArray();
    char ip[64], ua[160];
    cd_http_peer(r, ip, sizeof(ip));
    cd_http_user_agent(r, ua, sizeof(ua));
    for (size_t i = 0; i < nparts; i++) {
        if (!parts[i].has_filename)
            continue;
        if (write_file(r, dirfd, names[i], parts[i].data, parts[i].len)) {
            cd_stats_upload(r->srv->stats, parts[i].len, 0);
            rc = cd_http_error(r, 507, "io_error", "the file could not be stored");
            goto out;
        }
        char sha[65];
        cd_sha256_hex(parts[i].data, parts[i].len, sha);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", names[i]);
        cJSON_AddStringToObject(f, "originalName", parts[i].filename);
        cJSON_AddNumberToObject(f, "size", (double)parts[i].len);
        cJSON_AddStringToObject(f, "sha256", sha);
        if (parts[i].content_type[0])
            cJSON_AddStringToObject(f, "contentType", parts[i].content_type);
        cJSON_AddItemToArray(files, f);
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "name", names[i]);
        cJSON_AddNumberToObject(ev, "size", (double)parts[i].len);
        cJSON_AddStringToObject(ev, "sha256", sha);
        cJSON_AddStringToObject(ev, "context", key);
        cd_audit(r->srv->seclog, "upload", ip, ua, ev);
        cd_stats_upload(r->srv->stats, parts[i].len, 1);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON_AddItemToObject(o, "file", cJSON_Duplicate(cJSON_GetArrayItem(files, 0), 1));
    cJSON_AddItemToObject(o, "files", files);
    files = NULL;
    rc = cd_http_json(r, 200, o);
out:
    cJSON_Delete(files);
    free(parts);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

int cd_upload_list(struct cd_http_req *r)
{
    int rc = 0, dirfd = -1;
    char key[CD_PY_KEY_MAX];
    if (context_dir(r, NULL, &dirfd, key, sizeof(key), &rc))
        return rc;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON *arr = cJSON_AddArrayToObject(o, "files");
    double total = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        struct stat st;
        char safe[CD_UPLOAD_NAME_MAX + 1];
        if (e->d_name[0] == '.' || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
            !S_ISREG(st.st_mode))
            continue;
        /* only names the API can address (file-info, delete) are listed */
        if (cd_upload_name_safe(e->d_name, strlen(e->d_name), safe, sizeof(safe)) ||
            strcmp(safe, e->d_name))
            continue;
        cJSON_AddItemToArray(arr, file_json(e->d_name, &st));
        total += (double)st.st_size;
    }
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    close(dirfd);
    cJSON_AddNumberToObject(o, "count", cJSON_GetArraySize(arr));
    cJSON_AddNumberToObject(o, "totalBytes", total);
    return cd_http_json(r, 200, o);
}

/* The {name} of the path as a safe base name; 1 = answered (404: nothing unsafe exists). */
static int path_name(struct cd_http_req *r, char *out, size_t size, int *rc)
{
    if (cd_upload_name_safe(r->param, strlen(r->param), out, size)) {
        *rc = cd_http_error(r, 404, "file_not_found", "no such file");
        return 1;
    }
    return 0;
}

int cd_upload_info(struct cd_http_req *r)
{
    int rc = 0, dirfd = -1;
    char key[CD_PY_KEY_MAX], name[CD_UPLOAD_NAME_MAX + 1];
    if (path_name(r, name, sizeof(name), &rc) ||
        context_dir(r, NULL, &dirfd, key, sizeof(key), &rc))
        return rc;
    struct stat st;
    int fd = open_regular(dirfd, name, &st);
    close(dirfd);
    if (fd < 0)
        return cd_http_error(r, 404, "file_not_found", "no such file");
    char sha[65];
    long lines = 0;
    int drc = digest_fd(fd, (size_t)r->srv->cfg.upload_dir_max, sha, &lines);
    close(fd);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON *f = file_json(name, &st);
    if (!drc) {
        cJSON_AddStringToObject(f, "sha256", sha);
        cJSON_AddNumberToObject(f, "lines", (double)lines);
    }
    cJSON_AddItemToObject(o, "file", f);
    return cd_http_json(r, 200, o);
}

int cd_upload_delete(struct cd_http_req *r)
{
    int rc = 0, dirfd = -1;
    char key[CD_PY_KEY_MAX], name[CD_UPLOAD_NAME_MAX + 1];
    if (path_name(r, name, sizeof(name), &rc) ||
        context_dir(r, NULL, &dirfd, key, sizeof(key), &rc))
        return rc;
    struct stat st;
    char sha[65] = "";
    long lines = 0;
    int fd = open_regular(dirfd, name, &st); /* the hash of what is deleted, for the log */
    if (fd >= 0) {
        digest_fd(fd, (size_t)r->srv->cfg.upload_dir_max, sha, &lines);
        close(fd);
    }
    int gone = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) || unlinkat(dirfd, name, 0);
    close(dirfd);
    if (gone)
        return cd_http_error(r, 404, "file_not_found", "no such file");
    char ip[64], ua[160];
    cd_http_peer(r, ip, sizeof(ip));
    cd_http_user_agent(r, ua, sizeof(ua));
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "name", name);
    if (sha[0])
        cJSON_AddStringToObject(ev, "sha256", sha);
    cJSON_AddStringToObject(ev, "context", key);
    cd_audit(r->srv->seclog, "upload_deleted", ip, ua, ev);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    cJSON_AddStringToObject(o, "deleted", name);
    return cd_http_json(r, 200, o);
}
