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
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "spi_query.h"

#define MAX_ARGS 8

/* Execute sql; returns SPI_processed.  SPI is connected by the caller. */
static uint64
execute(const char *sql, int nargs, const char *const *argv)
{
	Oid			types[MAX_ARGS];
	Datum		args[MAX_ARGS];
	char		nulls[MAX_ARGS] = {0};
	int			rc;

	Assert(nargs <= MAX_ARGS);
	for (int i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		args[i] = argv[i] ? CStringGetTextDatum(argv[i]) : (Datum) 0;
		nulls[i] = argv[i] ? ' ' : 'n';
	}
	rc = SPI_execute_with_args(sql, nargs, types, args, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed (%s): %s", SPI_result_code_string(rc), sql);
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
