/*-------------------------------------------------------------------------
 *
 * hba_restore.c
 *	  Rules that reach pgrepl_admin.hba_rules other than through the
 *	  extension's functions wait until the DBA applies them: a restored
 *	  dump never rewrites the restoring server's pg_hba.conf.
 *
 * hba_rules is kept by pg_dump (pg_extension_config_dump), so a dump of
 * one server restored into another (a staging copy, a new server) brings
 * the first server's rules along, by COPY or INSERT.  The file is
 * rendered from the rows whose applied column is true only, and:
 *
 *	- hba_rules_guard(), a BEFORE INSERT OR UPDATE row trigger, makes
 *	  every row that arrives other than through the extension's own
 *	  statements (hba_add(), add_standby(), hba_apply_restored()) not
 *	  applied: a restore's COPY, a hand INSERT.  A hand UPDATE keeps a
 *	  rule's flag when it leaves the rule's fields alone (its comment may
 *	  change) and clears it when it changes what the rule admits; it can
 *	  never set it.  The extension's statements run with a flag of this
 *	  backend set (hba_restore_query_row), which no SQL can set;
 *	- check() lists the waiting rules ("hba_restored") with the calls:
 *	- hba_apply_restored(force) checks each waiting rule as hba_add()
 *	  would (its role and database exist; trust, password, non-TLS
 *	  replication and a rule for every address need force; the server's
 *	  parser accepts its line), then marks them applied: pg_hba.conf takes
 *	  them at commit, through the usual trigger and commit path;
 *	- hba_discard_restored() deletes them.
 *
 * The file of a server is a fact about that server, not about the data:
 * rules written for another server's clients must not admit anyone here
 * until someone with the right to change this server's access says so.
 * The guard fires always (ENABLE ALWAYS TRIGGER): in a logical
 * replication apply worker and under session_replication_role = replica
 * too.  A restore made with the table's triggers disabled (pg_restore
 * --disable-triggers of a data-only dump) bypasses it, as it bypasses every
 * trigger: see doc/guarantees.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hba_file.h"
#include "hba_restore.h"
#include "hba_sql.h"
#include "home_database.h"
#include "spi_query.h"
#include "sql_version.h"

PG_FUNCTION_INFO_V1(hba_rules_guard);
PG_FUNCTION_INFO_V1(hba_apply_restored);
PG_FUNCTION_INFO_V1(hba_discard_restored);

/* whether the statement running now is one of the extension's own */
static bool extension_statement = false;

/* the fields of a rule that decide what it admits (rule_id: its place in the file) */
static const char *const rule_fields[] = {
	"rule_id", "connection_type", "database", "role_name", "address", "method", NULL
};

/*
 * hba_restore_query_row
 *		pgrepl_query_row() for a statement of the extension's own on
 *		hba_rules: the rows it inserts or updates keep the applied flag it
 *		gives them.
 */
char	  **
hba_restore_query_row(const char *sql, int nargs, const char *const *argv)
{
	char	  **row;

	extension_statement = true;
	PG_TRY();
	{
		row = pgrepl_query_row(sql, nargs, argv);
	}
	PG_FINALLY();
	{
		extension_statement = false;
	}
	PG_END_TRY();
	return row;
}

/* Whether column attname of the two tuples holds the same value. */
static bool
same_field(HeapTuple a, HeapTuple b, TupleDesc desc, const char *attname)
{
	int			attnum = SPI_fnumber(desc, attname);
	char	   *va;
	char	   *vb;

	if (attnum <= 0)
		elog(ERROR, "pgrepl_admin.hba_rules has no column \"%s\"", attname);
	va = SPI_getvalue(a, desc, attnum);
	vb = SPI_getvalue(b, desc, attnum);
	if (va == NULL || vb == NULL)
		return va == vb;
	return strcmp(va, vb) == 0;
}

/* The text of column attname of the tuple, or NULL. */
static char *
field_text(HeapTuple tup, TupleDesc desc, const char *attname)
{
	int			attnum = SPI_fnumber(desc, attname);

	if (attnum <= 0)
		elog(ERROR, "pgrepl_admin.hba_rules has no column \"%s\"", attname);
	return SPI_getvalue(tup, desc, attnum);
}

/*
 * check_row_fields
 *		hba_file_check_fields() for a row of hba_rules as it is about to be
 *		stored: the fields that a rendered line would hold.
 */
static void
check_row_fields(HeapTuple tup, TupleDesc desc)
{
	HbaRule		rule;

	memset(&rule, 0, sizeof(rule));
	rule.connection_type = field_text(tup, desc, "connection_type");
	rule.database = field_text(tup, desc, "database");
	rule.role_name = field_text(tup, desc, "role_name");
	rule.address = field_text(tup, desc, "address");
	rule.method = field_text(tup, desc, "method");
	rule.comment = field_text(tup, desc, "comment");
	/* (NOT NULL columns: a NULL is refused by the table itself) */
	if (rule.database == NULL || rule.role_name == NULL)
		return;
	hba_file_check_fields(&rule);
}

/*
 * hba_rules_guard()
 *		BEFORE INSERT OR UPDATE row trigger on hba_rules: a row that the
 *		extension's own statements did not write is not applied (an
 *		UPDATE that leaves the rule's fields alone keeps its flag).
 */
Datum
hba_rules_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup;
	int			attnum;
	bool		applied = false;
	Datum		value;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("hba_rules_guard() must be called as a BEFORE row trigger")));

	desc = RelationGetDescr(trigdata->tg_relation);
	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (extension_statement)
		return PointerGetDatum(newtup);

	/*
	 * A waiting rule is never rendered, yet its text must be one a render
	 * could write: a field that would break out of its line (a newline, a
	 * quote or backslash where the file cannot hold one) is refused now, as
	 * hba_add() refuses it, not when someone applies the rule.
	 */
	check_row_fields(newtup, desc);

	attnum = SPI_fnumber(desc, "applied");
	if (attnum <= 0)
		elog(ERROR, "pgrepl_admin.hba_rules has no column \"applied\"");

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		HeapTuple	oldtup = trigdata->tg_trigtuple;

		value = heap_getattr(oldtup, attnum, desc, &isnull);
		applied = !isnull && DatumGetBool(value);
		for (int i = 0; applied && rule_fields[i]; i++)
			applied = same_field(oldtup, newtup, desc, rule_fields[i]);
	}

	value = BoolGetDatum(applied);
	isnull = false;
	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 1, &attnum,
													 &value, &isnull));
}

/*
 * hba_apply_restored(force)
 *		Check every rule that waits, as hba_add() would, and mark them
 *		applied: pg_hba.conf takes them at commit.  Returns how many.
 */
Datum
hba_apply_restored(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		force;
	List	   *waiting = NIL;
	ListCell   *lc;
	uint64		n;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("force must not be null")));
	force = PG_GETARG_BOOL(0);

	hba_file_lock_rules();

	/*
	 * Read with a snapshot taken after the lock: rules that a restore
	 * committed while this call waited for the lock are checked like the
	 * others (at READ COMMITTED the statement's snapshot predates them; at
	 * REPEATABLE READ the lock refuses a transaction whose snapshot is
	 * older than the last write).
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	waiting = hba_file_read_waiting_rules();
	PopActiveSnapshot();
	foreach(lc, waiting)
	{
		HbaRule    *rule = lfirst(lc);

		PG_TRY();
		{
			hba_rules_check(rule, force);
			hba_file_check_rule(rule);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/* name the rule that failed, and what else can be done */
			MemoryContextSwitchTo(caller);
			edata = CopyErrorData();
			FlushErrorState();
			edata->detail = psprintf("%s%sIt is rule %lld of pgrepl_admin.hba_rules, which waits to be applied; nothing was applied.",
									 edata->detail ? edata->detail : "",
									 edata->detail ? " " : "",
									 (long long) rule->rule_id);
			edata->hint = psprintf("%s%sOr drop every waiting rule with pgrepl_admin.hba_discard_restored().",
								   edata->hint ? edata->hint : "",
								   edata->hint ? " " : "");
			ReThrowError(edata);
		}
		PG_END_TRY();
	}

	n = list_length(waiting);
	if (n > 0)
	{
		StringInfoData ids;
		const char *argv[1];
		uint64		marked = 0;

		/* only the rules checked above, by id */
		initStringInfo(&ids);
		appendStringInfoChar(&ids, '{');
		foreach(lc, waiting)
			appendStringInfo(&ids, "%s%lld", foreach_current_index(lc) > 0 ? "," : "",
							 (long long) ((HbaRule *) lfirst(lc))->rule_id);
		appendStringInfoChar(&ids, '}');
		argv[0] = ids.data;

		extension_statement = true;
		PG_TRY();
		{
			marked = pgrepl_query_exec("UPDATE pgrepl_admin.hba_rules SET applied = true "
									   "WHERE NOT applied AND rule_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])",
									   1, argv);
		}
		PG_FINALLY();
		{
			extension_statement = false;
		}
		PG_END_TRY();
		if (marked != n)
			elog(ERROR, "marked %llu of the %llu waiting rules checked as applied",
				 (unsigned long long) marked, (unsigned long long) n);
	}
	PG_RETURN_INT64((int64) n);
}

/*
 * hba_discard_restored()
 *		Delete every rule that waits to be applied; returns how many.  The
 *		file, which never had them, does not change.
 */
Datum
hba_discard_restored(PG_FUNCTION_ARGS)
{
	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	hba_file_lock_rules();
	PG_RETURN_INT64((int64) pgrepl_query_exec("DELETE FROM pgrepl_admin.hba_rules WHERE NOT applied",
											  0, NULL));
}
