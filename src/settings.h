/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The pgrepl_admin.* configuration parameters: one place that defines
 *	  them and the C variables that hold their values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SETTINGS_H
#define PGREPL_SETTINGS_H

/*
 * pgrepl_admin.database: the database the maintenance worker connects to,
 * and the only one where the extension may be installed.  Set even when
 * the library is not preloaded (from postgresql.conf, else the default).
 */
#define PGREPL_DEFAULT_DATABASE "postgres"
extern char *pgrepl_database;

/* pgrepl_admin.lag_sample_interval, in seconds; 0 turns sampling off */
extern int	pgrepl_lag_sample_interval;

/* pgrepl_admin.lag_history_retention, in seconds */
extern int	pgrepl_lag_history_retention;

/* pgrepl_admin.cert_auto_renew: the worker renews the server certificate */
extern bool pgrepl_cert_auto_renew;

/* pgrepl_admin.cert_renew_before, in seconds */
extern int	pgrepl_cert_renew_before;

/* pgrepl_admin.cert_check_interval, in seconds */
extern int	pgrepl_cert_check_interval;

/* pgrepl_admin.ca_key_directory: where the CA's private key is kept (restart) */
extern char *pgrepl_ca_key_directory;
extern char *pgrepl_ca_key_directory_unused;

/* pgrepl_admin.lag_warn_bytes (kB), lag_warn_time (ms), lag_stall_after (s) */
extern int	pgrepl_lag_warn_bytes;
extern int	pgrepl_lag_warn_time;
extern int	pgrepl_lag_stall_after;

/* pgrepl_admin.max_backups: backup slots in shared memory (restart) */
extern int	pgrepl_max_backups;

/* pgrepl_admin.backup_timeout, in seconds: backup_start's default time-out */
extern int	pgrepl_backup_timeout;

/* pgrepl_admin.backup_history_retention, in seconds */
extern int	pgrepl_backup_history_retention;

/* --- standby provisioning --- */

/* pgrepl_admin.hba_position: where the managed block goes in pg_hba.conf */
typedef enum PgreplHbaPosition
{
	PGREPL_HBA_POSITION_TOP,
	PGREPL_HBA_POSITION_BOTTOM
} PgreplHbaPosition;
extern int	pgrepl_hba_position;

/* pgrepl_admin.hba_check_interval, in seconds; 0 turns drift repair off */
extern int	pgrepl_hba_check_interval;

/* pgrepl_admin.primary_host: host in add_standby's primary_conninfo; "" = host name */
extern char *pgrepl_primary_host;

/* --- synchronous replication --- */

/*
 * pgrepl_admin.synchronous_fallback_after, in milliseconds; 0 turns the
 * fallback off (sync_fallback.c)
 */
extern int	pgrepl_synchronous_fallback_after;

extern void pgrepl_define_settings(void);

#endif							/* PGREPL_SETTINGS_H */
