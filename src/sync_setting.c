/*-------------------------------------------------------------------------
 *
 * sync_setting.c
 *	  pgrepl_admin.synchronous_setting, the DBA's choice of synchronous
 *	  standbys, and the one path by which it reaches
 *	  synchronous_standby_names.
 *
 * The table holds one row: the standbys named (NULL for every registered
 * standby, those added later included), how many must confirm a commit,
 * the method and the value of synchronous_standby_names it renders to.
 * set_synchronous(), add_standby(synchronous => true) and remove_standby()
 * change it; each takes SHARE ROW EXCLUSIVE on it, held to the end of the
 * transaction, so that changes are serialised and none is lost.
 *
 * Like pg_hba.conf, the server's setting follows the table at commit:
 *
 *	- at PRE_COMMIT, while the transaction can still fail cleanly, the
 *	  stored value is read with the latest snapshot and written to
 *	  postgresql.auto.conf with ALTER SYSTEM's machinery (which checks it
 *	  again); the file's synchronous_standby_names line before it is kept;
 *	- at COMMIT the postmaster is signalled to reload;
 *	- at ABORT after that write (a later pre-commit step or a serialization
 *	  failure at commit) the synchronous_standby_names line the file had
 *	  before is put back, durably, and the postmaster is signalled to
 *	  reload: a reload in between (another session's pg_reload_conf(), the
 *	  fallback worker's) may have put the uncommitted value in force; only
 *	  that line:
 *	  an ALTER SYSTEM of another setting made by another session in
 *	  between stays, and a synchronous_standby_names written since by
 *	  someone else (the file's line is no longer ours) is left alone.  A
 *	  transaction that rolls back earlier never writes at all;
 *	- the pending write belongs to the subtransaction that asked for it:
 *	  rolled back to a savepoint taken before the call, it is forgotten
 *	  (unless a call outside that savepoint asked too).
 *
 * A crash between the write and the commit record leaves the file with a
 * value the table does not hold; the next set_synchronous() (or the same
 * call again) brings them back in step.
 *
 * A transaction that changes the setting does not itself wait for
 * synchronous standbys (synchronous_commit is lowered to local for it,
 * unless it is off already): set_synchronous(num => 0) must be able to
 * release a primary whose commits hang for a standby that is gone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/file_perm.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "cstring_list.h"
#include "durable_file.h"
#include "server_config.h"
#include "spi_query.h"
#include "sync_promotion.h"
#include "sync_setting.h"
#include "syncrep_text.h"

#define SYNC_GUC "synchronous_standby_names"

/* state of the current transaction's pending write */
static bool write_pending = false;
static bool written = false;
static SubTransactionId pending_subid = InvalidSubTransactionId;	/* who asked */
static char *old_line = NULL;	/* the file's synchronous_standby_names line
								 * before the write, NULL: none */
static char *new_line = NULL;	/* ... and after it */
static Oid	write_user = InvalidOid;	/* who asked, for ALTER SYSTEM's check */
static int	write_sec_context = 0;
static bool callback_registered = false;

/*
 * sync_setting_lock
 *		Serialise the changes of the setting until the end of the
 *		transaction.
 */
void
sync_setting_lock(void)
{
	(void) pgrepl_query_exec("LOCK TABLE pgrepl_admin.synchronous_setting IN SHARE ROW EXCLUSIVE MODE", 0, NULL);
}

/* A comma-separated list of names (standby names have no comma) as a List. */
static List *
split_names(const char *text)
{
	List	   *names = NIL;

	if (text == NULL || text[0] == '\0')
		return NIL;
	if (!SplitIdentifierString(pstrdup(text), ',', &names))
		elog(ERROR, "unexpected standby list \"%s\"", text);
	return names;
}

/* The names of a List joined with commas. */
static char *
join_names(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? "," : "", (char *) lfirst(lc));
	return buf.data;
}

/*
 * sync_setting_read
 *		The stored setting into *s; false (and *s off) when there is none.
 */
bool
sync_setting_read(SyncSetting *s)
{
	char	  **row = pgrepl_query_row("SELECT (standbys IS NULL)::text, pg_catalog.array_to_string(standbys, ','), "
									   "num::text, method FROM pgrepl_admin.synchronous_setting",
									   0, NULL);

	memset(s, 0, sizeof(SyncSetting));
	s->method = "any";
	if (row == NULL)
		return false;
	s->all = strcmp(row[0], "true") == 0;
	s->standbys = s->all ? NIL : split_names(row[1]);
	s->num = pg_strtoint32(row[2]);
	s->method = row[3];
	return true;
}

/*
 * sync_setting_members
 *		The standbys the setting names, in priority order: its list, or
 *		every registered standby by name.
 */
List *
sync_setting_members(const SyncSetting *s)
{
	char	  **row;
	char	   *own;
	const char *argv[1];

	if (!s->all)
		return s->standbys;
	/* never this server itself, still registered after its promotion */
	own = sync_own_name();
	argv[0] = own ? own : "";
	row = pgrepl_query_row("SELECT pg_catalog.string_agg(name, ',' ORDER BY name) FROM pgrepl_admin.standbys "
						   "WHERE pg_catalog.lower(name) OPERATOR(pg_catalog.<>) pg_catalog.lower($1)",
						   1, argv);
	return split_names(row[0]);
}

/*
 * ssn_line
 *		The last synchronous_standby_names line of postgresql.auto.conf
 *		text (the one in force), as a palloc'd string without its newline,
 *		or NULL.  ALTER SYSTEM writes "name = 'value'" lines; a line edited
 *		by hand is matched by its name too.
 */
static char *
ssn_line(const char *text, const char **start, const char **end)
{
	const char *p = text;
	char	   *found = NULL;

	while (p != NULL && *p != '\0')
	{
		const char *eol = strchr(p, '\n');
		const char *q = p;
		size_t		len = eol ? (size_t) (eol - p) : strlen(p);

		while (*q == ' ' || *q == '\t')
			q++;
		if (pg_strncasecmp(q, SYNC_GUC, strlen(SYNC_GUC)) == 0 &&
			(q[strlen(SYNC_GUC)] == ' ' || q[strlen(SYNC_GUC)] == '\t' || q[strlen(SYNC_GUC)] == '='))
		{
			found = pnstrdup(p, len);
			if (start)
				*start = p;
			if (end)
				*end = eol ? eol + 1 : p + len;
		}
		p = eol ? eol + 1 : NULL;
	}
	return found;
}

/*
 * read_ssn_line
 *		The synchronous_standby_names line of postgresql.auto.conf now, in
 *		TopTransactionContext.  The caller holds AutoFileLock.
 */
static char *
read_ssn_line(void)
{
	char	   *text = durable_file_read(PG_AUTOCONF_FILENAME, NULL, true);
	char	   *line = text ? ssn_line(text, NULL, NULL) : NULL;

	return line ? MemoryContextStrdup(TopTransactionContext, line) : NULL;
}

/*
 * put_back_line
 *		At ABORT: postgresql.auto.conf with its synchronous_standby_names
 *		line as it was before this transaction's write, every other line as
 *		it is now.  Nothing is done when the line is no longer the one this
 *		transaction wrote.  The caller holds AutoFileLock exclusively.
 *		Returns whether the line was put back.
 */
static bool
put_back_line(void)
{
	size_t		len;
	char	   *text = durable_file_read(PG_AUTOCONF_FILENAME, &len, true);
	const char *start = NULL;
	const char *end = NULL;
	char	   *now = text ? ssn_line(text, &start, &end) : NULL;
	StringInfoData buf;

	if (now == NULL || new_line == NULL || strcmp(now, new_line) != 0)
		return false;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, text, start - text);
	if (old_line != NULL)
		appendStringInfo(&buf, "%s\n", old_line);
	appendStringInfoString(&buf, end);
	durable_file_write(PG_AUTOCONF_FILENAME, buf.data, buf.len, pg_file_create_mode);
	return true;
}

/*
 * sync_xact_callback
 *		Write at PRE_COMMIT, reload at COMMIT, put the file back at ABORT
 *		(see the file's header).
 */
static void
sync_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (write_pending && !written)
			{
				char	  **row;
				Oid			user;
				int			sec;
				MemoryContext old;

				CommandCounterIncrement();
				PushActiveSnapshot(GetLatestSnapshot());
				row = pgrepl_query_row("SELECT value FROM pgrepl_admin.synchronous_setting", 0, NULL);
				PopActiveSnapshot();
				if (row == NULL)
				{
					write_pending = false;
					break;
				}
				old = MemoryContextSwitchTo(TopTransactionContext);
				LWLockAcquire(AutoFileLock, LW_SHARED);
				old_line = read_ssn_line();
				LWLockRelease(AutoFileLock);
				MemoryContextSwitchTo(old);
				GetUserIdAndSecContext(&user, &sec);
				SetUserIdAndSecContext(write_user, write_sec_context);
				written = true;
				pgrepl_alter_system_set(SYNC_GUC, row[0]);
				SetUserIdAndSecContext(user, sec);
				LWLockAcquire(AutoFileLock, LW_SHARED);
				new_line = read_ssn_line();
				LWLockRelease(AutoFileLock);
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (write_pending)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed the synchronous standbys")));
			break;
		case XACT_EVENT_COMMIT:
			if (written)
				pgrepl_signal_reload(LOG);
			write_pending = written = false;
			old_line = new_line = NULL;
			break;
		case XACT_EVENT_ABORT:
			if (written)
			{
				MemoryContext cxt = CurrentMemoryContext;
				bool		put_back = false;

				PG_TRY();
				{
					LWLockAcquire(AutoFileLock, LW_EXCLUSIVE);
					put_back = put_back_line();
					LWLockRelease(AutoFileLock);
					/* what a reload meanwhile loaded did not commit */
					if (put_back)
						pgrepl_signal_reload(LOG);
				}
				PG_CATCH();
				{
					ErrorData  *edata;

					MemoryContextSwitchTo(cxt);
					edata = CopyErrorData();
					FlushErrorState();
					LWLockReleaseAll();
					ereport(LOG,
							(errcode(edata->sqlerrcode),
							 errmsg("could not put back postgresql.auto.conf after a failed commit: %s", edata->message),
							 errhint("It holds the synchronous_standby_names of a transaction that did not commit; run pgrepl_admin.set_synchronous() again.")));
					FreeErrorData(edata);
				}
				PG_END_TRY();
			}
			write_pending = written = false;
			old_line = new_line = NULL;
			break;
		default:
			break;
	}
}

/*
 * sync_subxact_callback
 *		The pending write follows the subtransaction that asked for it: up
 *		to the parent at its commit, forgotten at its abort.
 */
static void
sync_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (!write_pending || written || mySubid != pending_subid)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
		pending_subid = parentSubid;
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		write_pending = false;
		pending_subid = InvalidSubTransactionId;
	}
}

/*
 * require_right_to_write
 *		Refuse now, not at commit, what ALTER SYSTEM would refuse then: the
 *		value, the right to set it, a server that forbids ALTER SYSTEM.
 */
static void
require_right_to_write(const char *value)
{
	pgrepl_require_alter_system("changing the synchronous standbys",
								"Set synchronous_standby_names in postgresql.conf yourself (set_synchronous(apply => false) shows the value), or turn allow_alter_system on.");
	if (pg_parameter_aclcheck(SYNC_GUC, GetUserId(), ACL_ALTER_SYSTEM) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set parameter \"%s\"", SYNC_GUC),
				 errdetail("The synchronous standbys are written with ALTER SYSTEM."),
				 errhint("Run it as a superuser, or GRANT ALTER SYSTEM ON PARAMETER synchronous_standby_names.")));
	(void) set_config_option(SYNC_GUC, value, PGC_SIGHUP, PGC_S_FILE, GUC_ACTION_SET, false, ERROR, false);
}

/*
 * sync_setting_store
 *		Store s (the row changes only when something differs) and have
 *		synchronous_standby_names written from it at commit; returns the
 *		value.  The caller holds the lock and checked s.
 */
char *
sync_setting_store(const SyncSetting *s)
{
	return sync_setting_store_noted(s, NULL);
}

/*
 * sync_setting_store_noted
 *		The same, with a note on how the setting came to be (NULL: the
 *		DBA's choice), which check() shows until the next change.
 */
char *
sync_setting_store_noted(const SyncSetting *s, const char *note)
{
	char	   *value = syncrep_render(s->method, s->num, sync_setting_members(s));
	const char *argv[5];
	const char *commit_level = GetConfigOption("synchronous_commit", false, false);

	require_right_to_write(value);
	argv[0] = s->all ? NULL : join_names(s->standbys);
	argv[1] = psprintf("%d", s->num);
	argv[2] = s->method;
	argv[3] = value;
	argv[4] = note;
	(void) pgrepl_query_exec("INSERT INTO pgrepl_admin.synchronous_setting AS s (standbys, num, method, value, note) "
							 "VALUES (pg_catalog.string_to_array($1, ','), $2::integer, $3, $4, $5) "
							 "ON CONFLICT (singleton) DO UPDATE "
							 "SET standbys = excluded.standbys, num = excluded.num, method = excluded.method, "
							 "    value = excluded.value, note = excluded.note, set_at = excluded.set_at "
							 "WHERE pg_catalog.to_jsonb(ROW(s.standbys, s.num, s.method, s.value, s.note))::text "
							 "      OPERATOR(pg_catalog.<>) "
							 "      pg_catalog.to_jsonb(ROW(excluded.standbys, excluded.num, excluded.method, excluded.value, excluded.note))::text",
							 5, argv);

	/* this transaction does not wait for the standbys it is changing */
	if (strcmp(commit_level, "off") != 0 && strcmp(commit_level, "local") != 0)
		(void) set_config_option("synchronous_commit", "local", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);

	if (!callback_registered)
	{
		RegisterXactCallback(sync_xact_callback, NULL);
		RegisterSubXactCallback(sync_subxact_callback, NULL);
		callback_registered = true;
	}
	/* the outermost subtransaction that asked; a later call is inside it */
	if (!write_pending)
		pending_subid = GetCurrentSubTransactionId();
	write_pending = true;
	GetUserIdAndSecContext(&write_user, &write_sec_context);
	return value;
}

/*
 * standby_streams
 *		Whether a walsender streams now under application_name name (as the
 *		server matches synchronous standbys: equal but for case).
 */
static bool
standby_streams(const char *name)
{
	const char *argv[1] = {name};

	return pgrepl_query_row("SELECT 1 FROM pg_catalog.pg_stat_replication "
							"WHERE pg_catalog.lower(application_name) OPERATOR(pg_catalog.=) pg_catalog.lower($1) "
							"  AND state OPERATOR(pg_catalog.=) 'streaming'",
							1, argv) != NULL;
}

/*
 * sync_setting_add_pending
 *		Remember name as a standby to make synchronous when it first
 *		streams (the sync_pending task does it); nothing else changes, and
 *		nothing is written.  Refused up front when ALTER SYSTEM is not
 *		allowed, as the task would then fail at every run.  The caller
 *		holds the lock.
 */
void
sync_setting_add_pending(const char *name)
{
	const char *argv[1] = {name};

	/* the worker could never name it: refuse now, not at every run then */
	pgrepl_require_alter_system("a synchronous standby deferred until it streams",
								"Add it with synchronous => false and name it in synchronous_standby_names in postgresql.conf yourself once it streams, or turn allow_alter_system on.");
	(void) pgrepl_query_exec("INSERT INTO pgrepl_admin.synchronous_setting AS s (standbys, num, method, value, pending) "
							 "VALUES ('{}', 0, 'any', '', ARRAY[$1]) "
							 "ON CONFLICT (singleton) DO UPDATE "
							 "SET pending = pg_catalog.array_append(COALESCE(s.pending, '{}'), $1) "
							 "WHERE NOT $1 OPERATOR(pg_catalog.=) ANY (COALESCE(s.pending, '{}'))",
							 1, argv);
}

/*
 * sync_setting_forget_pending
 *		name (NULL: every standby) is no longer waited for to become
 *		synchronous.
 */
void
sync_setting_forget_pending(const char *name)
{
	const char *argv[1] = {name};

	if (name == NULL)
		(void) pgrepl_query_exec("UPDATE pgrepl_admin.synchronous_setting SET pending = NULL WHERE pending IS NOT NULL",
								 0, NULL);
	else
		(void) pgrepl_query_exec("UPDATE pgrepl_admin.synchronous_setting "
								 "SET pending = CASE WHEN pg_catalog.cardinality(pg_catalog.array_remove(pending, $1)) "
								 "                        OPERATOR(pg_catalog.=) 0 THEN NULL "
								 "                   ELSE pg_catalog.array_remove(pending, $1) END "
								 "WHERE $1 OPERATOR(pg_catalog.=) ANY (pending)",
								 1, argv);
}

/*
 * sync_setting_standby_added
 *		add_standby() registered name (already in pgrepl_admin.standbys):
 *		with synchronous, the setting names it too (it becomes the one
 *		synchronous standby, ANY 1, when synchronous replication was off);
 *		a setting that names every standby names it anyway.
 *
 *		A standby that does not stream yet is not named now, whatever the
 *		caller asked: commits would wait for it, by surprise, until it
 *		streams (for ever when it never comes).  It is deferred instead
 *		(synchronous_setting.pending) and the worker names it when it
 *		first streams.  Returns what was done for synchronous: "named",
 *		"deferred" or "every standby" (the setting names them all).
 */
const char *
sync_setting_standby_added(const char *name, bool synchronous)
{
	SyncSetting s;
	bool		have;

	sync_setting_lock();
	have = sync_setting_read(&s);
	if (have && s.num > 0 && s.all)
	{
		if (!synchronous)
			ereport(NOTICE,
					(errmsg("standby \"%s\" is a synchronous standby", name),
					 errdetail("The synchronous setting names every registered standby.")));
		else
			sync_setting_forget_pending(name);
		(void) sync_setting_store(&s);
		return "every standby";
	}
	if (!synchronous)
		return NULL;
	if (have && s.num > 0 && cstring_listed(s.standbys, name))
	{
		sync_setting_forget_pending(name);
		return "named";
	}
	if (!standby_streams(name))
	{
		sync_setting_add_pending(name);
		ereport(NOTICE,
				(errmsg("standby \"%s\" becomes a synchronous standby when it first streams", name),
				 errdetail("It does not stream now: naming it at once would make commits wait for it until it does."),
				 errhint("pgrepl_admin.synchronous_status and check() show it as pending until then.")));
		return "deferred";
	}
	if (!have || s.num == 0)
	{
		s.all = false;
		s.standbys = list_make1(pstrdup(name));
		s.num = 1;
		s.method = "any";
	}
	else
		s.standbys = lappend(s.standbys, pstrdup(name));
	sync_setting_forget_pending(name);
	(void) sync_setting_store(&s);
	return "named";
}

/*
 * sync_setting_standby_removed
 *		remove_standby() deleted name from pgrepl_admin.standbys: the setting
 *		no longer names it.  Refused when fewer standbys than num would be
 *		left; the message says whether the value in force waits for the
 *		standby now (commits would wait for ever) or not (a fallback, a
 *		value set by hand: only the stored setting needs it).
 */
void
sync_setting_standby_removed(const char *name)
{
	SyncSetting s;
	List	   *left;

	sync_setting_lock();
	sync_setting_forget_pending(name);
	if (!sync_setting_read(&s) || (!s.all && !cstring_listed(s.standbys, name)))
		return;
	if (!s.all)
	{
		ListCell   *lc;

		foreach(lc, s.standbys)
		{
			if (strcmp(lfirst(lc), name) == 0)
			{
				s.standbys = foreach_delete_current(s.standbys, lc);
				break;
			}
		}
	}
	left = sync_setting_members(&s);
	if (s.num > list_length(left))
	{
		const char *argv[1] = {name};
		const char *in_force = GetConfigOption(SYNC_GUC, false, false);
		char	  **row = pgrepl_query_row("SELECT pg_catalog.bool_or(pg_catalog.lower(m.standby_name) OPERATOR(pg_catalog.=) pg_catalog.lower($1) "
										   "                         OR m.standby_name OPERATOR(pg_catalog.=) '*')::text "
										   "FROM pgrepl_admin.synchronous_members() m",
										   1, argv);
		char	  **stored = pgrepl_query_row("SELECT value FROM pgrepl_admin.synchronous_setting", 0, NULL);

		/* what really happens now: does the value in force wait for it? */
		if (row != NULL && row[0] != NULL && strcmp(row[0], "true") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("standby \"%s\" is needed by the synchronous setting", name),
					 errdetail("Commits wait for %d of the synchronous standbys; without \"%s\" %d would be left, and commits would wait for ever.",
							   s.num, name, list_length(left)),
					 errhint("Lower the number first with pgrepl_admin.set_synchronous(), or turn synchronous replication off with pgrepl_admin.set_synchronous(num => 0).")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("standby \"%s\" is needed by the stored synchronous setting", name),
				 errdetail("The stored setting '%s' asks for %d of its standbys; without \"%s\" %d would be left. The value in force is '%s': commits do not wait for \"%s\" now, but the stored setting cannot be kept without it.",
						   stored[0], s.num, name, list_length(left), in_force, name),
				 errhint("Choose the synchronous standbys first with pgrepl_admin.set_synchronous() (num => 0 turns synchronous replication off), then remove the standby.")));
	}
	(void) sync_setting_store(&s);
}
