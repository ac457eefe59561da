/*-------------------------------------------------------------------------
 *
 * synchronous.c
 *	  pgrepl_admin.set_synchronous(standbys, num, method, apply) and
 *	  pgrepl_admin.synchronous_members().
 *
 * set_synchronous() checks the DBA's choice against the registered
 * standbys (sync_setting.c stores it and writes synchronous_standby_names
 * at commit).  A standby name is its application_name (add_standby()'s
 * primary_conninfo says so), which is what the server matches the names
 * against.  A standby that streams from its slot under another
 * application_name would never be counted: it is refused.  One that is not
 * connected cannot be checked: it is accepted, and check() reports it
 * while it stays away.
 *
 * synchronous_members() lists the setting in force as the server itself
 * parsed it (SyncRepConfig, set by the setting's assign hook), so that the
 * views show what the server waits for, whoever wrote the setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "replication/syncrep.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "compat.h"
#include "home_database.h"
#include "spi_query.h"
#include "sql_args.h"
#include "standby.h"
#include "sync_promotion.h"
#include "sync_setting.h"
#include "syncrep_text.h"
#include "synchronous.h"

PG_FUNCTION_INFO_V1(set_synchronous);
PG_FUNCTION_INFO_V1(synchronous_members);

/*
 * standbys_arg
 *		The standbys argument as a List of names: each a valid standby name,
 *		none NULL, none twice, at least one.
 */
static List *
standbys_arg(ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *names = NIL;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("standbys must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("standbys must not be empty"),
				 errhint("Name the synchronous standbys, pass NULL for every registered standby, or pass num => 0 to turn synchronous replication off.")));
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		ListCell   *lc;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("standbys must not contain NULL")));
		name = TextDatumGetCString(elems[i]);
		standby_check_name(name);
		foreach(lc, names)
		{
			if (strcmp(lfirst(lc), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("standby \"%s\" is named twice", name),
						 errdetail("Each synchronous standby is named once; the order of the names is their priority.")));
		}
		names = lappend(names, name);
	}
	return names;
}

/*
 * check_standbys
 *		Each name is a registered standby, none is this server's own name
 *		(it would never confirm, and a stored setting naming this server is
 *		taken for one copied from the primary it was a standby of: see
 *		sync_promotion.c), and none streams from its slot under an
 *		application_name that the setting would not match.
 */
static void
check_standbys(List *names)
{
	ListCell   *lc;
	char	   *own = sync_own_name();

	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		char	  **row;

		if (own != NULL && pg_strcasecmp(own, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("standby \"%s\" is this server itself", name),
					 errdetail("This server streamed as \"%s\" when it was a standby (primary_conninfo is still set): commits would wait for a confirmation that never comes.",
							   own),
					 errhint("Name the standbys that stream from this server. If \"%s\" is another server now, reset this server's primary_conninfo first (ALTER SYSTEM RESET primary_conninfo).",
							 name)));

		row = pgrepl_query_row("SELECT r.name, a.application_name "
							   "FROM pgrepl_admin.standbys r "
							   "LEFT JOIN pg_catalog.pg_replication_slots sl ON sl.slot_name OPERATOR(pg_catalog.=) r.slot_name "
							   "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) sl.active_pid "
							   "WHERE r.name OPERATOR(pg_catalog.=) $1",
							   1, &name);
		if (row == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("standby \"%s\" does not exist", name),
					 errdetail("Only standbys registered with pgrepl_admin.add_standby() can be synchronous standbys."),
					 errhint("See pgrepl_admin.standbys for the registered standbys.")));
		if (row[1] != NULL && pg_strcasecmp(row[1], name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("standby \"%s\" streams with application_name \"%s\"", name, row[1]),
					 errdetail("synchronous_standby_names is matched against application_name: its confirmations would never count."),
					 errhint("Put application_name=%s in the standby's primary_conninfo, as add_standby() returns it.", name)));
	}
}

/*
 * set_synchronous(standbys, num, method, apply)
 *		Choose the synchronous standbys; returns the value of
 *		synchronous_standby_names, written at commit with apply.
 */
Datum
set_synchronous(PG_FUNCTION_ARGS)
{
	SyncSetting s = {0};
	char	   *method;
	bool		apply;
	List	   *members;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 1, "num");
	pgrepl_require_arg(fcinfo, 2, "method");
	pgrepl_require_arg(fcinfo, 3, "apply");
	s.num = PG_GETARG_INT32(1);
	method = text_to_cstring(PG_GETARG_TEXT_PP(2));
	apply = PG_GETARG_BOOL(3);

	if (pg_strcasecmp(method, "any") == 0)
		s.method = "any";
	else if (pg_strcasecmp(method, "first") == 0)
		s.method = "first";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid method \"%s\"", method),
				 errhint("Use 'any' (commits wait for any num of the standbys) or 'first' (for the first num connected, in the order given).")));
	if (s.num < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num must not be negative"),
				 errhint("Pass num => 0 to turn synchronous replication off.")));
	s.all = PG_ARGISNULL(0);
	if (!s.all)
		s.standbys = standbys_arg(PG_GETARG_ARRAYTYPE_P(0));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("synchronous standbys are chosen on the primary"),
				 errhint("Call pgrepl_admin.set_synchronous() on the primary; this server is in recovery.")));

	sync_setting_lock();
	check_standbys(s.standbys);
	members = sync_setting_members(&s);
	if (s.all)
		check_standbys(members);
	if (s.num > list_length(members))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num %d is more than the %d standbys named", s.num, list_length(members)),
				 errdetail("Commits would wait for ever for confirmations that cannot come."),
				 errhint("Name more standbys, or lower num.")));

	if (!apply)
		PG_RETURN_TEXT_P(cstring_to_text(syncrep_render(s.method, s.num, members)));
	/* the DBA's new choice replaces the standbys deferred by add_standby */
	sync_setting_forget_pending(NULL);
	PG_RETURN_TEXT_P(cstring_to_text(sync_setting_store(&s)));
}

/*
 * synchronous_members()
 *		One row per standby name in the synchronous_standby_names this
 *		backend runs with, in the order written: its priority, the name as
 *		the server read it, the method ('first' or 'any') and num.  No row
 *		when synchronous replication is off.
 */
Datum
synchronous_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *name;

	InitMaterializedSRF(fcinfo, 0);
	if (SyncRepConfig == NULL)
		return (Datum) 0;
	name = SyncRepConfig->member_names;
	for (int i = 0; i < SyncRepConfig->nmembers; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {0};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(name);
		values[2] = CStringGetTextDatum(SyncRepConfig->syncrep_method == SYNC_REP_QUORUM ? "any" : "first");
		values[3] = Int32GetDatum(SyncRepConfig->num_sync);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		name += strlen(name) + 1;
	}
	return (Datum) 0;
}
