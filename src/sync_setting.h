/*-------------------------------------------------------------------------
 *
 * sync_setting.h
 *	  The synchronous standbys the DBA chose (pgrepl_admin.synchronous_setting)
 *	  and the one path by which they reach synchronous_standby_names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNC_SETTING_H
#define PGREPL_SYNC_SETTING_H

#include "nodes/pg_list.h"

typedef struct SyncSetting
{
	bool		all;			/* standbys NULL: every registered standby */
	List	   *standbys;		/* the names, in priority order, unless all */
	int			num;			/* how many must confirm; 0 is off */
	const char *method;			/* "any" (quorum) or "first" (priority) */
} SyncSetting;

extern void sync_setting_lock(void);
extern bool sync_setting_read(SyncSetting *s);
extern List *sync_setting_members(const SyncSetting *s);
extern char *sync_setting_store(const SyncSetting *s);
extern char *sync_setting_store_noted(const SyncSetting *s, const char *note);
extern const char *sync_setting_standby_added(const char *name, bool synchronous);
extern void sync_setting_forget_pending(const char *name);
extern void sync_setting_add_pending(const char *name);
extern void sync_setting_standby_removed(const char *name);

#endif							/* PGREPL_SYNC_SETTING_H */
