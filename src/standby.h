/*-------------------------------------------------------------------------
 *
 * standby.h
 *	  add_standby() and remove_standby().
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_STANDBY_H
#define PGREPL_STANDBY_H

#include "fmgr.h"

extern PGDLLEXPORT Datum add_standby(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum remove_standby(PG_FUNCTION_ARGS);
extern void standby_check_name(const char *name);

#endif							/* PGREPL_STANDBY_H */
