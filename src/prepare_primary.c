/*-------------------------------------------------------------------------
 *
 * prepare_primary.c
 *	  pgrepl_admin.prepare_primary(max_standbys, listen_addresses, apply):
 *	  the settings a primary needs for the standbys it will serve.
 *
 * One row per setting the function has an opinion on, in a fixed order.
 * It works in three steps, so that nothing is written unless everything
 * can be:
 *
 *	1. check the arguments (and, for listen_addresses, that this machine
 *	   can listen on every address given);
 *	2. plan: read each running value and compute the recommended one; a
 *	   recommendation never lowers a value the administrator set higher;
 *	3. with apply, check every value to write and the right to write it,
 *	   then write them with ALTER SYSTEM's machinery
 *	   (postgresql.auto.conf), signal the postmaster to reload, and reload
 *	   in this backend too, so that the rows show what the server now runs.
 *
 * current_value is the value the running server uses: the server-wide value
 * (configuration files, command line or default, as a new session of this
 * role in this database would get it; a SET in the calling session does not
 * count).  After apply it is read again after the reload: settings that a
 * reload changes show their new value, and those that need a restart still
 * show the old one, with needs_restart true.  needs_restart is computed from
 * the setting's context (postmaster-only settings whose recommended value
 * differs from the running one), not from pg_settings.pending_restart, which
 * other backends see only once they have processed the reload signal.
 *
 * Like ALTER SYSTEM, the write is not transactional: it stays even if the
 * calling transaction rolls back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "common/ip.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"

#include "compat.h"
#include "home_database.h"
#include "net_addresses.h"
#include "prepare_primary.h"
#include "server_config.h"
#include "sql_args.h"
#include "sql_version.h"

#define PREPARE_PRIMARY_COLS 6

/* bounds of max_standbys */
#define MAX_STANDBYS_LIMIT 1000

/* WAL senders a base backup uses: one for the files, one to stream WAL */
#define BASE_BACKUP_WAL_SENDERS 2
/* slots a base backup uses: the temporary one of its WAL stream */
#define BASE_BACKUP_SLOTS 1

/* share of the pg_wal volume's free space slots may keep, in percent */
#define SLOT_WAL_SHARE_PERCENT 25
/* max_slot_wal_keep_size when the free space cannot be read, in MB */
#define SLOT_WAL_DEFAULT_MB (10 * 1024)

/* one row of the result */
typedef struct PlanRow
{
	const char *setting;
	char	   *current;		/* running value, as SHOW shows it */
	char	   *recommended;	/* NULL: reported only, no opinion on it */
	bool		change;			/* recommended differs from current */
	bool		applicable;		/* false: a precondition is missing */
	bool		applied;		/* written by this call */
	char	   *reason;
} PlanRow;

/* the settings prepare_primary has an opinion on, in the result's order */
static const char *const settings[] = {
	"wal_level", "max_wal_senders", "max_replication_slots",
	"max_slot_wal_keep_size", "hot_standby", "wal_log_hints",
	"password_encryption", "ssl", "listen_addresses", "fsync",
	"full_page_writes", "synchronous_commit"
};

PG_FUNCTION_INFO_V1(prepare_primary);

/*
 * server_value
 *		The server-wide value of a setting (its reset value, which a SET in
 *		this session does not change), palloc'd.  Integers come without unit,
 *		in the setting's base unit.
 */
static char *
server_value(const char *name)
{
	return pstrdup(GetConfigOptionResetString(name));
}

/* The server-wide value of an integer setting, in its base unit. */
static int
server_int(const char *name)
{
	return pg_strtoint32(GetConfigOptionResetString(name));
}

/* The context of a setting: who may change it, and when it takes effect. */
static GucContext
setting_context(const char *name)
{
	int			context = pgrepl_guc_context(name);

	if (context < 0)
		elog(ERROR, "unrecognized configuration parameter \"%s\"", name);
	return (GucContext) context;
}

/*
 * format_mb
 *		A size in MB as SHOW prints it: in the largest unit that divides it
 *		exactly; 0 and -1 bare.
 */
static char *
format_mb(int64 mb)
{
	if (mb <= 0)
		return psprintf(INT64_FORMAT, mb);
	if (mb % (1024 * 1024) == 0)
		return psprintf(INT64_FORMAT "TB", mb / (1024 * 1024));
	if (mb % 1024 == 0)
		return psprintf(INT64_FORMAT "GB", mb / 1024);
	return psprintf(INT64_FORMAT "MB", mb);
}

/* Record the recommendation for a row whose value is compared as text. */
static void
recommend(PlanRow *row, const char *value, char *reason)
{
	row->recommended = pstrdup(value);
	row->change = strcmp(row->current, value) != 0;
	row->reason = reason;
}

/*
 * A setting with one right value: kept_reason when it has it already, else
 * change_reason.
 */
static void
plan_fixed(PlanRow *row, const char *value, const char *kept_reason,
		   const char *change_reason)
{
	recommend(row, value,
			  pstrdup(strcmp(row->current, value) == 0 ? kept_reason : change_reason));
}

/*
 * can_bind
 *		Whether a socket binds to at least one of addrs (on an ephemeral
 *		port), which is what the postmaster needs after the restart;
 *		*bind_errno is the last error otherwise.
 */
static bool
can_bind(struct addrinfo *addrs, int *bind_errno)
{
	for (struct addrinfo *ai = addrs; ai != NULL; ai = ai->ai_next)
	{
		int			fd = socket(ai->ai_family, SOCK_STREAM, 0);
		bool		bound;

		if (fd < 0)
		{
			*bind_errno = errno;
			continue;
		}
		bound = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
		if (!bound)
			*bind_errno = errno;
		close(fd);
		if (bound)
			return true;
	}
	return false;
}

/*
 * listen_address_problem
 *		0 when this machine can listen on host: it resolves, and a socket
 *		binds to one of its addresses.  Otherwise the getaddrinfo error
 *		(*gai_error, returning -1) or the bind errno.
 */
static int
listen_address_problem(const char *host, int *gai_error)
{
	struct addrinfo hints;
	struct addrinfo *addrs = NULL;
	int			bind_errno = 0;
	bool		bound;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;

	*gai_error = pg_getaddrinfo_all(host, NULL, &hints, &addrs);
	if (*gai_error != 0 || addrs == NULL)
	{
		if (addrs)
			pg_freeaddrinfo_all(hints.ai_family, addrs);
		return -1;
	}
	bound = can_bind(addrs, &bind_errno);
	pg_freeaddrinfo_all(hints.ai_family, addrs);
	return bound ? 0 : bind_errno;
}

/*
 * check_listen_address
 *		Error unless this machine can listen on host (listen_address_problem).
 */
static void
check_listen_address(const char *host)
{
	int			gai_error;
	int			problem = listen_address_problem(host, &gai_error);

	if (problem < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not resolve listen address \"%s\"", host),
				 errdetail("The host name lookup failed: %s.", gai_strerror(gai_error)),
				 errhint("Give host names or IP addresses of this machine, or * for all of its interfaces.")));
	if (problem > 0)
	{
		errno = problem;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("this server cannot listen on \"%s\"", host),
				 errdetail("Binding a socket to its address failed: %m."),
				 errhint("Give host names or IP addresses of this machine, or * for all of its interfaces.")));
	}
}

/*
 * split_listen_addresses
 *		The entries of a listen_addresses value: split on commas, blanks
 *		around them removed; a List of palloc'd strings, some maybe empty.
 */
static List *
split_listen_addresses(const char *value)
{
	List	   *items = NIL;
	const char *p = value;

	for (;;)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		while (len > 0 && (*p == ' ' || *p == '\t'))
		{
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		items = lappend(items, pnstrdup(p, len));

		if (end == NULL)
			return items;
		p = end + 1;
	}
}

/* The strings of a list joined by commas, palloc'd ("" for none). */
static char *
join_commas(List *list)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, list)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "", (char *) lfirst(lc));
	return buf.data;
}

/* listen_addresses written the one way: entries joined by bare commas */
static char *
normalize_listen_addresses(const char *value)
{
	return join_commas(split_listen_addresses(value));
}

/*
 * check_listen_addresses
 *		Error unless value is a comma-separated list of host names, IP
 *		addresses or *, written without quotes, on which this machine can
 *		listen.  Blanks around the commas are allowed.
 */
static void
check_listen_addresses(const char *value)
{
	ListCell   *lc;

	if (value[strspn(value, " \t")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("listen_addresses must not be empty"),
				 errdetail("Standbys connect over TCP/IP, so the server must listen on at least one address."),
				 errhint("Pass NULL to let prepare_primary recommend the addresses of this machine.")));

	for (const char *c = value; *c; c++)
	{
		if (!(isalnum((unsigned char) *c) || strchr(".-:%_*, \t", *c) != NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid character in listen_addresses \"%s\"", value),
					 errdetail("listen_addresses is a comma-separated list of host names, IP addresses or *, without quotes.")));
	}

	foreach(lc, split_listen_addresses(value))
	{
		const char *item = lfirst(lc);

		if (*item == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("empty entry in listen_addresses \"%s\"", value),
					 errdetail("listen_addresses is a comma-separated list of host names, IP addresses or *, without empty entries.")));
		if (strpbrk(item, " \t") != NULL ||
			(strchr(item, '*') != NULL && strcmp(item, "*") != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid entry \"%s\" in listen_addresses", item),
					 errdetail("Each entry is one host name, one IP address, or * alone.")));
		if (strcmp(item, "*") != 0)
			check_listen_address(item);
	}
}

/*
 * ssl_file_problem
 *		NULL when the file named by the setting (relative to the data
 *		directory, as the server reads it) can be used by the server, else a
 *		palloc'd phrase saying why not.  For the key, the server's own
 *		ownership and permission rules apply.
 */
static char *
ssl_file_problem(const char *setting, const char *what, bool is_key)
{
	const char *file = GetConfigOption(setting, false, false);
	char	   *path;
	struct stat st;

	if (file == NULL || file[0] == '\0')
		return psprintf("%s is empty", setting);
	if (is_absolute_path(file))
		path = pstrdup(file);
	else
		path = psprintf("%s/%s", DataDir, file);

	if (stat(path, &st) != 0)
	{
		int			save_errno = errno;

		return psprintf("the %s file \"%s\" cannot be used (%s)",
						what, file, strerror(save_errno));
	}
	if (!S_ISREG(st.st_mode))
		return psprintf("the %s file \"%s\" is not a regular file", what, file);
	if (access(path, R_OK) != 0)
	{
		int			save_errno = errno;

		return psprintf("the %s file \"%s\" cannot be read (%s)",
						what, file, strerror(save_errno));
	}
	if (is_key)
	{
		if (st.st_uid == geteuid())
		{
			if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
				return psprintf("the %s file \"%s\" is accessible to group or others (it must be mode 0600 or less)",
								what, file);
		}
		else if (st.st_uid == 0)
		{
			if ((st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0)
				return psprintf("the %s file \"%s\" is owned by root and accessible to others (it must be mode 0640 or less)",
								what, file);
		}
		else
			return psprintf("the %s file \"%s\" is owned neither by the database user nor by root",
							what, file);
	}
	return NULL;
}

/* wal_level: at least replica; logical stays logical. */
static void
plan_wal_level(PlanRow *row)
{
	if (strcmp(row->current, "minimal") == 0)
		recommend(row, "replica",
				  pstrdup("wal_level minimal does not write enough WAL for a base backup or a standby: "
						  "replica is the least that streaming replication needs."));
	else if (strcmp(row->current, "logical") == 0)
		recommend(row, row->current,
				  pstrdup("wal_level logical writes all that replica does and what logical decoding needs; kept."));
	else
		recommend(row, row->current,
				  pstrdup("wal_level replica writes what streaming replication needs; kept."));
}

/*
 * An integer setting that must be at least need: raised when lower, kept
 * (never lowered) when the administrator set it higher.  why is the
 * sentence that says where need comes from.
 */
static void
plan_at_least(PlanRow *row, int need, const char *why)
{
	int			current = pg_strtoint32(row->current);

	if (current >= need)
	{
		recommend(row, row->current,
				  psprintf("%s %d is enough; kept.", why, current));
	}
	else
	{
		char	   *value = psprintf("%d", need);

		recommend(row, value,
				  psprintf("%s %d is too few; raise it to %d.", why, current, need));
	}
}

/* max_slot_wal_keep_size: a cap on the WAL that replication slots keep. */
static void
plan_slot_wal_keep_size(PlanRow *row)
{
	int			current = server_int(row->setting);
	char	   *wal_dir;
	struct statvfs fs;
	int64		cap_mb;
	char	   *cap;

	row->current = format_mb(current);
	if (current == 0)
	{
		recommend(row, row->current,
				  pstrdup("A value of 0 lets replication slots keep no WAL beyond max_wal_size: a standby that falls behind "
						  "loses its slot and needs a new base backup. Kept as the administrator set it; "
						  "raise it if standbys fall behind."));
		return;
	}
	if (current > 0)
	{
		recommend(row, row->current,
				  psprintf("Replication slots keep at most %s of WAL, so a dead standby cannot fill the disk; "
						   "kept as the administrator set it.", row->current));
		return;
	}

	/* -1: unlimited, the thing to cap */
	wal_dir = psprintf("%s/%s", DataDir, XLOGDIR);
	if (statvfs(wal_dir, &fs) == 0)
	{
		int64		free_mb = (int64) fs.f_bavail * fs.f_frsize / (1024 * 1024);
		int64		segment_mb = wal_segment_size / (1024 * 1024);

		cap_mb = free_mb * SLOT_WAL_SHARE_PERCENT / 100;
		cap_mb = Max(cap_mb, segment_mb);
		cap_mb = Min(cap_mb, (int64) PG_INT32_MAX);
		cap = format_mb(cap_mb);
		recommend(row, cap,
				  psprintf("A value of -1 lets a replication slot keep WAL without limit: a standby that stops "
						   "consuming it fills the volume of pg_wal until the server stops. Cap it at %d%% of the %.1fGB "
						   "free on that volume; a standby that falls further behind loses its slot and "
						   "needs a new base backup.",
						   SLOT_WAL_SHARE_PERCENT, free_mb / 1024.0));
	}
	else
	{
		int			save_errno = errno;

		cap = format_mb(SLOT_WAL_DEFAULT_MB);
		recommend(row, cap,
				  psprintf("A value of -1 lets a replication slot keep WAL without limit: a standby that stops "
						   "consuming it fills the volume of pg_wal until the server stops. The free space of pg_wal could "
						   "not be read (%s): cap it at the default of %s, and lower it if that volume is "
						   "small; a standby that falls further behind loses its slot and needs a new base "
						   "backup.",
						   strerror(save_errno), cap));
	}
}

/* wal_log_hints: on for pg_rewind, unless data checksums already do it. */
static void
plan_wal_log_hints(PlanRow *row)
{
	if (strcmp(GetConfigOption("data_checksums", false, false), "on") == 0)
		recommend(row, row->current,
				  pstrdup("Data checksums are on, which WAL-logs hint bits already: pg_rewind can bring this "
						  "server back as a standby after a failover; kept."));
	else
		plan_fixed(row, "on",
				   "pg_rewind can bring this server back as a standby after a failover; kept.",
				   "pg_rewind needs wal_log_hints (or data checksums) to bring this server back as a "
				   "standby after a failover, instead of a new base backup.");
}

/* ssl: on, but only applied when a usable certificate and key are there. */
static void
plan_ssl(PlanRow *row)
{
	char	   *problem;

	if (strcmp(row->current, "on") == 0)
	{
		recommend(row, "on",
				  pstrdup("Standbys can encrypt their replication connections (sslmode require or stronger); kept."));
		return;
	}

	problem = ssl_file_problem("ssl_cert_file", "certificate", false);
	if (problem == NULL)
		problem = ssl_file_problem("ssl_key_file", "key", true);

	if (problem == NULL)
		recommend(row, "on",
				  pstrdup("Without SSL, replication connections carry all WAL, every change to the data, in "
						  "clear text; the certificate and key are in place to turn it on."));
	else
	{
		recommend(row, "on",
				  psprintf("Without SSL, replication connections carry all WAL, every change to the data, in "
						   "clear text, but %s: run pgrepl_admin.rotate_server_cert() first, which installs a "
						   "certificate and turns ssl on. prepare_primary does not turn ssl on without a usable "
						   "certificate and key: the server would not start again.", problem));
		row->applicable = false;
	}
}

/*
 * listen_addresses: the given list, written with bare commas.  The running
 * value is compared in the same form, so that blanks alone are no change.
 */
static void
plan_listen_addresses(PlanRow *row, const char *wanted)
{
	char	   *value = normalize_listen_addresses(wanted);
	bool		same = strcmp(normalize_listen_addresses(row->current), value) == 0;

	recommend(row, value,
			  same ?
			  psprintf("The server listens on %s already; kept.", value) :
			  psprintf("Standbys connect over TCP/IP: the server will listen on %s (now %s).",
					   value,
					   row->current[0] == '\0' ? "only on Unix-domain sockets" : row->current));
	row->change = !same;
}

/*
 * plan_listen_addresses_default
 *		listen_addresses when the caller gives none.  Standbys on other
 *		hosts need an address of this machine to dial.  When the server
 *		listens on one already, or on every interface (*, 0.0.0.0, ::), the
 *		value is kept: which interfaces to serve is the administrator's
 *		choice, and a recommendation never narrows it (the reason names the
 *		machine's addresses left out).  When it listens on loopback or on
 *		Unix-domain sockets only, the recommendation is its entries (or
 *		localhost when it has none) and this machine's addresses: those of
 *		interfaces that are up, neither loopback nor link-local, that a
 *		socket can be bound to now.  A machine with none is left as it is.
 */
static void
plan_listen_addresses_default(PlanRow *row)
{
	List	   *entries = NIL;
	List	   *covered = NIL;	/* the addresses the entries stand for */
	List	   *missing = NIL;	/* this machine's addresses not among them */
	bool		reachable = false;
	bool		unbindable = false;
	ListCell   *lc;

	foreach(lc, split_listen_addresses(row->current))
	{
		char	   *entry = lfirst(lc);
		ListCell   *alc;

		if (*entry == '\0')
			continue;
		entries = lappend(entries, entry);
		if (strcmp(entry, "*") == 0)
		{
			recommend(row, row->current,
					  pstrdup("The server listens on every interface (*); kept."));
			return;
		}
		foreach(alc, net_resolve(entry))
		{
			const char *address = lfirst(alc);

			if (net_is_wildcard(address))
			{
				recommend(row, row->current,
						  psprintf("The server listens on every interface (%s); kept.", entry));
				return;
			}
			reachable |= !net_is_loopback(address);
			covered = lappend(covered, (char *) address);
		}
	}

	foreach(lc, net_interface_addresses(false))
	{
		const char *address = lfirst(lc);
		int			gai_error;

		if (net_list_has(covered, address))
			continue;
		if (listen_address_problem(address, &gai_error) == 0)
			missing = lappend(missing, (char *) address);
		else
			unbindable = true;
	}

	if (reachable)
		recommend(row, row->current,
				  missing == NIL ?
				  psprintf("The server listens on %s, which standbys on other hosts can reach; kept.",
						   row->current) :
				  psprintf("The server listens on %s, which standbys on other hosts can reach; kept as the "
						   "administrator set it. This machine also has %s, where it does not listen: pass "
						   "listen_addresses to serve standbys there too.",
						   row->current, join_commas(missing)));
	else if (missing == NIL)
		recommend(row, row->current,
				  unbindable ?
				  pstrdup("No network address of this machine but loopback can be bound to now, so standbys "
						  "on other hosts cannot reach it; kept. Pass listen_addresses once they can.") :
				  pstrdup("This machine has no network address but loopback, so standbys on other hosts "
						  "cannot reach it whatever it listens on; kept."));
	else
	{
		const char *now = entries == NIL ? "Unix-domain sockets" : row->current;

		if (entries == NIL)
			entries = list_make1(pstrdup("localhost"));
		recommend(row, join_commas(list_concat(entries, missing)),
				  psprintf("The server listens only on %s: standbys on other hosts cannot reach it. "
						   "Listen on this machine's addresses too (%s); the certificate "
						   "pgrepl_admin.rotate_server_cert() makes by default names them.",
						   now, join_commas(missing)));
	}
}

/* synchronous_commit: reported, never changed. */
static void
plan_synchronous_commit(PlanRow *row)
{
	const char *names = GetConfigOptionResetString("synchronous_standby_names");

	row->recommended = NULL;
	row->change = false;
	if (strcmp(row->current, "off") == 0)
		row->reason = pstrdup("Reported only, not changed: with off, a crash can lose the last transactions "
					   "the server acknowledged, without corrupting data. Set it to on if acknowledged "
					   "commits must survive a crash.");
	else if (strcmp(row->current, "local") == 0 || names[0] == '\0')
		row->reason = pstrdup("Reported only, not changed: commits wait for the local WAL flush and never for "
					   "a standby (synchronous_standby_names is empty or synchronous_commit is local).");
	else
		row->reason = psprintf("Reported only, not changed: commits wait for the local WAL flush and for the "
							   "standbys in synchronous_standby_names (%s).", names);
}

/*
 * plan_rows
 *		Fill rows with the running value and the recommendation of every
 *		setting, in the result's order; returns how many rows.
 */
static int
plan_rows(PlanRow *rows, int max_standbys, const char *listen_addresses)
{
	int			n = 0;

	for (int i = 0; i < lengthof(settings); i++)
	{
		PlanRow    *row;

		row = &rows[n++];
		row->setting = settings[i];
		row->current = server_value(settings[i]);
		row->applicable = true;
		row->applied = false;

		if (strcmp(row->setting, "wal_level") == 0)
			plan_wal_level(row);
		else if (strcmp(row->setting, "max_wal_senders") == 0)
			plan_at_least(row, max_standbys + BASE_BACKUP_WAL_SENDERS,
						  psprintf("Each standby streams through one WAL sender and a base backup with "
								   "pg_basebackup -X stream uses %d more, so %d standbys need %d:",
								   BASE_BACKUP_WAL_SENDERS, max_standbys,
								   max_standbys + BASE_BACKUP_WAL_SENDERS));
		else if (strcmp(row->setting, "max_replication_slots") == 0)
			plan_at_least(row, max_standbys + BASE_BACKUP_SLOTS,
						  psprintf("Each standby keeps its WAL in one replication slot and a base backup with "
								   "pg_basebackup -X stream uses a temporary one, so %d standbys need %d "
								   "(logical slots count too):",
								   max_standbys, max_standbys + BASE_BACKUP_SLOTS));
		else if (strcmp(row->setting, "max_slot_wal_keep_size") == 0)
			plan_slot_wal_keep_size(row);
		else if (strcmp(row->setting, "hot_standby") == 0)
			plan_fixed(row, "on",
					   "Standbys cloned from this server copy its settings and accept read-only queries; kept.",
					   "Standbys cloned from this server copy its settings, and with hot_standby off "
					   "they refuse read-only queries; the primary itself ignores it.");
		else if (strcmp(row->setting, "wal_log_hints") == 0)
			plan_wal_log_hints(row);
		else if (strcmp(row->setting, "password_encryption") == 0)
			plan_fixed(row, "scram-sha-256",
					   "Passwords set from now on, such as those of replication roles, get scram-sha-256 "
					   "hashes; kept.",
					   "MD5 password hashes can be replayed by whoever reads them: passwords set from now "
					   "on, such as those of replication roles, should get scram-sha-256 hashes. Existing "
					   "md5 passwords keep working until they are set again.");
		else if (strcmp(row->setting, "ssl") == 0)
			plan_ssl(row);
		else if (strcmp(row->setting, "listen_addresses") == 0 && listen_addresses != NULL)
			plan_listen_addresses(row, listen_addresses);
		else if (strcmp(row->setting, "listen_addresses") == 0)
			plan_listen_addresses_default(row);
		else if (strcmp(row->setting, "fsync") == 0)
			plan_fixed(row, "on",
					   "Writes are flushed to disk, so an operating-system crash cannot corrupt the "
					   "cluster; kept.",
					   "fsync off trades durability for speed: an operating-system crash or power loss can "
					   "corrupt the cluster, and its standbys would replicate a primary whose data may be "
					   "damaged. Turn it on.");
		else if (strcmp(row->setting, "full_page_writes") == 0)
			plan_fixed(row, "on",
					   "Pages torn by a crash are repaired from WAL, and pg_rewind can be used after a "
					   "failover; kept.",
					   "Without full page writes a crash can leave torn pages that WAL replay cannot "
					   "repair, and pg_rewind cannot be used after a failover. Turn it on.");
		else if (strcmp(row->setting, "synchronous_commit") == 0)
			plan_synchronous_commit(row);
		else
			elog(ERROR, "no plan for setting \"%s\"", row->setting);
	}
	return n;
}

/* true when applying row needs a restart of the server to take effect */
static bool
row_needs_restart(const PlanRow *row)
{
	return row->change && row->applicable &&
		setting_context(row->setting) == PGC_POSTMASTER;
}

/*
 * apply_rows
 *		Write every applicable change.  Each value and the right to write it
 *		are checked first, for all rows, so that an error leaves
 *		postgresql.auto.conf as it was; then the values are written, the
 *		postmaster is told to reload, and this backend reloads as well, so
 *		that the running values read afterwards are the new ones.
 */
static void
apply_rows(PlanRow *rows, int n)
{
	bool		any = false;

	for (int i = 0; i < n; i++)
	{
		PlanRow    *row = &rows[i];

		if (!row->change || !row->applicable)
			continue;
		pgrepl_require_alter_system("prepare_primary(apply => true)",
									"Set the recommended values in postgresql.conf yourself (prepare_primary() without apply shows them), or turn allow_alter_system on.");
		if (pg_parameter_aclcheck(row->setting, GetUserId(), ACL_ALTER_SYSTEM) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set parameter \"%s\"", row->setting),
					 errdetail("prepare_primary with apply changes settings with ALTER SYSTEM."),
					 errhint("Run it as a superuser, or without apply to see the changes only.")));
		/* validate only: changeVal is false */
		(void) set_config_option(row->setting, row->recommended, PGC_POSTMASTER,
								 PGC_S_FILE, GUC_ACTION_SET, false, ERROR, false);
	}

	for (int i = 0; i < n; i++)
	{
		PlanRow    *row = &rows[i];

		if (!row->change || !row->applicable)
			continue;
		pgrepl_alter_system_set(row->setting, row->recommended);
		row->applied = true;
		any = true;
	}

	if (!any)
		return;

	pgrepl_reload_server_config();
	ProcessConfigFile(PGC_SIGHUP);

	for (int i = 0; i < n; i++)
	{
		PlanRow    *row = &rows[i];

		if (strcmp(row->setting, "max_slot_wal_keep_size") == 0)
			row->current = format_mb(server_int(row->setting));
		else
			row->current = server_value(row->setting);
	}
}

/*
 * prepare_primary
 *		SQL: pgrepl_admin.prepare_primary(max_standbys integer,
 *		listen_addresses text, apply boolean).  max_standbys and apply must
 *		not be NULL; a NULL listen_addresses lets the function recommend
 *		one from this machine's addresses.
 */
Datum
prepare_primary(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			max_standbys;
	char	   *listen_addresses = NULL;
	bool		apply;
	PlanRow		rows[lengthof(settings)];
	int			n;

	pgrepl_require_sql_version();
	pgrepl_require_arg(fcinfo, 0, "max_standbys");
	pgrepl_require_arg(fcinfo, 2, "apply");
	max_standbys = PG_GETARG_INT32(0);
	apply = PG_GETARG_BOOL(2);
	if (!PG_ARGISNULL(1))
		listen_addresses = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (max_standbys < 1 || max_standbys > MAX_STANDBYS_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_standbys must be between 1 and %d", MAX_STANDBYS_LIMIT),
				 errdetail("It is the number of standbys this primary will serve.")));
	if (listen_addresses != NULL)
		check_listen_addresses(listen_addresses);

	memset(rows, 0, sizeof(rows));
	n = plan_rows(rows, max_standbys, listen_addresses);

	if (apply)
	{
		/* the settings are the server's: written from its one home database */
		pgrepl_require_home_database();
		apply_rows(rows, n);
	}

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		PlanRow    *row = &rows[i];
		Datum		values[PREPARE_PRIMARY_COLS] = {0};
		bool		nulls[PREPARE_PRIMARY_COLS] = {0};

		values[0] = CStringGetTextDatum(row->setting);
		values[1] = CStringGetTextDatum(row->current);
		if (row->recommended)
			values[2] = CStringGetTextDatum(row->recommended);
		else
			nulls[2] = true;
		values[3] = BoolGetDatum(row_needs_restart(row));
		values[4] = BoolGetDatum(row->applied);
		values[5] = CStringGetTextDatum(row->reason);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	PG_RETURN_VOID();
}
