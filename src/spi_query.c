/*-------------------------------------------------------------------------
 *
 * spi_query.c
 *	  One SQL statement with text arguments through SPI.
 *
 * Arguments are passed as text (a NULL pointer is SQL NULL) and cast in the
 * statement where needed ($1::name, $2::cidr); results come back as
 * strings in the caller's memory context.  Each statement runs with a new
 * snapshot and sees the transaction's earlier changes, and has no row
 * limit (a limit would keep an INSERT's statement trigger from firing).
 * Each distinct statement is planned once per session and its plan kept
 * (SPI_keepplan): the plan cache replans it after DDL, and add_standby for
 * a hundred standbys does not parse the same few statements a thousand
 * times.  Each statement is planned and run with search_path = pg_catalog,
 * pg_temp (safe_search_path.c), also from a transaction callback, where
 * the caller's path is in force again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "safe_search_path.h"
#include "spi_query.h"

#define MAX_ARGS 8

/* A statement's kept plan; the list lives as long as the session. */
typedef struct KeptPlan
{
	const char *sql;			/* a copy of the statement's text */
	int			nargs;
	SPIPlanPtr	plan;
	struct KeptPlan *next;
} KeptPlan;

static KeptPlan *kept_plans = NULL;

/* The kept plan of sql with nargs text arguments, made on first use. */
static SPIPlanPtr
plan_for(const char *sql, int nargs)
{
	Oid			types[MAX_ARGS];
	SPIPlanPtr	plan;
	KeptPlan   *kept;

	for (kept = kept_plans; kept != NULL; kept = kept->next)
	{
		if (kept->nargs == nargs && strcmp(kept->sql, sql) == 0)
			return kept->plan;
	}
	for (int i = 0; i < nargs; i++)
		types[i] = TEXTOID;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed: %s", sql);
	kept = MemoryContextAlloc(TopMemoryContext, sizeof(KeptPlan));
	kept->sql = MemoryContextStrdup(TopMemoryContext, sql);
	kept->nargs = nargs;
	kept->plan = plan;
	kept->next = kept_plans;
	kept_plans = kept;
	return plan;
}

/* Execute sql; returns SPI_processed.  SPI is connected by the caller. */
static uint64
execute(const char *sql, int nargs, const char *const *argv)
{
	Datum		args[MAX_ARGS];
	char		nulls[MAX_ARGS] = {0};
	int			nest_level;
	int			rc;

	Assert(nargs <= MAX_ARGS);
	for (int i = 0; i < nargs; i++)
	{
		args[i] = argv[i] ? CStringGetTextDatum(argv[i]) : (Datum) 0;
		nulls[i] = argv[i] ? ' ' : 'n';
	}
	nest_level = pgrepl_safe_search_path_push();
	rc = SPI_execute_plan(plan_for(sql, nargs), args, nulls, false, 0);
	pgrepl_safe_search_path_pop(nest_level);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed (%s): %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/*
 * pgrepl_query_row
 *		Run sql; its first row as an array of strings (NULL for SQL NULL),
 *		or NULL when it returns no row.
 */
char	  **
pgrepl_query_row(const char *sql, int nargs, const char *const *argv)
{
	MemoryContext caller = CurrentMemoryContext;
	char	  **row = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (execute(sql, nargs, argv) > 0 && SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;

		row = MemoryContextAllocZero(caller, sizeof(char *) * desc->natts);
		for (int i = 0; i < desc->natts; i++)
		{
			char	   *value = SPI_getvalue(SPI_tuptable->vals[0], desc, i + 1);

			row[i] = value ? MemoryContextStrdup(caller, value) : NULL;
		}
	}
	SPI_finish();
	return row;
}

/*
 * pgrepl_query_rows
 *		Run sql; every row it returns, each an array of strings (NULL for
 *		SQL NULL), in the caller's memory context; *nrows is their number.
 */
char	 ***
pgrepl_query_rows(const char *sql, int nargs, const char *const *argv, uint64 *nrows)
{
	MemoryContext caller = CurrentMemoryContext;
	char	 ***rows = NULL;

	*nrows = 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (execute(sql, nargs, argv) > 0 && SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;

		*nrows = SPI_processed;
		rows = MemoryContextAllocZero(caller, sizeof(char **) * *nrows);
		for (uint64 r = 0; r < *nrows; r++)
		{
			rows[r] = MemoryContextAllocZero(caller, sizeof(char *) * desc->natts);
			for (int i = 0; i < desc->natts; i++)
			{
				char	   *value = SPI_getvalue(SPI_tuptable->vals[r], desc, i + 1);

				rows[r][i] = value ? MemoryContextStrdup(caller, value) : NULL;
			}
		}
	}
	SPI_finish();
	return rows;
}

/*
 * pgrepl_query_exec
 *		Run sql; the number of rows it returned or changed.
 */
uint64
pgrepl_query_exec(const char *sql, int nargs, const char *const *argv)
{
	uint64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = execute(sql, nargs, argv);
	SPI_finish();
	return n;
}
