/*-------------------------------------------------------------------------
 *
 * sql_args.c
 *	  Argument checks shared by the SQL functions.
 *
 * The functions are not STRICT, so that a NULL argument is an error that
 * names it instead of a silent NULL result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sql_args.h"

/* Error out when argument n (named name) is NULL. */
void
pgrepl_require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/*
 * pgrepl_interval_seconds
 *		An interval as seconds, counted as EXTRACT(epoch) does (a year is
 *		365.25 days, a month 30 days), in floating point so that huge fields
 *		cannot overflow into a value a range check would accept.
 */
double
pgrepl_interval_seconds(const Interval *iv)
{
	return (double) (iv->month / MONTHS_PER_YEAR) * DAYS_PER_YEAR * SECS_PER_DAY +
		(double) (iv->month % MONTHS_PER_YEAR) * DAYS_PER_MONTH * SECS_PER_DAY +
		(double) iv->day * SECS_PER_DAY +
		(double) iv->time / USECS_PER_SEC;
}
