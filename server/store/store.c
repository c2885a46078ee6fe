/*
 * store.c: the asynchronous write API over any store (see store.h). For a store without an
 * asynchronous side (memory) the operation runs at once and the callback is called before
 * returning. Must not depend on lws or hiredis.
 */
#include "store.h"
#include "util/error.h"

int cd_store_create(struct cd_store *s, const char *language, const uint16_t *text, size_t n,
                    cd_store_cb cb, void *arg)
{
    if (s->ops->create_async)
        return s->ops->create_async(s, language, text, n, cb, arg);
    struct cd_session *r = NULL;
    struct cd_auth *a = NULL;
    int rc = text ? cd_auth_new(&s->limits, text, n, &a) : CD_OK;
    if (rc)
        return rc;
    rc = s->ops->create(s, language, &r);
    if (rc) {
        cd_auth_free(a);
        return rc;
    }
    if (a) {
        cd_auth_free(r->auth);
        r->auth = a;
    }
    cb(arg, CD_OK, r);
    return CD_OK;
}

int cd_store_remove(struct cd_store *s, const char *id, size_t idlen, cd_store_cb cb, void *arg)
{
    if (s->ops->remove_async)
        return s->ops->remove_async(s, id, idlen, cb, arg);
    struct cd_session *r = s->ops->get(s, id, idlen);
    if (!r)
        return CD_ENOTFOUND;
    cb(arg, CD_OK, r);
    return s->ops->remove(s, id, idlen);
}

int cd_store_status(struct cd_store *s)
{
    return s->ops->status ? s->ops->status(s) : CD_OK;
}

void cd_store_shutdown(struct cd_store *s)
{
    if (s && s->ops->shutdown)
        s->ops->shutdown(s);
}
