/*
 * map.c: open-addressing hash map behind map.h. Invariants: nslots is 0 or a power of two,
 * used <= 3/4 nslots after every insert, a probe sequence ends at the first empty slot.
 * The hash is FNV-1a: the keys are server-generated UUIDs, not attacker-chosen collisions.
 */
#include "map.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

static char tombstone;
#define CD_MAP_TOMBSTONE (&tombstone)

static unsigned long hash_key(const char *k, size_t n)
{
    unsigned long h = 1469598103934665603UL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211UL;
    }
    return h;
}

void cd_map_init(struct cd_map *m)
{
    memset(m, 0, sizeof(*m));
}

void cd_map_cleanup(struct cd_map *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].key && m->slots[i].key != CD_MAP_TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    cd_map_init(m);
}

static struct cd_map_slot *find(const struct cd_map *m, const char *k, size_t n, unsigned long h)
{
    if (!m->nslots)
        return NULL;
    size_t mask = m->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct cd_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != CD_MAP_TOMBSTONE && s->hash == h && s->klen == n && !memcmp(s->key, k, n))
            return s;
    }
}

static int grow(struct cd_map *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 16;
    if (m->count * 2 < m->nslots)
        n = m->nslots; /* mostly tombstones: rehash in place size */
    struct cd_map_slot *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return CD_ENOMEM;
    for (size_t i = 0; i < m->nslots; i++) {
        struct cd_map_slot *s = &m->slots[i];
        if (!s->key || s->key == CD_MAP_TOMBSTONE)
            continue;
        size_t j = s->hash & (n - 1);
        while (slots[j].key)
            j = (j + 1) & (n - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    m->used = m->count;
    return CD_OK;
}

void *cd_map_get(const struct cd_map *m, const char *key, size_t klen)
{
    struct cd_map_slot *s = find(m, key, klen, hash_key(key, klen));
    return s ? s->value : NULL;
}

int cd_map_put(struct cd_map *m, const char *key, size_t klen, void *value)
{
    unsigned long h = hash_key(key, klen);
    struct cd_map_slot *s = find(m, key, klen, h);
    if (s) {
        s->value = value;
        return CD_OK;
    }
    if ((m->used + 1) * 4 > m->nslots * 3) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    char *k = malloc(klen + 1);
    if (!k)
        return CD_ENOMEM;
    memcpy(k, key, klen);
    k[klen] = '\0';
    size_t mask = m->nslots - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != CD_MAP_TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (struct cd_map_slot){k, klen, h, value};
    m->count++;
    return CD_OK;
}

void *cd_map_del(struct cd_map *m, const char *key, size_t klen)
{
    struct cd_map_slot *s = find(m, key, klen, hash_key(key, klen));
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = CD_MAP_TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}
