/*-------------------------------------------------------------------------
 *
 * cert_sql.h
 *	  SQL functions of the certificate concern.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CERT_SQL_H
#define PGREPL_CERT_SQL_H

#include "fmgr.h"

extern PGDLLEXPORT Datum certificates(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum ca_init(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum ca_retire(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum ca_certificate(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rotate_server_cert(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum issue_client_cert(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum migrate_ca_key_1_1(PG_FUNCTION_ARGS);

#endif							/* PGREPL_CERT_SQL_H */
