/*-------------------------------------------------------------------------
 *
 * ca_key.h
 *	  The CA's private key, kept outside the data directory in
 *	  pgrepl_admin.ca_key_directory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CA_KEY_H
#define PGREPL_CA_KEY_H

#include "utils/guc.h"

extern char *ca_key_default_directory(void);
extern bool ca_key_directory_check_hook(char **newval, void **extra, GucSource source);
extern const char *ca_key_directory(void);
extern char *ca_key_path(const char *serial);
extern char *ca_key_read(const char *serial);
extern void ca_key_write(const char *serial, const char *key_pem);
extern void ca_key_remove(const char *serial);

#endif							/* PGREPL_CA_KEY_H */
