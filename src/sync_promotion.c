/*-------------------------------------------------------------------------
 *
 * sync_promotion.c
 *	  The sync_promotion maintenance task: a standby runs with no
 *	  synchronous standby, and a promoted standby starts from the stored
 *	  synchronous setting, less itself and less the names that are not
 *	  registered standbys.
 *
 * A standby's postgresql.auto.conf is a copy of its primary's: a base
 * backup taken while the primary stored ANY 1 (db1) gives db1 the value
 * ANY 1 (db1), and after db1's promotion every commit would wait for db1,
 * that is for itself.  Commits may start the moment recovery ends, before
 * any worker could react, so the value must be harmless by then:
 *
 *	- on a standby synchronous_standby_names is always '' (it means
 *	  nothing there: a standby's commits never wait).  pgrepl_clone_standby
 *	  writes '' into the clone's postgresql.auto.conf; the worker, on a
 *	  standby, polls the value every TASK_POLL_MS and writes '' with ALTER
 *	  SYSTEM and reloads whenever it finds another one (a base backup made
 *	  otherwise, a hand edit), and leaves the marker PGDATA/pgrepl_admin/
 *	  promotion_pending;
 *	- when the worker sees the server promoted (run_at_promotion, before
 *	  any other task), or at its first run on a primary that has the marker
 *	  (a crash just after the promotion) or that was promoted before its
 *	  worker ever ran, so without a marker (names_itself()), it takes the
 *	  stored members,
 *	  less this server's own name and less the names that are not in
 *	  pgrepl_admin.standbys, and keeps them as pending standbys
 *	  (synchronous_setting.pending): no standby can stream from the new
 *	  primary yet (the others still follow the old one), and naming one
 *	  would make every commit wait until it does, for ever if it never
 *	  comes.  '' is put in force through sync_setting_store(), the path of
 *	  set_synchronous(), with a note saying what was left out, what is
 *	  pending and why (check() shows it); the sync_pending task then names
 *	  each kept standby as it streams from this server and has caught up
 *	  (the first as ANY 1, the next ones added to the list: num and method
 *	  are the DBA's to choose again with set_synchronous()).  A WARNING is
 *	  logged when something was left out, a LOG line otherwise.  The marker
 *	  goes at commit.
 *
 * Between the end of recovery and the worker's write commits wait for no
 * standby ('' is in force on a standby).  The worker may be busy with
 * another task first (a certificate renewal, a lock): the write has no
 * time bound, but nothing waits for it but the fallback.  The fallback
 * worker waits (sync_promotion_pending()) until the first run on a primary
 * has committed, on a server that was a standby (the marker, or
 * primary_conninfo still set): before it, the stored setting may name this
 * server, and a fallback marker copied from the old primary would put it
 * in force.  A marker the promotion's commit could not remove does not
 * hold the fallback up; the task removes it on a later run.
 *
 * This server's own name is the name it streamed under as a standby, as
 * the walreceiver picks it: application_name in primary_conninfo, else
 * cluster_name (sync_own_name()).  primary_conninfo stays set after a
 * promotion until the DBA resets it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "durable_file.h"
#include "server_config.h"
#include "shmem.h"
#include "spi_query.h"
#include "sync_promotion.h"
#include "sync_setting.h"

#define SSN "synchronous_standby_names"
#define MARKER_DIR "pgrepl_admin"
#define MARKER_PATH MARKER_DIR "/promotion_pending"

/* the value this worker last cleared on a standby, to clear it once */
static char *cleared = NULL;

/*
 * whether this worker wrote the marker, whether it looked for one on a
 * primary, whether its transaction is that first look (it is published
 * at commit), whether the commit removes the marker, and whether a marker
 * that commit could not remove is still there
 */
static bool marker_written = false;
static bool primary_checked = false;
static bool checking_primary = false;
static bool remove_marker_at_commit = false;
static bool marker_stale = false;
static bool callback_registered = false;

/*
 * conninfo_value
 *		The value of keyword in a libpq connection string, key = value
 *		pairs (values quoted with ' and \ escapes) or a postgresql:// URI
 *		(its query parameters, %-decoded); NULL when absent.  Malformed
 *		input gives NULL: this is for reading our own settings, not for
 *		checking them (libpq does that).
 */
static char *
conninfo_value(const char *conninfo, const char *keyword)
{
	const char *p = conninfo;
	char	   *found = NULL;

	if (strncmp(p, "postgresql://", 13) == 0 || strncmp(p, "postgres://", 11) == 0)
	{
		const char *q = strchr(p, '?');

		while (q != NULL && *q != '\0')
		{
			const char *key = ++q;
			const char *eq = strchr(key, '=');
			const char *end = strchr(key, '&');
			StringInfoData val;

			if (end == NULL)
				end = key + strlen(key);
			q = *end ? end : NULL;
			if (eq == NULL || eq > end)
				continue;
			if ((size_t) (eq - key) != strlen(keyword) || strncmp(key, keyword, eq - key) != 0)
				continue;
			initStringInfo(&val);
			for (const char *c = eq + 1; c < end; c++)
			{
				if (*c == '%' && c + 2 < end && isxdigit((unsigned char) c[1]) &&
					isxdigit((unsigned char) c[2]))
				{
					char		hex[3] = {c[1], c[2], '\0'};

					appendStringInfoChar(&val, (char) strtol(hex, NULL, 16));
					c += 2;
				}
				else
					appendStringInfoChar(&val, *c);
			}
			found = val.data;
		}
		return found;
	}

	for (;;)
	{
		const char *key;
		size_t		keylen;
		StringInfoData val;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			return found;
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char) *p))
			p++;
		keylen = p - key;
		while (isspace((unsigned char) *p))
			p++;
		if (*p != '=')
			return NULL;
		p++;
		while (isspace((unsigned char) *p))
			p++;
		initStringInfo(&val);
		if (*p == '\'')
		{
			p++;
			while (*p && *p != '\'')
			{
				if (*p == '\\' && p[1])
					p++;
				appendStringInfoChar(&val, *p++);
			}
			if (*p != '\'')
				return NULL;
			p++;
		}
		else
		{
			while (*p && !isspace((unsigned char) *p))
			{
				if (*p == '\\' && p[1])
					p++;
				appendStringInfoChar(&val, *p++);
			}
		}
		/* the last occurrence wins, as in libpq */
		if (keylen == strlen(keyword) && strncmp(key, keyword, keylen) == 0)
			found = val.data;
	}
}

/*
 * sync_own_name
 *		The name this server streams (or streamed, before its promotion)
 *		under as a standby: application_name in primary_conninfo, else
 *		cluster_name, as the walreceiver chooses; NULL when it has none
 *		(no primary_conninfo: a server that never was a standby here).
 */
char *
sync_own_name(void)
{
	const char *conninfo = GetConfigOption("primary_conninfo", true, false);
	const char *cluster = GetConfigOption("cluster_name", true, false);
	char	   *name;

	if (conninfo == NULL || conninfo[0] == '\0')
		return NULL;
	name = conninfo_value(conninfo, "application_name");
	if (name != NULL && name[0] != '\0')
		return name;
	if (cluster != NULL && cluster[0] != '\0')
		return pstrdup(cluster);
	return NULL;
}

/*
 * sync_promotion_xact_callback
 *		At the commit of the first look on a primary: remove the marker when
 *		the promotion's setting was computed, and tell the fallback worker
 *		that it may run.  At an abort the next run looks again.
 */
static void
sync_promotion_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT)
		return;
	if (event == XACT_EVENT_COMMIT && checking_primary)
	{
		/*
		 * WARNING, not ERROR: the commit is done.  The task removes it on a
		 * later run (a restart before that would compute the setting again).
		 */
		if (remove_marker_at_commit && durable_unlink(MARKER_PATH, WARNING) != 0)
			marker_stale = true;
		LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
		pgrepl_shared->promotion_checked = true;
		LWLockRelease(pgrepl_shared->lock);
	}
	if (event == XACT_EVENT_ABORT && checking_primary)
		primary_checked = false;
	checking_primary = false;
	remove_marker_at_commit = false;
}

/*
 * promoted
 *		The stored setting less this server and less the names that are not
 *		registered standbys, as pending standbys, and '' in force (see the
 *		file's header).
 */
static void
promoted(bool has_marker)
{
	SyncSetting s;
	SyncSetting off;
	List	   *members;
	List	   *kept = NIL;
	char	   *own = sync_own_name();
	StringInfoData self;
	StringInfoData unregistered;
	StringInfoData pending;
	StringInfoData note;
	ListCell   *lc;
	char	   *before;

	remove_marker_at_commit = has_marker;

	sync_setting_lock();
	/* a pending name copied from the old primary may be this server's own */
	if (own != NULL)
		sync_setting_forget_pending(own);
	if (!sync_setting_read(&s) || s.num == 0)
	{
		ereport(LOG,
				(errmsg("pgrepl_admin: server promoted; the stored synchronous setting names no standby, synchronous_standby_names stays '%s'",
						GetConfigOption(SSN, false, false))));
		return;
	}
	if (!pgrepl_alter_system_allowed())
	{
		ereport(WARNING,
				(errmsg("pgrepl_admin cannot put the stored synchronous setting in force at promotion: allow_alter_system is off"),
				 errdetail("synchronous_standby_names stays '%s'.", GetConfigOption(SSN, false, false)),
				 errhint("Set synchronous_standby_names in postgresql.conf yourself, without this server's own name, or turn allow_alter_system on and call pgrepl_admin.set_synchronous().")));
		return;
	}
	before = pstrdup(pgrepl_query_row("SELECT value FROM pgrepl_admin.synchronous_setting", 0, NULL)[0]);

	initStringInfo(&self);
	initStringInfo(&unregistered);
	initStringInfo(&pending);
	if (s.all)
	{
		char	  **row = pgrepl_query_row("SELECT pg_catalog.string_agg(name, ',' ORDER BY name) FROM pgrepl_admin.standbys",
										   0, NULL);

		members = NIL;
		if (row[0] != NULL && !SplitIdentifierString(pstrdup(row[0]), ',', &members))
			elog(ERROR, "unexpected standby list \"%s\"", row[0]);
	}
	else
		members = s.standbys;
	foreach(lc, members)
	{
		const char *name = lfirst(lc);
		const char *argv[1] = {name};

		if (own != NULL && pg_strcasecmp(name, own) == 0)
			appendStringInfo(&self, "%s%s", self.len ? ", " : "", name);
		else if (!s.all &&
				 pgrepl_query_row("SELECT 1 FROM pgrepl_admin.standbys "
								  "WHERE pg_catalog.lower(name) OPERATOR(pg_catalog.=) pg_catalog.lower($1)",
								  1, argv) == NULL)
			appendStringInfo(&unregistered, "%s%s", unregistered.len ? ", " : "", name);
		else
		{
			kept = lappend(kept, pstrdup(name));
			appendStringInfo(&pending, "%s%s", pending.len ? ", " : "", name);
		}
	}

	initStringInfo(&note);
	appendStringInfo(&note, "set at promotion from the stored '%s'", before);
	if (self.len)
		appendStringInfo(&note, "; left out %s: %s is this server itself", self.data, self.data);
	if (unregistered.len)
		appendStringInfo(&note, "; left out %s: not a registered standby", unregistered.data);
	if (pending.len)
		appendStringInfo(&note, "; %s pending: no standby streams from this server yet, each becomes a synchronous standby (ANY 1, then added to the list) once it streams from it and has caught up",
						 pending.data);

	/*
	 * Nothing streams from this server yet: '' in force, the members kept as
	 * pending for sync_pending to name one by one as they stream.
	 */
	memset(&off, 0, sizeof(off));
	off.method = "any";
	(void) sync_setting_store_noted(&off, note.data);
	foreach(lc, kept)
		sync_setting_add_pending(lfirst(lc));

	if (self.len || unregistered.len)
		ereport(WARNING,
				(errmsg("pgrepl_admin: synchronous_standby_names set to '' at promotion"),
				 errdetail("The setting was %s.", note.data),
				 errhint("Choose the new primary's synchronous standbys with pgrepl_admin.set_synchronous() once they stream from it.")));
	else
		ereport(LOG,
				(errmsg("pgrepl_admin: synchronous_standby_names set to '' at promotion"),
				 errdetail("The setting was %s.", note.data)));
}

/*
 * keep_empty
 *		On a standby: synchronous_standby_names '' in postgresql.auto.conf,
 *		and the marker that a promotion must compute it.
 */
static void
keep_empty(void)
{
	const char *in_force = GetConfigOption(SSN, false, false);

	if (!marker_written)
	{
		durable_file_make_dir(MARKER_DIR);
		durable_file_write(MARKER_PATH, "", 0, S_IRUSR | S_IWUSR);
		marker_written = true;
	}
	if (in_force[0] == '\0' || (cleared != NULL && strcmp(cleared, in_force) == 0))
		return;
	if (cleared != NULL)
		pfree(cleared);
	cleared = MemoryContextStrdup(TopMemoryContext, in_force);
	if (!pgrepl_alter_system_allowed())
	{
		ereport(WARNING,
				(errmsg("pgrepl_admin cannot clear synchronous_standby_names '%s' on this standby: allow_alter_system is off",
						in_force),
				 errdetail("If this standby is promoted, its commits wait for the standbys that value names, itself included, until it is changed."),
				 errhint("Set synchronous_standby_names = '' in this standby's configuration, or turn allow_alter_system on.")));
		return;
	}
	pgrepl_alter_system_set(SSN, "");
	pgrepl_reload_server_config();
	ereport(LOG,
			(errmsg("pgrepl_admin set synchronous_standby_names to '' on this standby (it was '%s')", in_force),
			 errdetail("A standby runs with no synchronous standby; at its promotion the stored synchronous setting is put in force, without this server's own name.")));
}

/*
 * sync_promotion_pending
 *		Whether the fallback worker must wait for sync_promotion's first run
 *		on this primary to commit: on a server that was a standby (the
 *		marker is there, or primary_conninfo is still set) until it has.
 */
bool
sync_promotion_pending(void)
{
	struct stat st;
	bool		checked;

	LWLockAcquire(pgrepl_shared->lock, LW_SHARED);
	checked = pgrepl_shared->promotion_checked;
	LWLockRelease(pgrepl_shared->lock);
	if (checked)
		return false;
	return stat(MARKER_PATH, &st) == 0 || sync_own_name() != NULL;
}

static int
sync_promotion_interval(void)
{
	return 1;
}

/*
 * names_itself
 *		On a primary without the marker: whether it is a standby promoted
 *		before its worker ever ran (a base backup promoted at once, a
 *		library loaded only after the promotion) that kept the value its
 *		primary put in force, naming this server itself.  All of:
 *		  - it has a name as a standby (primary_conninfo is still set);
 *		  - the value in force is the stored setting (set_synchronous's, not
 *		    the DBA's own) and names it;
 *		  - no standby streams from it under that name (a primary whose
 *		    cluster_name is also the name of one of its standbys waits for
 *		    that standby, rightly).
 *		Every commit then waits for a standby that can never confirm.
 */
static bool
names_itself(void)
{
	char	   *own = sync_own_name();
	const char *argv[1];
	char	  **row;

	if (own == NULL)
		return false;
	argv[0] = own;
	row = pgrepl_query_row("SELECT EXISTS (SELECT 1 FROM pgrepl_admin.synchronous_members() m "
						   "  WHERE pg_catalog.lower(m.standby_name) OPERATOR(pg_catalog.=) pg_catalog.lower($1)) "
						   "AND EXISTS (SELECT 1 FROM pgrepl_admin.synchronous_setting s "
						   "  WHERE s.value OPERATOR(pg_catalog.=) pg_catalog.current_setting('" SSN "')) "
						   "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_replication r "
						   "  WHERE pg_catalog.lower(r.application_name) OPERATOR(pg_catalog.=) pg_catalog.lower($1))",
						   1, argv);
	return row != NULL && row[0] != NULL && strcmp(row[0], "t") == 0;
}

/*
 * sync_promotion_run
 *		On a standby keep the setting empty; on a primary just promoted,
 *		with the marker left by a crash just after a promotion, or promoted
 *		before its worker ever ran (names_itself()), compute it.
 */
static void
sync_promotion_run(void)
{
	if (RecoveryInProgress())
	{
		keep_empty();
		return;
	}
	if (!callback_registered)
	{
		RegisterXactCallback(sync_promotion_xact_callback, NULL);
		callback_registered = true;
	}
	/* the marker appears only in recovery: on a primary, look once */
	if (marker_written || !primary_checked)
	{
		bool		has_marker = marker_written ||
			durable_file_read(MARKER_PATH, NULL, true) != NULL;

		checking_primary = true;
		if (has_marker || names_itself())
			promoted(has_marker);
		marker_written = false;
	}
	else if (marker_stale)
	{
		struct stat st;

		/* the WARNING at the commit said it could not; once is enough */
		if (stat(MARKER_PATH, &st) != 0 && errno == ENOENT)
			marker_stale = false;
		else if (durable_unlink(MARKER_PATH, DEBUG1) == 0)
		{
			marker_stale = false;
			ereport(LOG,
					(errmsg("pgrepl_admin removed the marker of this server's promotion, \"%s\"", MARKER_PATH)));
		}
	}
	primary_checked = true;
}

/* On a standby: whether a value other than '' is in force (no database). */
static bool
sync_promotion_poll(void)
{
	const char *in_force = GetConfigOption(SSN, false, false);

	if (!marker_written)
		return true;
	return in_force[0] != '\0' && (cleared == NULL || strcmp(cleared, in_force) != 0);
}

const MaintenanceTask sync_promotion_task = {
	.name = "sync_promotion",
	.description = "On a standby keeps synchronous_standby_names empty; at promotion puts in force the stored synchronous setting less this server itself and less the names that are not registered standbys.",
	.runs_in_recovery = true,
	.interval_seconds = sync_promotion_interval,
	.run = sync_promotion_run,
	.poll = sync_promotion_poll,
	.follow = sync_promotion_run,
	.run_at_promotion = true,
};

/*
 * synchronous_self
 *		SQL: this server's own name as a standby (sync_own_name()), or NULL.
 */
PG_FUNCTION_INFO_V1(synchronous_self);
Datum
synchronous_self(PG_FUNCTION_ARGS)
{
	char	   *name = sync_own_name();

	if (name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}
