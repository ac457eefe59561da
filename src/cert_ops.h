/*-------------------------------------------------------------------------
 *
 * cert_ops.h
 *	  Certificate operations shared by the SQL functions and the renewal
 *	  task: argument checks, the CA, server certificate rotation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CERT_OPS_H
#define PGREPL_CERT_OPS_H

#include "datatype/timestamp.h"

#include "cert_store.h"

#define CERT_DEFAULT_CA_NAME "pgrepl_admin CA"
#define CERT_DEFAULT_CA_SECONDS ((int64) 10 * 365 * SECS_PER_DAY + 2 * SECS_PER_DAY)

extern int64 cert_validity_seconds(const Interval *valid_for, const char *argname);
extern CertKeyType cert_key_type_arg(const char *name);
extern void cert_check_hostname(const char *name);
extern List *cert_default_hostnames(void);
extern void cert_check_within_ca(int64 valid_seconds, const char *ca_pem);
extern CertEntry *cert_create_ca(const char *common_name, int64 valid_seconds, CertKeyType key_type);
extern CertEntry *cert_rotate_server(List *hostnames, int64 valid_seconds, CertKeyType key_type);
extern void cert_report_ca_key_missing(int elevel, const char *serial);
extern bool cert_server_files_managed(void);
extern bool cert_ssl_files_managed(void);
extern void cert_reload_if_managed(void);
extern void cert_issue_client(const char *role, int64 valid_seconds, CertKeyType key_type,
							  char **cert_pem, char **key_pem, TimestampTz *not_after);

#endif							/* PGREPL_CERT_OPS_H */
