/*-------------------------------------------------------------------------
 *
 * synchronous.h
 *	  set_synchronous() and synchronous_members(): choosing the synchronous
 *	  standbys from SQL, and the setting in force as the server parsed it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNCHRONOUS_H
#define PGREPL_SYNCHRONOUS_H

#include "fmgr.h"

extern PGDLLEXPORT Datum set_synchronous(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum synchronous_members(PG_FUNCTION_ARGS);

#endif							/* PGREPL_SYNCHRONOUS_H */
