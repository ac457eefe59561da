/*-------------------------------------------------------------------------
 *
 * sql_args.h
 *	  Argument checks shared by the SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SQL_ARGS_H
#define PGREPL_SQL_ARGS_H

#include "datatype/timestamp.h"
#include "fmgr.h"

extern void pgrepl_require_arg(FunctionCallInfo fcinfo, int n, const char *name);
extern double pgrepl_interval_seconds(const Interval *iv);

#endif							/* PGREPL_SQL_ARGS_H */
