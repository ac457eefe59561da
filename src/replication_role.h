/*-------------------------------------------------------------------------
 *
 * replication_role.h
 *	  LOGIN REPLICATION roles whose secret is a SCRAM verifier computed
 *	  in the server, and their removal.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_REPLICATION_ROLE_H
#define PGREPL_REPLICATION_ROLE_H

#include "fmgr.h"

extern char *replication_role_create(const char *role_name, const char *password,
									 bool with_password, bool if_not_exists);
extern bool replication_role_drop(const char *role_name);

extern PGDLLEXPORT Datum create_replication_role(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum drop_replication_role(PG_FUNCTION_ARGS);

#endif							/* PGREPL_REPLICATION_ROLE_H */
