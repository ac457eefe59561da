/*-------------------------------------------------------------------------
 *
 * cert_store.c
 *	  The files pgrepl_admin manages under $PGDATA/pgrepl_admin/ (0700):
 *
 *	  ca.pem                       the CA's certificate (its key is kept
 *	                               outside the data directory: ca_key.c)
 *	  ca-retiring-<serial>.crt     CAs replaced but still trusted
 *	  ca-bundle.crt                current + retiring CA certificates:
 *	                               ssl_ca_file, and the standbys' root.crt
 *	  server.pem                   the server's certificate and key:
 *	                               ssl_cert_file and ssl_key_file
 *	  server-previous-<serial>.pem the pair a rotation replaced, until the
 *	                               new one is served
 *
 * A certificate and its key share one file, so that one durable rename
 * switches both: no crash can leave a key that does not match its
 * certificate.  Every file is 0600 and written through durable_file.c.
 * The steps of each change are ordered so that a crash between any two
 * leaves a consistent store; cert_store_sync_bundle() rebuilds the one
 * derived file.  Changes are serialised by a transaction-level advisory
 * lock (cert_store_lock), cluster-wide since the files are.
 *
 * Living inside the data directory, the files travel with a base backup
 * or an rsync of it, so a standby made from the primary has them too: all
 * but the CA's private key, which stays with the primary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "storage/lock.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ca_key.h"
#include "cert_store.h"
#include "durable_file.h"

#define RETIRING_PREFIX "ca-retiring-"
#define RETIRING_SUFFIX ".crt"
#define PREVIOUS_PREFIX "server-previous-"
#define PREVIOUS_SUFFIX ".pem"
#define STORE_FILE_MODE 0600

/* advisory lock key: "pgra" and 1 for the certificate store */
#define CERT_STORE_LOCK_KEY1 0x70677261
#define CERT_STORE_LOCK_KEY2 1

const char *
cert_kind_name(CertKind kind)
{
	switch (kind)
	{
		case CERT_KIND_CA:
			return "ca";
		case CERT_KIND_CA_RETIRING:
			return "ca-retiring";
		case CERT_KIND_SERVER:
			return "server";
		case CERT_KIND_SERVER_PREVIOUS:
			return "server-previous";
	}
	return "unknown";
}

/*
 * cert_store_lock
 *		Serialise changes to the store until the end of the transaction.
 */
void
cert_store_lock(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, InvalidOid, CERT_STORE_LOCK_KEY1, CERT_STORE_LOCK_KEY2, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* The file's content, or NULL when it does not exist. */
char *
cert_store_read(const char *path)
{
	return durable_file_read(path, NULL, true);
}

static void
store_write(const char *path, const char *data)
{
	durable_file_make_dir(CERT_STORE_DIR);
	durable_file_write(path, data, strlen(data), STORE_FILE_MODE);
}

/*
 * with_ca_key
 *		The CA's ca.pem text with its key appended from the CA key
 *		directory, when ca.pem holds no key (as it should) and this server
 *		has the key; otherwise pem itself.
 */
static char *
with_ca_key(char *pem, const CertInfo *info)
{
	char	   *key;
	char	   *both;

	if (info->has_key || (key = ca_key_read(info->serial)) == NULL)
		return pem;
	both = psprintf("%s%s", pem, key);
	explicit_bzero(key, strlen(key));
	return both;
}

static CertEntry *
read_entry(CertKind kind, const char *path)
{
	char	   *pem = cert_store_read(path);
	CertEntry  *entry;

	if (pem == NULL)
		return NULL;
	entry = palloc0(sizeof(CertEntry));
	entry->kind = kind;
	entry->path = pstrdup(path);
	if (!cert_read_pem(pem, &entry->info))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("managed file \"%s\" holds no certificate", path)));
	if (kind == CERT_KIND_CA)
	{
		char	   *both = with_ca_key(pem, &entry->info);

		if (both != pem)
		{
			(void) cert_read_pem(both, &entry->info);
			explicit_bzero(both, strlen(both));
		}
	}
	explicit_bzero(pem, strlen(pem));
	return entry;
}

static int
entry_order(const ListCell *a, const ListCell *b)
{
	CertEntry  *ea = lfirst(a);
	CertEntry  *eb = lfirst(b);

	if (ea->kind != eb->kind)
		return (int) ea->kind - (int) eb->kind;
	/* newest first within a kind */
	if (ea->info.not_after != eb->info.not_after)
		return ea->info.not_after > eb->info.not_after ? -1 : 1;
	return strcmp(ea->path, eb->path);
}

/*
 * cert_store_read_entry
 *		The current CA or the current server certificate; NULL if none.
 */
CertEntry *
cert_store_read_entry(CertKind kind)
{
	Assert(kind == CERT_KIND_CA || kind == CERT_KIND_SERVER);
	return read_entry(kind, kind == CERT_KIND_CA ? CERT_STORE_CA : CERT_STORE_SERVER);
}

/* entries, with the entry of each file of the store named prefix...suffix */
static List *
append_entries(List *entries, CertKind kind, const char *prefix, const char *suffix)
{
	ListCell   *lc;

	foreach(lc, durable_file_list(CERT_STORE_DIR, prefix, suffix))
	{
		CertEntry  *entry = read_entry(kind, lfirst(lc));

		if (entry != NULL)
			entries = lappend(entries, entry);
	}
	return entries;
}

/*
 * cert_store_entries
 *		The managed certificates of the given kinds (a CERT_KINDS() mask),
 *		CA first, then retiring CAs, the server certificate and previous
 *		ones; newest first within each kind.  Only the files of those kinds
 *		are read.
 */
List *
cert_store_entries(int kinds)
{
	List	   *entries = NIL;
	CertEntry  *entry;

	if ((kinds & CERT_KINDS(CERT_KIND_CA)) &&
		(entry = cert_store_read_entry(CERT_KIND_CA)) != NULL)
		entries = lappend(entries, entry);
	if ((kinds & CERT_KINDS(CERT_KIND_SERVER)) &&
		(entry = cert_store_read_entry(CERT_KIND_SERVER)) != NULL)
		entries = lappend(entries, entry);
	if (kinds & CERT_KINDS(CERT_KIND_CA_RETIRING))
		entries = append_entries(entries, CERT_KIND_CA_RETIRING, RETIRING_PREFIX, RETIRING_SUFFIX);
	if (kinds & CERT_KINDS(CERT_KIND_SERVER_PREVIOUS))
		entries = append_entries(entries, CERT_KIND_SERVER_PREVIOUS, PREVIOUS_PREFIX, PREVIOUS_SUFFIX);

	list_sort(entries, entry_order);
	return entries;
}

/* The first entry of a kind, or NULL. */
CertEntry *
cert_store_entry(List *entries, CertKind kind)
{
	ListCell   *lc;

	foreach(lc, entries)
	{
		CertEntry  *entry = lfirst(lc);

		if (entry->kind == kind)
			return entry;
	}
	return NULL;
}

/*
 * cert_store_bundle
 *		The trusted CA certificates, current first, as one PEM text; NULL
 *		when there is no CA.
 */
char *
cert_store_bundle(void)
{
	List	   *entries = cert_store_entries(CERT_KINDS(CERT_KIND_CA) |
											 CERT_KINDS(CERT_KIND_CA_RETIRING));
	CertEntry  *ca = cert_store_entry(entries, CERT_KIND_CA);
	StringInfoData buf;
	ListCell   *lc;

	if (ca == NULL)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoString(&buf, ca->info.cert_pem);
	foreach(lc, entries)
	{
		CertEntry  *entry = lfirst(lc);

		if (entry->kind == CERT_KIND_CA_RETIRING &&
			strcmp(entry->info.serial, ca->info.serial) != 0)
			appendStringInfoString(&buf, entry->info.cert_pem);
	}
	return buf.data;
}

/*
 * cert_store_sync_bundle
 *		Rewrite ca-bundle.crt if it differs from what the store says it
 *		should hold (after a change, or a crash in the middle of one).
 */
void
cert_store_sync_bundle(void)
{
	char	   *want = cert_store_bundle();
	char	   *have = cert_store_read(CERT_STORE_BUNDLE);

	if (want == NULL)
		return;
	if (have == NULL || strcmp(have, want) != 0)
		store_write(CERT_STORE_BUNDLE, want);
}

/*
 * cert_store_ca_key
 *		The stored private key of the CA with this serial, as its file
 *		holds it; NULL when this server has none.
 */
char *
cert_store_ca_key(const char *serial)
{
	return ca_key_read(serial);
}

/*
 * remove_replaced_keys
 *		Remove the keys of the CAs this store says were replaced: every
 *		retiring CA (the one just replaced, and any whose removal a crash
 *		interrupted), but never the current one's (serial).  Keys of CAs
 *		the store does not name are left alone: they may be another
 *		cluster's, in a shared directory.
 */
static void
remove_replaced_keys(const char *serial)
{
	ListCell   *lc;

	foreach(lc, cert_store_entries(CERT_KINDS(CERT_KIND_CA_RETIRING)))
	{
		CertEntry  *entry = lfirst(lc);

		if (strcmp(entry->info.serial, serial) != 0)
			ca_key_remove(entry->info.serial);
	}
}

/*
 * cert_store_install_ca
 *		Make the CA of cert_pem and key_pem the current one.  Its key goes
 *		to the CA key directory first, then ca.pem switches to its
 *		certificate, then the keys of the CAs it replaced are removed: a
 *		crash leaves the current CA with its key.  A CA it replaces stays trusted, as a
 *		retiring CA (certificate only), until it is retired.
 */
void
cert_store_install_ca(const char *cert_pem, const char *key_pem)
{
	/* the current CA's certificate alone (a retiring CA's entry has no key) */
	CertEntry  *old = read_entry(CERT_KIND_CA_RETIRING, CERT_STORE_CA);
	CertInfo	info;

	if (!cert_read_pem(cert_pem, &info))
		elog(ERROR, "no certificate to install");
	ca_key_write(info.serial, key_pem);
	if (old != NULL)
		store_write(psprintf("%s/%s%s%s", CERT_STORE_DIR, RETIRING_PREFIX,
							 old->info.serial, RETIRING_SUFFIX),
					old->info.cert_pem);
	store_write(CERT_STORE_CA, info.cert_pem);
	cert_store_sync_bundle();
	remove_replaced_keys(info.serial);
}

/*
 * cert_store_migrate_ca_key
 *		Move the CA's key out of ca.pem, where version 1.0 kept it with the
 *		certificate, into the CA key directory: the key file is written and
 *		synced first, then ca.pem is replaced by the certificate alone, so a
 *		crash in between leaves the key in both places, and the next call
 *		finishes.  True when a key was moved.
 */
bool
cert_store_migrate_ca_key(void)
{
	char	   *pem = cert_store_read(CERT_STORE_CA);
	char	   *key;
	CertInfo	info;

	if (pem == NULL)
		return false;
	key = cert_private_key_pem(pem);
	if (key == NULL || !cert_read_pem(pem, &info) || !info.key_matches)
	{
		explicit_bzero(pem, strlen(pem));
		return false;
	}
	ca_key_write(info.serial, key);
	store_write(CERT_STORE_CA, info.cert_pem);
	explicit_bzero(key, strlen(key));
	explicit_bzero(pem, strlen(pem));
	ereport(LOG,
			(errmsg("pgrepl_admin moved the CA private key out of the data directory to \"%s\"",
					ca_key_path(info.serial))));
	return true;
}

/*
 * cert_store_retire_ca
 *		Stop trusting the retiring CA with this serial (upper-case hex).
 *		False when there is none.
 */
bool
cert_store_retire_ca(const char *serial)
{
	char	   *path = psprintf("%s/%s%s%s", CERT_STORE_DIR, RETIRING_PREFIX, serial,
								RETIRING_SUFFIX);
	CertEntry  *current;

	if (access(path, F_OK) != 0)
		return false;
	/* its key first (normally gone already), while the store still names it */
	current = read_entry(CERT_KIND_CA_RETIRING, CERT_STORE_CA);
	if (current == NULL || strcmp(current->info.serial, serial) != 0)
		ca_key_remove(serial);
	durable_file_remove(path);
	cert_store_sync_bundle();
	return true;
}

/*
 * cert_store_install_server
 *		Make pem (certificate and key) the server's pair.  The pair it
 *		replaces is kept as server-previous until the new one is served
 *		(cert_store_remove_previous).
 */
void
cert_store_install_server(const char *pem)
{
	char	   *old = cert_store_read(CERT_STORE_SERVER);

	if (old != NULL)
	{
		CertInfo	info;

		if (cert_read_pem(old, &info))
			store_write(psprintf("%s/%s%s%s", CERT_STORE_DIR, PREVIOUS_PREFIX,
								 info.serial, PREVIOUS_SUFFIX),
						old);
		explicit_bzero(old, strlen(old));
	}
	store_write(CERT_STORE_SERVER, pem);
}

/*
 * cert_store_remove_previous
 *		Destroy the replaced server pairs and their private keys, once
 *		their successor is served.  Only names are read, so the cost does
 *		not grow with the certificates' contents.
 */
void
cert_store_remove_previous(void)
{
	ListCell   *lc;

	foreach(lc, durable_file_list(CERT_STORE_DIR, PREVIOUS_PREFIX, PREVIOUS_SUFFIX))
		durable_file_remove(lfirst(lc));
}

/*
 * cert_store_prune_previous
 *		Remove previous server pairs that have expired; returns how many.
 */
int
cert_store_prune_previous(void)
{
	List	   *entries = cert_store_entries(CERT_KINDS(CERT_KIND_SERVER_PREVIOUS));
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;
	int			removed = 0;

	foreach(lc, entries)
	{
		CertEntry  *entry = lfirst(lc);

		if (entry->kind == CERT_KIND_SERVER_PREVIOUS && entry->info.not_after < now)
		{
			durable_file_remove(entry->path);
			removed++;
		}
	}
	return removed;
}

/*
 * cert_store_secure_modes
 *		Give the managed directory mode 0700 and its files 0600 again when a
 *		copy made them readable by others (cp, or rsync without -p, when a
 *		standby is cloned).  The server refuses to start with a key file
 *		that others can read, so this runs in the postmaster while the
 *		library is preloaded, before the server loads its SSL files.
 *		Problems are reported as WARNINGs: the server starts regardless.
 */
void
cert_store_secure_modes(void)
{
	DIR		   *dir;
	struct dirent *de;
	struct stat st;

	if (stat(CERT_STORE_DIR, &st) != 0 || !S_ISDIR(st.st_mode))
		return;
	if ((st.st_mode & 077) != 0 && chmod(CERT_STORE_DIR, 0700) != 0)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not change the mode of \"%s\": %m", CERT_STORE_DIR)));

	dir = opendir(CERT_STORE_DIR);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
	{
		char		path[MAXPGPATH];

		snprintf(path, sizeof(path), "%s/%s", CERT_STORE_DIR, de->d_name);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0)
			continue;
		if (chmod(path, STORE_FILE_MODE) != 0)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not change the mode of \"%s\": %m", path)));
		else
			ereport(LOG,
					(errmsg("pgrepl_admin made \"%s\" readable by its owner only", path),
					 errdetail("It had mode %04o, probably from a copy of the data directory.",
							   (unsigned int) (st.st_mode & 07777))));
	}
	closedir(dir);
}

/*
 * cert_store_migrate_at_start
 *		In the postmaster, while the library is preloaded: move a CA key
 *		that version 1.0 left in ca.pem out of the data directory, on a
 *		standby too (its files are its own, not replicated).  A failure is
 *		a WARNING: the server starts regardless, and the next use of the
 *		CA tries again.
 */
void
cert_store_migrate_at_start(void)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pgrepl_admin CA key migration",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		(void) cert_store_migrate_ca_key();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errmsg("pgrepl_admin could not move the CA private key out of the data directory: %s",
						edata->message)));
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
