/*-------------------------------------------------------------------------
 *
 * cert_store.h
 *	  The managed certificate files under $PGDATA/pgrepl_admin/, and the
 *	  CA key beside them outside the data directory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CERT_STORE_H
#define PGREPL_CERT_STORE_H

#include "cert_crypto.h"

/* paths relative to the data directory, as the ssl_*_file settings hold them */
#define CERT_STORE_DIR "pgrepl_admin"
#define CERT_STORE_CA CERT_STORE_DIR "/ca.pem"
#define CERT_STORE_BUNDLE CERT_STORE_DIR "/ca-bundle.crt"
#define CERT_STORE_SERVER CERT_STORE_DIR "/server.pem"

typedef enum CertKind
{
	CERT_KIND_CA,
	CERT_KIND_CA_RETIRING,
	CERT_KIND_SERVER,
	CERT_KIND_SERVER_PREVIOUS
} CertKind;

/* sets of kinds, for cert_store_entries */
#define CERT_KINDS(kind) (1 << (kind))
#define CERT_KINDS_ALL 0x0F

typedef struct CertEntry
{
	CertKind	kind;
	char	   *path;			/* relative to the data directory */
	CertInfo	info;
} CertEntry;

extern const char *cert_kind_name(CertKind kind);
extern void cert_store_lock(void);
extern char *cert_store_read(const char *path);
extern List *cert_store_entries(int kinds);
extern CertEntry *cert_store_read_entry(CertKind kind);
extern CertEntry *cert_store_entry(List *entries, CertKind kind);
extern char *cert_store_bundle(void);
extern char *cert_store_ca_key(const char *serial);
extern void cert_store_install_ca(const char *cert_pem, const char *key_pem);
extern bool cert_store_migrate_ca_key(void);
extern bool cert_store_retire_ca(const char *serial);
extern void cert_store_install_server(const char *pem);
extern void cert_store_sync_bundle(void);
extern int	cert_store_prune_previous(void);
extern void cert_store_remove_previous(void);
extern void cert_store_secure_modes(void);
extern void cert_store_migrate_at_start(void);

#endif							/* PGREPL_CERT_STORE_H */
