/*
 * map.h: a string-keyed hash map (open addressing, linear probing, tombstones).
 * Keys are copied into the map; values are borrowed pointers the caller owns.
 * Capacity is bounded only by memory; lookups are O(1) expected. Not thread-safe.
 */
#ifndef CD_UTIL_MAP_H
#define CD_UTIL_MAP_H

#include <stddef.h>

struct cd_map_slot {
    char *key; /* NULL: empty; CD_MAP_TOMBSTONE: deleted */
    size_t klen;
    unsigned long hash;
    void *value;
};

struct cd_map {
    struct cd_map_slot *slots;
    size_t nslots; /* power of two or 0 */
    size_t count;  /* live entries */
    size_t used;   /* live + tombstones */
};

void cd_map_init(struct cd_map *m);
/* Free the keys and slots; values are the caller's. */
void cd_map_cleanup(struct cd_map *m);
/* Borrowed value for key[0..klen), or NULL. */
void *cd_map_get(const struct cd_map *m, const char *key, size_t klen);
/* Insert or replace. Returns 0 or CD_ENOMEM (map unchanged). */
int cd_map_put(struct cd_map *m, const char *key, size_t klen, void *value);
/* Remove; returns the value that was stored or NULL. */
void *cd_map_del(struct cd_map *m, const char *key, size_t klen);

#endif
