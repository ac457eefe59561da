/*-------------------------------------------------------------------------
 *
 * prepare_primary.h
 *	  pgrepl_admin.prepare_primary(): the settings a primary needs for the
 *	  standbys it will serve, compared with the running ones, and applied
 *	  through ALTER SYSTEM on request.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_PREPARE_PRIMARY_H
#define PGREPL_PREPARE_PRIMARY_H

#include "fmgr.h"

extern PGDLLEXPORT Datum prepare_primary(PG_FUNCTION_ARGS);

#endif							/* PGREPL_PREPARE_PRIMARY_H */
