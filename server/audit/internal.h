/*
 * internal.h: what audit/ shares with its own unit tests, not with the rest of collabd.
 * Same threading rules as seclog.h.
 */
#ifndef CD_AUDIT_INTERNAL_H
#define CD_AUDIT_INTERNAL_H

struct cd_seclog;

/* Tests only: while hold is 1 the writer thread takes nothing from the queue, so that a test
 * can fill the queue deterministically. cd_seclog_flush() waits forever while held;
 * cd_seclog_free() releases the hold itself. */
void cd_seclog_hold_writer(struct cd_seclog *l, int hold);

#endif
