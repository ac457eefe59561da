/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Differences between the PostgreSQL major versions pgrepl_admin
 *	  builds against: 15, 16, 17, 18 and 19.
 *
 * Every server API that changed between those versions is wrapped here,
 * and only here, behind PG_VERSION_NUM, so that the rest of the code reads
 * the same on every version.  All five are built and tested (16 from its
 * source, doc/versions.md).
 *
 * Unchanged for us in 19: the shared memory request and startup hooks and
 * ShmemInitStruct (19 changed ShmemInitHash's and CalculateShmemSize's
 * signatures, which we do not call), and the background worker
 * registration: our workers do not set 19's BGWORKER_INTERRUPTIBLE, so
 * that, as on every earlier version, DROP DATABASE of the home database
 * is refused while the worker is connected rather than ending it.
 *
 * Behaviour that differs (pg_hba.conf include lines and regular
 * expressions from 16, allow_alter_system from 17, the slot invalidation
 * reasons of 17 and 18, ...) is decided next to its use; this file only
 * says which version has what, with the PGREPL_HAS_* flags below.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_COMPAT_H
#define PGREPL_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pgrepl_admin needs PostgreSQL 15 or later (shmem_request_hook, InitMaterializedSRF, MarkGUCPrefixReserved)"
#endif

#include <stdio.h>

#include "common/base64.h"
#include "common/scram-common.h"
#include "libpq/hba.h"
#include "nodes/pg_list.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#if PG_VERSION_NUM >= 160000
#include "utils/conffiles.h"
#endif
#if PG_VERSION_NUM >= 190000
/* no longer included through the headers above (19) */
#include "catalog/pg_database.h"	/* get_database_oid() */
#include "utils/lsyscache.h"		/* get_database_name() */
#include "utils/tuplestore.h"		/* tuplestore_putvalues() */
#endif

/* pg_hba.conf: include lines, regular expressions, file_name (16) */
#define PGREPL_HAS_HBA_INCLUDE		(PG_VERSION_NUM >= 160000)
/* the scram_iterations setting (16) */
#define PGREPL_HAS_SCRAM_ITERATIONS (PG_VERSION_NUM >= 160000)
/* the allow_alter_system setting (17) */
#define PGREPL_HAS_ALLOW_ALTER_SYSTEM (PG_VERSION_NUM >= 170000)
/* pg_replication_slots.invalidation_reason and inactive_since (17) */
#define PGREPL_HAS_SLOT_INVALIDATION_REASON (PG_VERSION_NUM >= 170000)
/* the synchronized_standby_slots setting (17) */
#define PGREPL_HAS_SYNCHRONIZED_STANDBY_SLOTS (PG_VERSION_NUM >= 170000)
/* ssl_sni and hosts_file (pg_hosts.conf): certificates per host name (19) */
#define PGREPL_HAS_SSL_SNI			(PG_VERSION_NUM >= 190000)

/* SCRAM-SHA-256 constants, renamed in 16 */
#if PG_VERSION_NUM < 160000
#define SCRAM_SHA_256_KEY_LEN SCRAM_KEY_LEN
#define SCRAM_SHA_256_DEFAULT_ITERATIONS SCRAM_DEFAULT_ITERATIONS
#endif

/*
 * pgrepl_scram_iterations
 *		The iteration count the server hashes a new SCRAM-SHA-256 password
 *		with: the scram_iterations setting as this session sees it (16), or
 *		the fixed default before.  Read by name: libpq/scram.h, which
 *		declares the variable, pulls in the GSSAPI headers.
 */
static inline int
pgrepl_scram_iterations(void)
{
#if PG_VERSION_NUM >= 160000
	return pg_strtoint32(GetConfigOption("scram_iterations", false, false));
#else
	return SCRAM_SHA_256_DEFAULT_ITERATIONS;
#endif
}

/*
 * CheckSlotRequirements() takes a "repack" argument from 19 (false: the
 * physical slots of standbys).
 */
#if PG_VERSION_NUM >= 190000
#define pgrepl_check_slot_requirements() CheckSlotRequirements(false)
#else
#define pgrepl_check_slot_requirements() CheckSlotRequirements()
#endif

/*
 * The PID of the process a replication slot is active for, or 0: 19
 * replaced ReplicationSlot.active_pid by active_proc, a ProcNumber.  Read
 * with the slot's mutex held, as active_pid was.
 */
#if PG_VERSION_NUM >= 190000
#define PGREPL_SLOT_ACTIVE_PID(slot) \
	((slot)->active_proc != INVALID_PROC_NUMBER ? GetPGProcByNumber((slot)->active_proc)->pid : 0)
#else
#define PGREPL_SLOT_ACTIVE_PID(slot) ((slot)->active_pid)
#endif

/* This backend's local transaction id: MyProc->vxid.lxid from 17. */
#if PG_VERSION_NUM >= 170000
#define PGREPL_MY_LXID (MyProc->vxid.lxid)
#else
#define PGREPL_MY_LXID (MyProc->lxid)
#endif

/*
 * pgrepl_lock_held_by_me
 *		Whether this backend holds exactly lockmode on tag (17 added the
 *		orstronger argument; we ask for the mode itself, as 15 does).
 */
static inline bool
pgrepl_lock_held_by_me(const LOCKTAG *tag, LOCKMODE lockmode)
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, lockmode, false);
#else
	return LockHeldByMe(tag, lockmode);
#endif
}

/*
 * pgrepl_b64_encode
 *		pg_b64_encode, whose source is const uint8 * from 18 and const
 *		char * before.
 */
static inline int
pgrepl_b64_encode(const uint8 *src, int len, char *dst, int dstlen)
{
#if PG_VERSION_NUM >= 180000
	return pg_b64_encode(src, len, dst, dstlen);
#else
	return pg_b64_encode((const char *) src, len, dst, dstlen);
#endif
}

/*
 * pgrepl_guc_context
 *		The context of the setting name (who may change it, and when), or
 *		-1 when there is no such setting.  16 exports find_option() and
 *		changed get_guc_variables(); 15 has only the array.
 */
static inline int
pgrepl_guc_context(const char *name)
{
#if PG_VERSION_NUM >= 160000
	struct config_generic *var = find_option(name, false, true, DEBUG1);

	return var ? (int) var->context : -1;
#else
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; i < n; i++)
	{
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return (int) vars[i]->context;
	}
	return -1;
#endif
}

/*
 * synchronous_standby_names parsed as the server parses it: its check hook
 * is declared in utils/guc_hooks.h from 16 (replication/syncrep.h before),
 * and the parsed "extra" it returns is freed with guc_free() from 16, with
 * free() before.
 */
#if PG_VERSION_NUM >= 160000
#include "utils/guc_hooks.h"
#define pgrepl_guc_extra_free(extra) guc_free(extra)
#else
#include "replication/syncrep.h"
#define pgrepl_guc_extra_free(extra) free(extra)
#endif

/*
 * Tokenizing pg_hba.conf text with the server's tokenize_auth_file().
 *
 * From 16 the tokens are allocated in a context that only open_auth_file()
 * at the top depth creates and free_auth_file() deletes; it has no other
 * way in, so the context is made by opening /dev/null (an empty file, never
 * read) and the caller's stream is tokenized into it.  On 15 the function
 * returns the context it allocated in.  Either way, everything in the
 * returned lines (raw_line, err_msg, fields) lives until
 * pgrepl_tokenize_end(): copy out what must outlive it.  An error in
 * between leaves the context to be freed with the caller's context, and
 * the /dev/null stream to be closed at the end of the transaction.
 */
typedef struct PgreplTokenized
{
	List	   *lines;			/* of TokenizedAuthLine */
#if PG_VERSION_NUM >= 160000
	FILE	   *anchor;			/* /dev/null, holding the token context */
#else
	MemoryContext cxt;			/* where tokenize_auth_file() allocated */
#endif
} PgreplTokenized;

static inline void
pgrepl_tokenize_begin(PgreplTokenized *tok, const char *filename, FILE *file)
{
	tok->lines = NIL;
#if PG_VERSION_NUM >= 160000
	tok->anchor = open_auth_file("/dev/null", ERROR, CONF_FILE_START_DEPTH, NULL);
	tokenize_auth_file(filename, file, &tok->lines, DEBUG3, CONF_FILE_START_DEPTH);
#else
	tok->cxt = tokenize_auth_file(filename, file, &tok->lines, DEBUG3);
#endif
}

static inline void
pgrepl_tokenize_end(PgreplTokenized *tok)
{
#if PG_VERSION_NUM >= 160000
	free_auth_file(tok->anchor, CONF_FILE_START_DEPTH);
#else
	MemoryContextDelete(tok->cxt);
#endif
	tok->lines = NIL;
}

/*
 * pgrepl_token_is_regex
 *		Whether a database or role token of a parsed pg_hba.conf line is a
 *		regular expression (a token starting with "/", from 16).
 */
static inline bool
pgrepl_token_is_regex(const AuthToken *tok)
{
#if PG_VERSION_NUM >= 160000
	return tok->regex != NULL;
#else
	return false;
#endif
}

/* The file a tokenized line came from (16 follows include lines). */
#if PG_VERSION_NUM >= 160000
#define PGREPL_TOK_FILE_NAME(tok, top) ((tok)->file_name)
#else
#define PGREPL_TOK_FILE_NAME(tok, top) (top)
#endif

#endif							/* PGREPL_COMPAT_H */
