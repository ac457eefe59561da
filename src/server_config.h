/*-------------------------------------------------------------------------
 *
 * server_config.h
 *	  Changing the server's own settings from C: the one way pgrepl_admin
 *	  writes postgresql.auto.conf and asks the server to reload.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SERVER_CONFIG_H
#define PGREPL_SERVER_CONFIG_H

extern bool pgrepl_alter_system_allowed(void);
extern void pgrepl_require_alter_system(const char *what, const char *hint);
extern void pgrepl_alter_system_set(const char *name, const char *value);
extern void pgrepl_reload_server_config(void);
extern void pgrepl_signal_reload(int elevel);

#endif							/* PGREPL_SERVER_CONFIG_H */
