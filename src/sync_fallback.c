/*-------------------------------------------------------------------------
 *
 * sync_fallback.c
 *	  The sync_fallback maintenance task: when the synchronous standbys the
 *	  stored setting asks for have been gone for
 *	  pgrepl_admin.synchronous_fallback_after, it lowers
 *	  synchronous_standby_names to those still streaming (at worst '', no
 *	  synchronous standby), and it puts the stored setting back once they
 *	  have returned and caught up.
 *
 * The DBA's choice is the row of pgrepl_admin.synchronous_setting written
 * by set_synchronous(): its value is what synchronous_standby_names should
 * be.  The task manages the setting only while that value is in force, or
 * its own lowering of it: a value set by hand is left alone.
 *
 * Each run parses the value it watches (the stored one, or the lowered one
 * during a fallback) with the server's own parser, counts the walsenders
 * streaming under a name it lists (matched as the server matches them: an
 * application_name equal but for case, or *), and:
 *
 *	- when fewer than its number stream, notes since when; once that has
 *	  lasted synchronous_fallback_after, writes the marker file, sets
 *	  synchronous_standby_names with ALTER SYSTEM to the stored setting's
 *	  members streaming (FIRST or ANY k (...) as stored, or '' when none
 *	  is; a second lowering too is computed from the stored members),
 *	  reloads, logs one WARNING and then records the named standbys in
 *	  lag_history;
 *	- during a fallback, once num of the stored setting's standbys stream
 *	  again, notes the primary's WAL insert position; once num of them have
 *	  flushed up to it (caught up), sets the stored value back, reloads,
 *	  records it in lag_history and logs it.
 *
 * Nothing here waits for a synchronous standby: ALTER SYSTEM writes a file,
 * the reload is a signal, and the worker commits with synchronous_commit =
 * off (worker.c).  Nothing on the way to a lowering waits for a lock on the
 * extension's tables either, whatever sessions hold (a TRUNCATE of
 * lag_history whose own commit waits in SyncRep, say): the task runs in a
 * worker of its own (own_worker), the stored setting is read only when
 * set_synchronous()'s lock can be had at once (else the value read last
 * serves), and the lag_history rows are written after the setting is in
 * force, with a short lock_timeout, kept for a later run while a lock
 * holds them up (read_stored(), flush_pending()).  What may wait does: the
 * stored value is put back only at a run that holds set_synchronous()'s
 * lock, and a stored value found changed under that lock during a
 * fallback is put in force, so that no set_synchronous() racing the task
 * is lost.  The task runs every tenth of synchronous_fallback_after
 * (at least every second, at most every 100 ms), so that the fallback comes
 * at most that much later than the delay asks; with the fallback off, every
 * second, to end a fallback that was in force and to show the state.
 *
 * A crash or restart during a fallback: postgresql.auto.conf holds the
 * lowered value, and the marker file PGDATA/pgrepl_admin/
 * synchronous_fallback, written before it, holds both the value written
 * and the value it replaced (after a crash between the two writes, the
 * replaced one is in force: a first lowering's stored value, or a second
 * lowering's first one).  The first run after the worker starts (or after
 * a promotion) finds the value in force named by the marker and, when it
 * is not the stored value, sets the stored value back: the delay starts
 * again from the stored setting.  The task writes, so it runs on a primary only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "mb/pg_wchar.h"
#include "replication/syncrep.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "durable_file.h"
#include "server_config.h"
#include "settings.h"
#include "shmem.h"
#include "spi_query.h"
#include "sync_fallback.h"
#include "sync_promotion.h"
#include "syncrep_text.h"

#define SSN "synchronous_standby_names"
#define MARKER_DIR "pgrepl_admin"
#define MARKER_PATH MARKER_DIR "/synchronous_fallback"

/* the task's tick: a tenth of the delay, within these bounds */
#define TICK_MIN_MS 100
#define TICK_MAX_MS 1000

#define EVENT_FALLBACK "synchronous-fallback"
#define EVENT_RESTORE "synchronous-restore"
#define ALTER_SYSTEM_HINT "Turn allow_alter_system on, or set pgrepl_admin.synchronous_fallback_after = 0 and manage synchronous_standby_names yourself."

/* how long recording an event in lag_history may wait for a lock */
#define RECORD_LOCK_TIMEOUT "50ms"

/* A value of synchronous_standby_names, parsed by the server's parser. */
typedef struct SyncValue
{
	int			num;			/* how many must confirm; 0 for '' */
	int			method;			/* SYNC_REP_PRIORITY or SYNC_REP_QUORUM */
	List	   *members;		/* names (char *), in the value's order */
} SyncValue;

/* An event not yet in lag_history; strings in TopMemoryContext. */
typedef struct PendingEvent
{
	char	   *stored;			/* the stored value: whose standbys */
	char	   *event;
	char	   *detail;
} PendingEvent;

/* A walsender streaming now. */
typedef struct Sender
{
	char	   *name;			/* its application_name */
	XLogRecPtr	flush;			/* what it has flushed */
} Sender;

/* What this worker knows of the fallback; strings in TopMemoryContext. */
static struct
{
	bool		started;		/* the first run (marker check) is done */
	bool		lowered;		/* a fallback is in force */
	char	   *stored;			/* during a fallback: the stored value */
	char	   *lowered_to;		/* during a fallback: the value in force */
	TimestampTz lowered_since;
	TimestampTz missing_since;	/* 0 when the watched value is met */
	XLogRecPtr	restore_lsn;	/* what the returning standbys must reach */
	char	   *written;		/* last value written, until the reload */
	char	   *written_over;	/* ... and the value it replaced */
	bool		have_stored;	/* the stored setting was read once */
	bool		stored_row;		/* ... and had a row */
	char	   *stored_value;	/* ... and its value ("" for num 0) */
	List	   *pending;		/* PendingEvent *, oldest first */
} fb;

static int
sync_fallback_interval_ms(void)
{
	if (pgrepl_synchronous_fallback_after <= 0)
		return TICK_MAX_MS;
	return Max(TICK_MIN_MS, Min(TICK_MAX_MS, pgrepl_synchronous_fallback_after / 10));
}

static char *
keep(const char *s)
{
	return MemoryContextStrdup(TopMemoryContext, s);
}

/*
 * parse_value
 *		Parse a value of synchronous_standby_names as the server does; an
 *		ERROR when it cannot be parsed.
 */
static SyncValue
parse_value(const char *value)
{
	SyncValue	result = {0};
	char	   *copy = pstrdup(value);
	void	   *extra = NULL;
	SyncRepConfigData *conf;

	if (!check_synchronous_standby_names(&copy, &extra, PGC_S_FILE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot parse synchronous_standby_names value \"%s\"", value)));
	conf = (SyncRepConfigData *) extra;
	if (conf != NULL)
	{
		const char *name = conf->member_names;

		result.num = conf->num_sync;
		result.method = conf->syncrep_method;
		for (int i = 0; i < conf->nmembers; i++)
		{
			result.members = lappend(result.members, pstrdup(name));
			name += strlen(name) + 1;
		}
		pgrepl_guc_extra_free(conf);
	}
	return result;
}

/* Whether a member of the value stands for this application_name. */
static bool
member_matches(const char *member, const char *application_name)
{
	return strcmp(member, "*") == 0 || pg_strcasecmp(member, application_name) == 0;
}

static bool
is_listed(const SyncValue *v, const char *application_name)
{
	ListCell   *lc;

	foreach(lc, v->members)
	{
		if (member_matches(lfirst(lc), application_name))
			return true;
	}
	return false;
}

/*
 * count_streaming
 *		How many streaming walsenders the value lists that have flushed at
 *		least up to "upto", as the server counts candidates.
 */
static int
count_streaming(const SyncValue *v, List *senders, XLogRecPtr upto)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, senders)
	{
		Sender	   *s = lfirst(lc);

		if (s->flush >= upto && is_listed(v, s->name))
			n++;
	}
	return n;
}

/* Whether some streaming walsender answers to this member. */
static bool
member_streams(const char *member, List *senders)
{
	ListCell   *lc;

	foreach(lc, senders)
	{
		if (member_matches(member, ((Sender *) lfirst(lc))->name))
			return true;
	}
	return false;
}

/*
 * streaming_senders
 *		The walsenders streaming now with a flush position, which are those
 *		the server may count as synchronous.
 */
static List *
streaming_senders(void)
{
	List	   *senders = NIL;
	uint64		n;
	char	 ***rows = pgrepl_query_rows("SELECT application_name, flush_lsn::text FROM pg_catalog.pg_stat_replication "
										 "WHERE state OPERATOR(pg_catalog.=) 'streaming' AND flush_lsn IS NOT NULL",
										 0, NULL, &n);

	for (uint64 i = 0; i < n; i++)
	{
		Sender	   *s = palloc(sizeof(Sender));

		s->name = rows[i][0] ? rows[i][0] : "";
		s->flush = DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(rows[i][1])));
		senders = lappend(senders, s);
	}
	return senders;
}

/* The named members of the value that no streaming walsender answers to. */
static List *
missing_members(const SyncValue *v, List *senders)
{
	List	   *missing = NIL;
	ListCell   *lc;

	foreach(lc, v->members)
	{
		char	   *member = lfirst(lc);

		if (strcmp(member, "*") != 0 && !member_streams(member, senders))
			missing = lappend(missing, member);
	}
	return missing;
}

/*
 * lowered_value
 *		The value that asks only for what streams now: the same method over
 *		the members that stream, with the number of walsenders that stream
 *		under them; '' when none does.
 */
static char *
lowered_value(const SyncValue *v, List *senders)
{
	int			k = Min(count_streaming(v, senders, InvalidXLogRecPtr), v->num);
	List	   *streaming = NIL;
	ListCell   *lc;

	foreach(lc, v->members)
	{
		if (member_streams(lfirst(lc), senders))
			streaming = lappend(streaming, lfirst(lc));
	}
	return syncrep_render(v->method == SYNC_REP_QUORUM ? "any" : "first", k, streaming);
}

/* Names joined for a message: "a", "b". */
static char *
name_list(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "\"%s\"", (char *) lfirst(lc));
	}
	return buf.data;
}

/*
 * record_event
 *		One row in lag_history per standby of replication_lag that the
 *		stored value names (all of them for *), with the event and its
 *		detail: the standbys' state when the fallback began or ended.
 */
static void
record_event(const char *stored_text, const char *event, const char *detail)
{
	SyncValue	parsed = parse_value(stored_text);
	const SyncValue *stored = &parsed;
	static const char *const sql =
	"INSERT INTO pgrepl_admin.lag_history "
	"  (sampled_at, standby_name, client_addr, state, sync_state, "
	"   sent_lag_bytes, write_lag_bytes, flush_lag_bytes, replay_lag_bytes, "
	"   write_lag, flush_lag, replay_lag, slot_name, slot_retained_bytes, "
	"   status, wal_lsn, replay_lsn, event, event_detail) "
	"SELECT pg_catalog.now(), l.standby_name, l.client_addr, l.state, l.sync_state, "
	"       l.sent_lag_bytes, l.write_lag_bytes, l.flush_lag_bytes, l.replay_lag_bytes, "
	"       l.write_lag, l.flush_lag, l.replay_lag, l.slot_name, l.slot_retained_bytes, "
	"       l.status, pgrepl_admin.wal_position(), l.replay_lsn, $1, $2 "
	"FROM pgrepl_admin.replication_lag l "
	"WHERE l.status OPERATOR(pg_catalog.<>) 'orphaned-slot' "
	"  AND EXISTS (SELECT 1 FROM pg_catalog.unnest($3::text[]) m "
	"              WHERE m OPERATOR(pg_catalog.=) '*' "
	"                 OR pg_catalog.lower(m) OPERATOR(pg_catalog.=) pg_catalog.lower(l.standby_name))";
	Datum	   *names = palloc(sizeof(Datum) * Max(list_length(stored->members), 1));
	const char *argv[3];
	ListCell   *lc;
	int			n = 0;

	foreach(lc, stored->members)
		names[n++] = CStringGetTextDatum(lfirst(lc));
	argv[0] = event;
	argv[1] = detail;
	argv[2] = OidOutputFunctionCall(F_ARRAY_OUT,
									PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT)));
	(void) pgrepl_query_exec(sql, 3, argv);
}

/*
 * queue_event
 *		Keep an event for lag_history: it is written after the setting is in
 *		force, by flush_pending(), and waits there while a session holds a
 *		lock that the insert needs.
 */
static void
queue_event(const char *stored, const char *event, const char *detail)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingEvent *ev = palloc(sizeof(PendingEvent));

	ev->stored = pstrdup(stored);
	ev->event = pstrdup(event);
	ev->detail = pstrdup(detail);
	fb.pending = lappend(fb.pending, ev);
	MemoryContextSwitchTo(old);
}

/*
 * try_record
 *		record_event() in a subtransaction with a short lock_timeout: false,
 *		and nothing written, when a lock it needs is held (a session's
 *		TRUNCATE of lag_history whose commit waits in SyncRep, say), so that
 *		a later run tries again.  Any other error (a full disk, an altered
 *		lag_history, an error in the replication_lag view) would fail every
 *		later run the same way: the event is dropped, with a WARNING, and
 *		true is returned.
 */
static bool
try_record(const PendingEvent *ev)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		done = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		(void) set_config_option("lock_timeout", RECORD_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
		record_event(ev->stored, ev->event, ev->detail);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			done = false;
		else
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("pgrepl_admin could not record the event \"%s\" in lag_history: %s",
							ev->event, edata->message),
					 errdetail("The event is dropped; the synchronous setting in force is not affected."),
					 errhint("Check pgrepl_admin.lag_history and the pgrepl_admin.replication_lag view.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return done;
}

/* Write the events kept by queue_event(), oldest first, while no lock stops it. */
static void
flush_pending(void)
{
	while (fb.pending != NIL)
	{
		PendingEvent *ev = linitial(fb.pending);

		if (!try_record(ev))
			return;
		fb.pending = list_delete_first(fb.pending);
		pfree(ev->stored);
		pfree(ev->event);
		pfree(ev->detail);
		pfree(ev);
	}
}

/*
 * read_stored
 *		The stored setting's value (NULL when there is none or it asks for
 *		no standby), read under the lock set_synchronous() takes (SHARE ROW
 *		EXCLUSIVE, held to the end of this run), so that no change of it
 *		can come between this read and what this run writes.  The lock is
 *		only tried: when a session holds it (or holds the table in any mode
 *		that conflicts), *locked is false and the value is the one last
 *		read; the caller then only lowers, which is what cannot wait, and
 *		a later run with the lock checks the stored value again.
 */
static const char *
read_stored(bool *locked)
{
	Oid			relid = get_relname_relid("synchronous_setting",
										  get_namespace_oid("pgrepl_admin", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table pgrepl_admin.synchronous_setting is missing");
	*locked = ConditionalLockRelationOid(relid, ShareRowExclusiveLock);
	if (*locked)
	{
		/* not read-only: a snapshot taken now, after the lock */
		char	  **row = pgrepl_query_row("SELECT value FROM pgrepl_admin.synchronous_setting", 0, NULL);

		if (fb.stored_value)
			pfree(fb.stored_value);
		fb.stored_row = row != NULL;
		fb.stored_value = keep(row != NULL && row[0] != NULL ? row[0] : "");
		fb.have_stored = true;
	}
	if (!fb.have_stored || fb.stored_value[0] == '\0')
		return NULL;
	return fb.stored_value;
}

/*
 * put_in_force
 *		ALTER SYSTEM SET synchronous_standby_names and reload.  The worker's
 *		own copy of the setting changes at its next reload: until then,
 *		effective_in_force() knows what was written.
 */
static void
put_in_force(const char *value, const char *replaced)
{
	char	   *written;
	char	   *written_over;

	pgrepl_require_alter_system("the synchronous fallback", ALTER_SYSTEM_HINT);
	pgrepl_alter_system_set(SSN, value);

	/*
	 * Copy both before freeing the previous pair: either argument may be one
	 * of them (effective_in_force() returns fb.written while a write is not
	 * reloaded yet).
	 */
	written = keep(value);
	written_over = keep(replaced);
	if (fb.written)
		pfree(fb.written);
	if (fb.written_over)
		pfree(fb.written_over);
	fb.written = written;
	fb.written_over = written_over;
	pgrepl_reload_server_config();
}

/*
 * synchronous_standby_names as in force, counting a write not yet reloaded.
 * A copy in the caller's context: put_in_force() frees fb.written, and a
 * reload replaces the GUC's own string.
 */
static const char *
effective_in_force(void)
{
	const char *seen = GetConfigOption(SSN, false, false);

	if (fb.written == NULL)
		return pstrdup(seen);
	if (strcmp(seen, fb.written_over) == 0 && strcmp(seen, fb.written) != 0)
		return pstrdup(fb.written);
	/* the reload is done (or someone else wrote since) */
	pfree(fb.written);
	pfree(fb.written_over);
	fb.written = fb.written_over = NULL;
	return pstrdup(seen);
}

/* Forget the fallback: it is over. */
static void
end_fallback(void)
{
	durable_file_remove(MARKER_PATH);
	if (fb.stored)
		pfree(fb.stored);
	if (fb.lowered_to)
		pfree(fb.lowered_to);
	fb.stored = fb.lowered_to = NULL;
	fb.lowered = false;
	fb.lowered_since = 0;
	fb.missing_since = 0;
	fb.restore_lsn = InvalidXLogRecPtr;
}

/*
 * write_marker
 *		The marker of a fallback: the value about to be put in force, a
 *		newline, and the value it replaces (a value ALTER SYSTEM takes has
 *		no newline).  Both are the task's own: a crash between this write
 *		and the ALTER SYSTEM leaves the replaced one in force, which the
 *		first run after the restart must recognise as well (a second
 *		lowering replaces the first).
 */
static void
write_marker(const char *to, const char *replaced)
{
	char	   *text = psprintf("%s\n%s", to, replaced);

	durable_file_write(MARKER_PATH, text, strlen(text), S_IRUSR | S_IWUSR);
}

/*
 * lower_setting
 *		Put "to" in force instead of what is watched ("from"): marker first,
 *		so that a crash after ALTER SYSTEM is recognised at the next start.
 */
static void
lower_setting(const char *stored, const SyncValue *sv, const char *from,
			  const char *to, List *senders, TimestampTz now)
{
	List	   *missing = missing_members(sv, senders);
	char	   *missing_text = missing ? name_list(missing) : NULL;
	int			streaming = count_streaming(sv, senders, InvalidXLogRecPtr);
	long		secs;
	int			usecs;
	char	   *detail;
	char	   *old_lowered_to;

	pgrepl_require_alter_system("the synchronous fallback", ALTER_SYSTEM_HINT);
	TimestampDifference(fb.missing_since, now, &secs, &usecs);
	detail = psprintf("synchronous_standby_names lowered from '%s' to '%s' after %ld.%03d s with %d of the %d synchronous standbys the stored setting asks for streaming%s%s",
					  from, to, secs, usecs / 1000, streaming, sv->num,
					  missing_text ? "; missing: " : "", missing_text ? missing_text : "");

	durable_file_make_dir(MARKER_DIR);
	write_marker(to, from);
	put_in_force(to, from);
	queue_event(stored, EVENT_FALLBACK, detail);

	if (!fb.lowered)
	{
		fb.lowered = true;
		fb.stored = keep(stored);
		fb.lowered_since = now;
	}
	/* "from" may be the old fb.lowered_to: freed after the WARNING */
	old_lowered_to = fb.lowered_to;
	fb.lowered_to = keep(to);
	fb.missing_since = 0;
	fb.restore_lsn = InvalidXLogRecPtr;

	if (missing != NIL)
		ereport(WARNING,
				(errmsg_plural("synchronous standby %s has been missing for %ld.%03d s: commits no longer wait for it",
							   "synchronous standbys %s have been missing for %ld.%03d s: commits no longer wait for them",
							   list_length(missing), missing_text, secs, usecs / 1000),
				 errdetail("pgrepl_admin lowered synchronous_standby_names from '%s' to '%s'; the stored setting is '%s'.",
						   from, to, stored),
				 errhint("The stored setting comes back once enough of them are streaming and caught up. "
						 "See pgrepl_admin.synchronous_status.")));
	else
		ereport(WARNING,
				(errmsg("only %d of the %d synchronous standbys asked for have been streaming for %ld.%03d s: commits no longer wait for the others",
						streaming, sv->num, secs, usecs / 1000),
				 errdetail("pgrepl_admin lowered synchronous_standby_names from '%s' to '%s'; the stored setting is '%s'.",
						   from, to, stored),
				 errhint("The stored setting comes back once enough of them are streaming and caught up. "
						 "See pgrepl_admin.synchronous_status.")));
	if (old_lowered_to)
		pfree(old_lowered_to);
}

/*
 * restore
 *		Put the stored value back in force and end the fallback; "why" says
 *		why, for the log and lag_history.
 */
static void
restore(const char *stored, const char *why)
{
	const char *from = fb.lowered_to;
	char	   *detail;
	long		secs;
	int			usecs;

	TimestampDifference(fb.lowered_since, GetCurrentTimestamp(), &secs, &usecs);
	detail = psprintf("synchronous_standby_names restored to '%s' from '%s' after %ld.%03d s of fallback: %s",
					  stored, from, secs, usecs / 1000, why);
	put_in_force(stored, from);
	queue_event(stored, EVENT_RESTORE, detail);
	ereport(LOG,
			(errmsg("pgrepl_admin restored synchronous_standby_names to the stored setting '%s'", stored),
			 errdetail("The fallback to '%s' lasted %ld.%03d s; %s.", from, secs, usecs / 1000, why)));
	end_fallback();
}

/*
 * restore_after_restart
 *		First run: a marker that names the value in force (the value it put
 *		in force, or the one it was replacing, when the crash came between
 *		the marker and the ALTER SYSTEM) is a fallback interrupted by a
 *		restart (or copied into a standby now promoted).  The stored value
 *		goes back in force, and the delay starts again.
 */
static void
restore_after_restart(const char *stored, const char *in_force)
{
	char	   *marker = durable_file_read(MARKER_PATH, NULL, true);
	char	   *replaced;
	bool		ours;

	if (marker == NULL)
		return;
	/* "new\nreplaced" (write_marker()); a marker of 1.2's first builds: "new" */
	replaced = strchr(marker, '\n');
	if (replaced != NULL)
		*replaced++ = '\0';
	ours = strcmp(marker, in_force) == 0 || (replaced != NULL && strcmp(replaced, in_force) == 0);
	if (stored != NULL && ours && strcmp(stored, in_force) != 0)
	{
		put_in_force(stored, in_force);
		queue_event(stored, EVENT_RESTORE,
					psprintf("synchronous_standby_names restored to '%s' from '%s' at start: the server restarted during a fallback",
							 stored, in_force));
		ereport(LOG,
				(errmsg("pgrepl_admin restored synchronous_standby_names to the stored setting '%s' after a restart during a synchronous fallback",
						stored),
				 errdetail("It was '%s'. If the synchronous standbys are still missing, pgrepl_admin.synchronous_fallback_after applies again.",
						   in_force)));
	}
	durable_file_remove(MARKER_PATH);
}

/* Copy "s" into a fixed buffer, cut at a character boundary with "...". */
static void
copy_cut(char *dst, const char *s, size_t size)
{
	size_t		len = strlen(s);

	if (len < size)
	{
		memcpy(dst, s, len + 1);
		return;
	}
	len = pg_mbcliplen(s, len, size - 4);
	memcpy(dst, s, len);
	strcpy(dst + len, "...");
}

/* Publish the state for pgrepl_admin.synchronous_fallback(). */
static void
publish(SyncFallbackState state, const char *in_force, const char *stored, List *missing)
{
	SyncFallbackStatus st = {0};
	ListCell   *lc;
	size_t		used = 0;

	st.state = state;
	if (state == SYNC_FALLBACK_MISSING)
	{
		st.since = fb.missing_since;
		st.fallback_at = TimestampTzPlusMilliseconds(fb.missing_since,
													 pgrepl_synchronous_fallback_after);
	}
	else if (fb.lowered)
		st.since = fb.lowered_since;
	st.restore_lsn = fb.restore_lsn;
	foreach(lc, missing)
	{
		const char *name = lfirst(lc);
		size_t		len = strlen(name) + 1;

		if (used + len > sizeof(st.missing))
			break;
		memcpy(st.missing + used, name, len);
		used += len;
		st.nmissing++;
	}
	copy_cut(st.in_force, in_force, sizeof(st.in_force));
	copy_cut(st.stored, stored ? stored : "", sizeof(st.stored));

	LWLockAcquire(pgrepl_shared->lock, LW_EXCLUSIVE);
	pgrepl_shared->sync_fallback = st;
	LWLockRelease(pgrepl_shared->lock);
}

/*
 * sync_fallback_look
 *		One look at the synchronous standbys; see the file's header.
 */
static void
sync_fallback_look(void)
{
	bool		locked;
	const char *stored;
	const char *in_force;
	TimestampTz now = GetCurrentTimestamp();
	SyncValue	sv;
	SyncValue	watched;
	List	   *senders;
	List	   *missing;

	/*
	 * a server that was a standby: sync_promotion (maintenance worker)
	 * computes the setting from the stored one less this server itself at
	 * its first run on the primary, and until that has committed the stored
	 * row may name this server.  Neither the restart check (a marker of the
	 * old primary's fallback copied by the base backup would put the stored
	 * value, naming this server, in force) nor a lowering may run before.
	 */
	if (sync_promotion_pending())
		return;
	stored = read_stored(&locked);
	in_force = effective_in_force();

	/* nothing known of the stored setting yet: the next run tries again */
	if (!fb.have_stored)
		return;

	if (!fb.started)
	{
		if (!locked)
			return;
		restore_after_restart(stored, in_force);
		fb.started = true;
		in_force = effective_in_force();
	}

	/*
	 * set_synchronous() during a fallback (seen under its lock): the DBA's
	 * new choice stands, and is put in force if the task's own lowering is
	 * still there (it may have been written over the new value)
	 */
	if (fb.lowered && locked && (stored == NULL || strcmp(stored, fb.stored) != 0))
	{
		bool		put = fb.stored_row && strcmp(in_force, fb.lowered_to) == 0 &&
			strcmp(in_force, fb.stored_value) != 0;

		if (put)
			put_in_force(fb.stored_value, in_force);
		ereport(LOG,
				(errmsg("pgrepl_admin synchronous fallback ends: the stored synchronous setting changed to '%s'",
						stored ? stored : ""),
				 put ? errdetail("The stored setting is put in force instead of '%s'.", in_force) : 0));
		end_fallback();
		in_force = effective_in_force();
	}
	else if (fb.lowered && strcmp(in_force, fb.lowered_to) != 0)
	{
		ereport(LOG,
				(errmsg("pgrepl_admin synchronous fallback ends: synchronous_standby_names was set to '%s' meanwhile",
						in_force)));
		end_fallback();
	}

	if (!fb.lowered)
	{
		SyncFallbackState state = SYNC_FALLBACK_OK;

		if (pgrepl_synchronous_fallback_after <= 0)
			state = SYNC_FALLBACK_OFF;
		else if (stored == NULL)
			state = SYNC_FALLBACK_IDLE;
		else if (strcmp(in_force, stored) != 0)
			state = SYNC_FALLBACK_MANUAL;
		if (state != SYNC_FALLBACK_OK)
		{
			fb.missing_since = 0;
			publish(state, in_force, stored, NIL);
			return;
		}
	}

	sv = parse_value(stored);
	senders = streaming_senders();
	missing = missing_members(&sv, senders);

	if (fb.lowered)
	{
		if (pgrepl_synchronous_fallback_after <= 0)
		{
			/* under the lock only: the stored value read is the latest */
			if (!locked)
			{
				publish(SYNC_FALLBACK_ACTIVE, fb.lowered_to, stored, missing);
				return;
			}
			restore(stored, "pgrepl_admin.synchronous_fallback_after was turned off");
			publish(SYNC_FALLBACK_OFF, stored, stored, missing);
			return;
		}
		if (count_streaming(&sv, senders, InvalidXLogRecPtr) >= sv.num)
		{
			if (XLogRecPtrIsInvalid(fb.restore_lsn))
				fb.restore_lsn = GetXLogInsertRecPtr();
			/* under the lock only: the stored value read is the latest */
			if (locked && count_streaming(&sv, senders, fb.restore_lsn) >= sv.num)
			{
				char	   *why = psprintf("enough of its standbys stream and flushed WAL up to %X/%X, the primary's position when they were back",
										   LSN_FORMAT_ARGS(fb.restore_lsn));

				restore(stored, why);
				publish(SYNC_FALLBACK_OK, stored, stored, missing);
				return;
			}
		}
		else
			fb.restore_lsn = InvalidXLogRecPtr;
	}

	/* is what is in force met?  if not for long enough, lower it */
	watched = fb.lowered ? parse_value(fb.lowered_to) : sv;
	if (count_streaming(&watched, senders, InvalidXLogRecPtr) >= watched.num)
		fb.missing_since = 0;
	else
	{
		if (fb.missing_since == 0)
			fb.missing_since = now;
		if (TimestampDifferenceExceeds(fb.missing_since, now, pgrepl_synchronous_fallback_after))
		{
			const char *from = fb.lowered ? fb.lowered_to : stored;

			/* from the stored setting's members, never from the lowered value */
			char	   *to = lowered_value(&sv, senders);

			if (strcmp(to, from) != 0)
				lower_setting(stored, &sv, from, to, senders, now);
			else
				fb.missing_since = 0;
		}
	}

	publish(!fb.lowered ? (fb.missing_since ? SYNC_FALLBACK_MISSING : SYNC_FALLBACK_OK) :
			XLogRecPtrIsInvalid(fb.restore_lsn) ? SYNC_FALLBACK_ACTIVE : SYNC_FALLBACK_CATCHING_UP,
			fb.lowered ? fb.lowered_to : stored, stored, missing);
}

/*
 * sync_fallback_run
 *		One look, then the events for lag_history: recorded only once the
 *		setting is in force, and kept for a later run while a lock holds
 *		them up.
 */
static void
sync_fallback_run(void)
{
	sync_fallback_look();
	flush_pending();
}

const MaintenanceTask sync_fallback_task = {
	.name = "sync_fallback",
	.description = "Lowers synchronous_standby_names to the standbys still streaming once the stored synchronous setting has gone unmet for pgrepl_admin.synchronous_fallback_after, and restores it when they are back and caught up.",
	.runs_in_recovery = false,
	.interval_ms = sync_fallback_interval_ms,
	.run = sync_fallback_run,
	.own_worker = true,
};
