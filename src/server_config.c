/*-------------------------------------------------------------------------
 *
 * server_config.c
 *	  ALTER SYSTEM and pg_reload_conf() for code that runs inside a
 *	  function.
 *
 * ALTER SYSTEM cannot be run from a function (it refuses to run in a
 * transaction block), but the machinery behind it,
 * AlterSystemSetConfigFile(), can: it validates the value, writes
 * postgresql.auto.conf to a temporary file and renames it durably, under
 * the same lock as the statement.  Like the statement, the write is not
 * transactional: it stays even if the calling transaction rolls back.
 * Callers therefore validate everything first and write last.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "compat.h"
#include "server_config.h"

/*
 * pgrepl_alter_system_set
 *		ALTER SYSTEM SET name = 'value', or ALTER SYSTEM RESET name when value
 *		is NULL.  The value is given as it would be written in a
 *		configuration file; the server checks it against the setting's type
 *		and range and raises the usual error when it is not valid.
 *		Superuser only, as ALTER SYSTEM.
 */
void
pgrepl_alter_system_set(const char *name, const char *value)
{
	AlterSystemStmt *stmt = makeNode(AlterSystemStmt);
	VariableSetStmt *set = makeNode(VariableSetStmt);

	set->name = pstrdup(name);
	set->is_local = false;
	if (value == NULL)
		set->kind = VAR_RESET;
	else
	{
		A_Const    *arg = makeNode(A_Const);

		arg->val.sval.type = T_String;
		arg->val.sval.sval = pstrdup(value);
		arg->isnull = false;
		arg->location = -1;
		set->kind = VAR_SET_VALUE;
		set->args = list_make1(arg);
	}
	stmt->setstmt = set;

	AlterSystemSetConfigFile(stmt);
}

/*
 * pgrepl_alter_system_allowed
 *		Whether this server lets ALTER SYSTEM write postgresql.auto.conf:
 *		allow_alter_system (PostgreSQL 17) is not off; always before 17.
 */
bool
pgrepl_alter_system_allowed(void)
{
#if PGREPL_HAS_ALLOW_ALTER_SYSTEM
	return strcmp(GetConfigOption("allow_alter_system", false, false), "off") != 0;
#else
	return true;
#endif
}

/*
 * pgrepl_require_alter_system
 *		Refuse, before anything is written, what would change settings with
 *		ALTER SYSTEM while the server does not allow it (allow_alter_system,
 *		from PostgreSQL 17).  what names the caller's action for the
 *		message; hint says how to do without.
 */
void
pgrepl_require_alter_system(const char *what, const char *hint)
{
	if (!pgrepl_alter_system_allowed())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs ALTER SYSTEM, which this server does not allow", what),
				 errdetail("allow_alter_system is off; nothing was changed."),
				 errhint("%s", hint)));
}

/*
 * pgrepl_reload_server_config
 *		Signal the postmaster to reload its configuration files, as
 *		pg_reload_conf() does.  The reload happens asynchronously: a caller
 *		that must know its outcome checks for it afterwards.
 */
void
pgrepl_reload_server_config(void)
{
	pgrepl_signal_reload(ERROR);
}

/*
 * pgrepl_signal_reload
 *		The same, reporting a failure at elevel: LOG where no error may be
 *		raised (at transaction commit).
 */
void
pgrepl_signal_reload(int elevel)
{
	if (kill(PostmasterPid, SIGHUP) != 0)
		ereport(elevel,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not send a reload signal to the postmaster: %m")));
}
