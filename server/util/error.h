/*
 * error.h: the one error-code table of collabd.
 * Every function that can fail returns int: 0 (CD_OK) or one of the negative codes below.
 * cd_strerror() gives a stable human sentence; cd_errname() a stable machine name used in
 * JSON error bodies. Only http/ and ws/ map these codes to HTTP statuses and close codes.
 * Thread-safe: the tables are read-only.
 */
#ifndef CD_UTIL_ERROR_H
#define CD_UTIL_ERROR_H

#define CD_ERRORS(X)                                                                               \
    X(CD_OK, 0, "ok", "success")                                                                   \
    X(CD_ENOMEM, -1, "out_of_memory", "out of memory")                                             \
    X(CD_EINVAL, -2, "invalid", "invalid argument or input")                                       \
    X(CD_EPARSE, -3, "parse_error", "malformed input")                                             \
    X(CD_ETOOBIG, -4, "too_large", "size limit exceeded")                                          \
    X(CD_ENOTFOUND, -5, "not_found", "not found")                                                  \
    X(CD_EEXIST, -6, "exists", "already exists")                                                   \
    X(CD_ELIMIT, -7, "limit_exceeded", "limit exceeded")                                           \
    X(CD_ERANGE, -8, "out_of_range", "value out of range")                                         \
    X(CD_ESTALE, -9, "stale", "version is older than the retained history")                        \
    X(CD_EPERM, -10, "forbidden", "operation not permitted")                                       \
    X(CD_EIO, -11, "io_error", "input/output error")                                               \
    X(CD_EUNAVAIL, -12, "unavailable", "service unavailable")                                      \
    X(CD_ESHUTDOWN, -13, "shutting_down", "server is shutting down")                               \
    X(CD_EMISMATCH, -14, "length_mismatch", "change set length does not match the document")       \
    X(CD_ECONFLICT, -15, "stale", "push is based on an old version; pull and retry")

enum cd_err {
#define CD_ERR_ENUM(name, val, id, msg) name = val,
    CD_ERRORS(CD_ERR_ENUM)
#undef CD_ERR_ENUM
};

/* Human-readable sentence for an error code; never NULL (unknown codes get a generic text). */
const char *cd_strerror(int err);
/* Stable snake_case identifier for an error code; never NULL. */
const char *cd_errname(int err);

#endif
