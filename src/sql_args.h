/*-------------------------------------------------------------------------
 *
 * sql_args.h
 *	  Checks of SQL function arguments shared by the SQL faces.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SQL_ARGS_H
#define PGREPL_SQL_ARGS_H

#include "fmgr.h"

extern void require_arg(FunctionCallInfo fcinfo, int n, const char *name);

#endif							/* PGREPL_SQL_ARGS_H */
