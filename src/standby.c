/*-------------------------------------------------------------------------
 *
 * standby.c
 *	  add_standby() and remove_standby(): one call provisions everything a
 *	  standby needs on the primary, one removes it; pgrepl_admin.standbys
 *	  remembers them.
 *
 * add_standby() makes the role (named after the standby unless given), the
 * hostssl replication rule for its address, a physical slot that reserves
 * WAL from the moment it exists, and for cert authentication a client
 * certificate; it returns the secrets once with a primary_conninfo to
 * paste into the standby.  Called again with the same arguments it changes
 * nothing and returns no secret.
 *
 * Roles, rules and rows are transactional.  Replication slots are not, so
 * they are created at PRE_COMMIT, after pg_hba.conf has been written and
 * checked (hba_file_pre_commit), and dropped only once the transaction has
 * committed: a transaction that rolls back, or fails before that point,
 * never touches a slot; one whose commit fails after PRE_COMMIT (another
 * participant's pre-commit work, a serialization failure at commit) drops
 * at abort the slots it made; and a crash between the slot change and the commit
 * record can leave a slot that no standby owns (replication_lag shows it
 * as orphaned-slot), never a standby whose slot is gone.  (A standby
 * removed and added again in one transaction has its old slot replaced by
 * a new one at PRE_COMMIT.)  The number of
 * free slots is checked first, so that creation does not fail half-way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "cert_ops.h"
#include "cert_store.h"
#include "compat.h"
#include "cstring_list.h"
#include "hba_file.h"
#include "hba_sql.h"
#include "home_database.h"
#include "replication_role.h"
#include "settings.h"
#include "spi_query.h"
#include "sql_args.h"
#include "standby.h"
#include "sync_setting.h"

#define STANDBY_COLS 8
#define CLIENT_CERT_SECONDS ((int64) 365 * SECS_PER_DAY)

PG_FUNCTION_INFO_V1(add_standby);
PG_FUNCTION_INFO_V1(remove_standby);

/* slots to create at PRE_COMMIT and to drop at COMMIT, in TopTransactionContext */
static List *slots_to_create = NIL;
static List *slots_to_drop = NIL;

/* slots PRE_COMMIT made where none was, for ABORT to drop, in TopTransactionContext */
static List *slots_created = NIL;
static bool callback_registered = false;

/* a row of pgrepl_admin.standbys */
typedef struct Standby
{
	char	   *name;
	char	   *role_name;
	char	   *address;
	char	   *auth;
	char	   *slot_name;		/* NULL when none */
	bool		role_created;	/* add_standby() made the role */
} Standby;

/* The standby of that name, or NULL. */
static Standby *
find_standby(const char *name)
{
	char	  **row;
	Standby    *s;

	row = pgrepl_query_row("SELECT name, role_name, pg_catalog.host(address) || '/' || pg_catalog.masklen(address), "
						   "auth, slot_name, role_created::text FROM pgrepl_admin.standbys WHERE name = $1",
						   1, &name);
	if (row == NULL)
		return NULL;
	s = palloc(sizeof(Standby));
	s->name = row[0];
	s->role_name = row[1];
	s->address = row[2];
	s->auth = row[3];
	s->slot_name = row[4];
	s->role_created = strcmp(row[5], "true") == 0;
	return s;
}

/*
 * slots_pre_commit
 *		Of the slots this transaction asked to drop: one whose standby was
 *		removed and added again is dropped now and made anew below (the new
 *		standby gets a new slot); one that the committed-to-be standbys
 *		table no longer wants is kept for COMMIT to drop.  Then create the
 *		slots the table wants.
 */
static void
slots_pre_commit(void)
{
	List	   *dropping = NIL;
	List	   *replaced = slots_to_drop;
	MemoryContext old;
	ListCell   *lc;

	if (slots_to_create == NIL && slots_to_drop == NIL)
		return;
	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	foreach(lc, slots_to_drop)
	{
		const char *slot = lfirst(lc);

		if (cstring_listed(slots_to_create, slot))
			(void) pgrepl_query_exec("SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
									 "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1::name "
									 "AND EXISTS (SELECT FROM pgrepl_admin.standbys WHERE slot_name = $1::name)",
									 1, &slot);
		/* (a standby removed twice in the transaction is listed twice) */
		if (!cstring_listed(dropping, slot) &&
			pgrepl_query_exec("SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = $1::name "
							  "AND NOT EXISTS (SELECT FROM pgrepl_admin.standbys WHERE slot_name = $1::name)",
							  1, &slot) > 0)
		{
			CheckSlotPermissions();
			pgrepl_check_slot_requirements();
			old = MemoryContextSwitchTo(TopTransactionContext);
			dropping = lappend(dropping, (char *) slot);
			MemoryContextSwitchTo(old);
		}
	}
	slots_to_drop = dropping;
	foreach(lc, slots_to_create)
	{
		const char *slot = lfirst(lc);

		if (pgrepl_query_exec("SELECT pg_catalog.pg_create_physical_replication_slot($1::name, true) "
							  "WHERE EXISTS (SELECT FROM pgrepl_admin.standbys WHERE slot_name = $1::name) "
							  "AND NOT EXISTS (SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = $1::name)",
							  1, &slot) > 0 &&
			!cstring_listed(replaced, slot))
		{
			old = MemoryContextSwitchTo(TopTransactionContext);
			slots_created = lappend(slots_created, (char *) slot);
			MemoryContextSwitchTo(old);
		}
	}
	PopActiveSnapshot();
}

/*
 * drop_slot_quietly
 *		Drop a slot once the transaction has ended: that of a standby whose
 *		removal has committed, or one made at PRE_COMMIT by a transaction
 *		whose commit then failed (another participant's deferred work, a
 *		remote commit, a serialization failure), which no standby owns and
 *		which would hold WAL and make a retry fail.  Nothing may fail at
 *		that point: a slot that cannot be dropped (one that became active
 *		in the meantime) is kept, with a WARNING.
 */
static void
drop_slot_quietly(const char *slot, bool aborted)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		ReplicationSlotDrop(slot, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (MyReplicationSlot != NULL)
			ReplicationSlotRelease();
		/* after the commit record, only a failed drop can hold an LWLock */
		LWLockReleaseAll();
		/* a slot already gone (dropped by hand meanwhile) is not kept */
		ereport(edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT ? DEBUG1 : WARNING,
				(errcode(edata->sqlerrcode),
				 aborted ?
				 errmsg("replication slot \"%s\" made by a transaction that failed to commit was kept", slot) :
				 errmsg("replication slot \"%s\" of a removed standby was kept", slot),
				 errdetail("%s", edata->message),
				 errhint("Drop it with pg_drop_replication_slot() once it is no longer active.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

static void
standby_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* the file is written and checked before any slot changes */
			hba_file_pre_commit();
			slots_pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (slots_to_create != NIL || slots_to_drop != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that added or removed a standby")));
			break;
		case XACT_EVENT_COMMIT:
			foreach(lc, slots_to_drop)
				drop_slot_quietly(lfirst(lc), false);
			slots_to_create = NIL;
			slots_to_drop = NIL;
			slots_created = NIL;
			break;
		case XACT_EVENT_ABORT:
			/*
			 * The commit failed after PRE_COMMIT made these.  A slot whose
			 * creation failed half-way is still this session's: release it
			 * (which drops it, as it was not made persistent) as the error
			 * recovery would right after, so that the drops can acquire.
			 */
			if (slots_created != NIL && MyReplicationSlot != NULL)
				ReplicationSlotRelease();
			foreach(lc, slots_created)
				drop_slot_quietly(lfirst(lc), true);
			slots_to_create = NIL;
			slots_to_drop = NIL;
			slots_created = NIL;
			break;
		default:
			break;
	}
}

/* Create (or drop) the slot when the transaction commits. */
static void
slot_at_commit(const char *slot, bool create)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	if (!callback_registered)
	{
		RegisterXactCallback(standby_xact_callback, NULL);
		callback_registered = true;
	}
	if (create)
		slots_to_create = lappend(slots_to_create, pstrdup(slot));
	else
		slots_to_drop = lappend(slots_to_drop, pstrdup(slot));
	MemoryContextSwitchTo(old);
}

/*
 * check_new_slot
 *		The slot must not exist yet, unless this transaction drops it first
 *		(a standby removed and added again), and a free slot must be left
 *		for it beside those this transaction already creates.
 */
static void
check_new_slot(const char *slot)
{
	int			used = 0;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	if (SearchNamedReplicationSlot(slot, false) != NULL && !cstring_listed(slots_to_drop, slot))
	{
		LWLockRelease(ReplicationSlotControlLock);
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("replication slot \"%s\" already exists", slot),
				 errhint("Drop it with pg_drop_replication_slot(), or pass create_slot => false.")));
	}
	for (int i = 0; i < max_replication_slots; i++)
		used += ReplicationSlotCtl->replication_slots[i].in_use;
	LWLockRelease(ReplicationSlotControlLock);

	if (used + list_length(slots_to_create) >= max_replication_slots)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no replication slot is free for standby \"%s\"", slot),
				 errdetail("max_replication_slots is %d; %d are in use and this transaction adds %d.",
						   max_replication_slots, used, list_length(slots_to_create)),
				 errhint("Raise max_replication_slots (pgrepl_admin.prepare_primary() says by how much), or pass create_slot => false.")));
}

/*
 * standby_check_name
 *		A standby name: it also names the slot, so the slot name rules
 *		apply.
 */
void
standby_check_name(const char *name)
{
	size_t		len = strlen(name);

	for (size_t i = 0; i < len; i++)
	{
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			len = 0;
	}
	if (len == 0 || len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid standby name \"%s\"", name),
				 errdetail("A standby name has 1 to %d lower-case letters, digits and underscores; it names the standby's slot, its application_name and by default its role.",
						   NAMEDATALEN - 1)));
}

/* A value for a libpq connection string, quoted when it needs to be. */
static void
append_conninfo_value(StringInfo buf, const char *key, const char *value)
{
	bool		plain = value[0] != '\0';

	for (const char *p = value; *p; p++)
		plain &= !(*p == ' ' || *p == '\'' || *p == '\\' || *p == '=' || (unsigned char) *p < 0x20);
	appendStringInfo(buf, "%s%s=", buf->len > 0 ? " " : "", key);
	if (plain)
	{
		appendStringInfoString(buf, value);
		return;
	}
	appendStringInfoChar(buf, '\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * dialed_host
 *		The host a standby dials to reach this server: pgrepl_admin.primary_host,
 *		or the machine's host name when it is empty.
 */
static char *
dialed_host(void)
{
	char		host[256];

	if (pgrepl_primary_host != NULL && pgrepl_primary_host[0] != '\0')
		return pstrdup(pgrepl_primary_host);
	if (gethostname(host, sizeof(host)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not get the host name: %m"),
				 errhint("Set pgrepl_admin.primary_host.")));
	host[sizeof(host) - 1] = '\0';
	return pstrdup(host);
}

/*
 * primary_conninfo
 *		What the standby puts in primary_conninfo: this server's host
 *		(dialed_host()) and port, the role, application_name = the
 *		standby's name, verify-full, and TCP keepalives.  While it streams,
 *		the standby's wal_receiver_timeout (60 s by default) already drops
 *		a primary gone silent; the keepalives (30 s idle, then 3 probes 10 s
 *		apart, or 60 s of unacknowledged data) cover the rest: the
 *		exchanges before streaming starts (authentication, IDENTIFY_SYSTEM,
 *		START_REPLICATION), which the walreceiver waits for without a time
 *		limit, and a standby with wal_receiver_timeout = 0, which would
 *		otherwise wait for the kernel's default of more than two hours.  No
 *		connect_timeout: the walreceiver connects with libpq's asynchronous
 *		API, which does not apply it.
 */
static char *
primary_conninfo(const Standby *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_conninfo_value(&buf, "host", dialed_host());
	appendStringInfo(&buf, " port=%d", PostPortNumber);
	append_conninfo_value(&buf, "user", s->role_name);
	append_conninfo_value(&buf, "application_name", s->name);
	appendStringInfoString(&buf, " sslmode=verify-full");
	appendStringInfoString(&buf, " keepalives=1 keepalives_idle=30 keepalives_interval=10"
						   " keepalives_count=3 tcp_user_timeout=60000");
	return buf.data;
}

/* Put the result row. */
static void
return_row(FunctionCallInfo fcinfo, const Standby *s, const char *password,
		   const char *cert_pem, const char *key_pem, const char *synchronous)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *texts[STANDBY_COLS + 1];
	Datum		values[STANDBY_COLS + 1];
	bool		nulls[STANDBY_COLS + 1];
	int			ncols;

	texts[0] = s->name;
	texts[1] = s->role_name;
	texts[2] = password;
	texts[3] = s->slot_name;
	texts[4] = primary_conninfo(s);
	texts[5] = cert_store_bundle();
	texts[6] = cert_pem;
	texts[7] = key_pem;
	texts[8] = synchronous;

	InitMaterializedSRF(fcinfo, 0);
	/* 1.2's standby_provisioning has the synchronous column, 1.0's and 1.1's not */
	ncols = Min(rsinfo->setDesc->natts, STANDBY_COLS + 1);
	for (int i = 0; i < ncols; i++)
	{
		nulls[i] = (texts[i] == NULL);
		if (texts[i] == NULL)
			values[i] = (Datum) 0;
		else if (i == 1 || i == 3)
			values[i] = DirectFunctionCall1(namein, CStringGetDatum(texts[i]));
		else
			values[i] = CStringGetTextDatum(texts[i]);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * add_standby(name, address, auth, role_name, create_slot, synchronous)
 *		Provision a standby: role, rule, slot, client certificate, and with
 *		synchronous a place among the synchronous standbys.  Returns one row
 *		with the secrets (NULL when nothing new was made).
 */
Datum
add_standby(PG_FUNCTION_ARGS)
{
	Standby		want = {0};
	Standby    *have;
	bool		create_slot;
	bool		role_given;
	bool		synchronous = false;
	char	   *password = NULL;
	char	   *cert_pem = NULL;
	char	   *key_pem = NULL;
	HbaRule		rule = {0};
	const char *argv[7];
	const char *sync_state;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "name");
	pgrepl_require_arg(fcinfo, 1, "address");
	pgrepl_require_arg(fcinfo, 2, "auth");
	pgrepl_require_arg(fcinfo, 4, "create_slot");
	want.name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	want.address = DatumGetCString(DirectFunctionCall1(cidr_out, InetPGetDatum(PG_GETARG_INET_PP(1))));
	want.auth = text_to_cstring(PG_GETARG_TEXT_PP(2));
	role_given = !PG_ARGISNULL(3);
	want.role_name = role_given ? pstrdup(NameStr(*PG_GETARG_NAME(3))) : want.name;
	create_slot = PG_GETARG_BOOL(4);
	/* (the 1.0 SQL function has no synchronous argument) */
	if (PG_NARGS() > 5)
	{
		pgrepl_require_arg(fcinfo, 5, "synchronous");
		synchronous = PG_GETARG_BOOL(5);
	}
	want.slot_name = create_slot ? want.name : NULL;

	standby_check_name(want.name);
	if (strcmp(want.auth, "scram-sha-256") != 0 && strcmp(want.auth, "cert") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported authentication \"%s\" for a standby", want.auth),
				 errhint("Use scram-sha-256 or cert.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("standbys are provisioned on the primary"),
				 errhint("Call pgrepl_admin.add_standby() on the primary; this server is in recovery.")));
	if (strcmp(want.auth, "cert") == 0 && !cert_ssl_files_managed())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cert authentication needs the server to use the pgrepl_admin certificates"),
				 errdetail("The server verifies client certificates against ssl_ca_file, which is not the pgrepl_admin CA bundle."),
				 errhint("Run pgrepl_admin.rotate_server_cert() first.")));

	hba_file_lock_rules();
	have = find_standby(want.name);
	if (have != NULL)
	{
		Datum		same_net = DirectFunctionCall2(network_eq,
												   DirectFunctionCall1(cidr_in, CStringGetDatum(have->address)),
												   DirectFunctionCall1(cidr_in, CStringGetDatum(want.address)));

		if (!DatumGetBool(same_net))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("standby \"%s\" already exists with address %s", have->name, have->address),
					 errhint("Remove it first with pgrepl_admin.remove_standby('%s'), or choose another name.", have->name)));
		if (strcmp(have->auth, want.auth) != 0 ||
			(role_given && strcmp(have->role_name, want.role_name) != 0) ||
			((have->slot_name != NULL) != create_slot))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("standby \"%s\" already exists with other settings", have->name),
					 errdetail("It uses role \"%s\", %s authentication and %s.", have->role_name, have->auth,
							   have->slot_name ? psprintf("slot \"%s\"", have->slot_name) : "no slot"),
					 errhint("Remove it first with pgrepl_admin.remove_standby('%s'), or choose another name.", have->name)));
		return_row(fcinfo, have, NULL, NULL, NULL,
				   synchronous ? sync_setting_standby_added(have->name, true) : NULL);
		return (Datum) 0;
	}

	/* check what can be checked before anything changes */
	if (create_slot)
		check_new_slot(want.slot_name);
	want.role_created = !OidIsValid(get_role_oid(want.role_name, true));
	if (!want.role_created && !role_given)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("role \"%s\" already exists", want.role_name),
				 errhint("To let the standby log in as that role, pass role_name => '%s'.", want.role_name)));

	password = replication_role_create(want.role_name, NULL, strcmp(want.auth, "scram-sha-256") == 0, true);

	rule.connection_type = "hostssl";
	rule.database = "replication";
	rule.role_name = want.role_name;
	rule.address = want.address;
	rule.method = want.auth;
	rule.comment = psprintf("standby %s", want.name);
	(void) hba_rules_add(&rule, false);

	argv[0] = want.name;
	argv[1] = want.role_name;
	argv[2] = want.address;
	argv[3] = want.auth;
	argv[4] = want.slot_name;
	argv[5] = want.role_created ? "true" : "false";
	argv[6] = dialed_host();
	(void) pgrepl_query_exec("INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth, slot_name, role_created, primary_host) "
							 "VALUES ($1, $2::name, $3::cidr, $4, $5::name, $6::boolean, $7)",
							 7, argv);
	sync_state = sync_setting_standby_added(want.name, synchronous);
	if (create_slot)
		slot_at_commit(want.slot_name, true);

	if (strcmp(want.auth, "cert") == 0)
	{
		TimestampTz not_after;

		cert_issue_client(want.role_name, CLIENT_CERT_SECONDS, CERT_KEY_EC_P256,
						  &cert_pem, &key_pem, &not_after);
	}

	return_row(fcinfo, &want, password, cert_pem, key_pem, synchronous ? sync_state : NULL);
	if (key_pem)
		explicit_bzero(key_pem, strlen(key_pem));
	if (password)
		explicit_bzero(password, strlen(password));
	return (Datum) 0;
}

/*
 * slot_is_synchronized_standby_slot
 *		Whether slot is named in synchronized_standby_slots (PostgreSQL 17;
 *		always false before, where the setting does not exist).
 */
static bool
slot_is_synchronized_standby_slot(const char *slot)
{
	const char *value = GetConfigOption("synchronized_standby_slots", true, false);
	List	   *names = NIL;
	ListCell   *lc;

	if (value == NULL || value[0] == '\0')
		return false;
	/* the server checked the list when it was set */
	if (!SplitIdentifierString(pstrdup(value), ',', &names))
		return false;
	foreach(lc, names)
	{
		if (strcmp((const char *) lfirst(lc), slot) == 0)
			return true;
	}
	return false;
}

/*
 * remove_standby(name, drop_slot)
 *		Remove the standby's rule, its role if add_standby() created it
 *		(unless something else still uses it: then the next standby with
 *		that role takes over dropping it) and, with drop_slot, its slot;
 *		the synchronous setting no longer names it.  False when there is no
 *		such standby.  Refused while the slot is active, and when the
 *		synchronous setting would be left with fewer standbys than it waits
 *		for.
 */
Datum
remove_standby(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		drop_slot;
	Standby    *s;
	int64		rule_id;
	const char *argv[1];
	bool		role_in_use;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "name");
	pgrepl_require_arg(fcinfo, 1, "drop_slot");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	drop_slot = PG_GETARG_BOOL(1);

	hba_file_lock_rules();
	s = find_standby(name);
	if (s == NULL)
	{
		ereport(NOTICE,
				(errmsg("standby \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}

	if (drop_slot && s->slot_name != NULL)
	{
		ReplicationSlot *slot;
		int			active_pid = 0;

		LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
		slot = SearchNamedReplicationSlot(s->slot_name, false);
		if (slot != NULL)
		{
			SpinLockAcquire(&slot->mutex);
			active_pid = PGREPL_SLOT_ACTIVE_PID(slot);
			SpinLockRelease(&slot->mutex);
		}
		LWLockRelease(ReplicationSlotControlLock);
		if (active_pid != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" of standby \"%s\" is active", s->slot_name, s->name),
					 errdetail("The standby streams from it through the process with PID %d.", active_pid),
					 errhint("Stop the standby first, or call pgrepl_admin.remove_standby('%s', drop_slot => false) to keep the slot.",
							 s->name)));
		if (slot_is_synchronized_standby_slot(s->slot_name))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot \"%s\" of standby \"%s\" is listed in synchronized_standby_slots",
							s->slot_name, s->name),
					 errdetail("Logical walsenders of failover slots wait for the physical slots listed there; without this slot they would wait for ever."),
					 errhint("Take the slot out of synchronized_standby_slots first (ALTER SYSTEM, then pg_reload_conf()), or call pgrepl_admin.remove_standby('%s', drop_slot => false) to keep the slot.",
							 s->name)));
	}

	argv[0] = s->name;
	(void) pgrepl_query_exec("DELETE FROM pgrepl_admin.standbys WHERE name = $1", 1, argv);
	sync_setting_standby_removed(s->name);

	rule_id = hba_rules_find("hostssl", "replication", s->role_name, s->address, NULL);
	if (rule_id >= 0)
		(void) hba_rules_remove(rule_id);

	argv[0] = s->role_name;
	role_in_use = pgrepl_query_exec("SELECT FROM pgrepl_admin.standbys WHERE role_name = $1::name "
									"UNION ALL SELECT FROM pgrepl_admin.hba_rules WHERE role_name = $1::name",
									1, argv) > 0;
	if (!s->role_created)
		ereport(NOTICE,
				(errmsg("role \"%s\" is kept: add_standby() did not create it", s->role_name)));
	else if (role_in_use)
	{
		/* the last standby that uses the role drops it */
		(void) pgrepl_query_exec("UPDATE pgrepl_admin.standbys SET role_created = true WHERE name = "
								 "(SELECT min(name) FROM pgrepl_admin.standbys WHERE role_name = $1::name)",
								 1, argv);
		ereport(NOTICE,
				(errmsg("role \"%s\" is kept: other standbys or rules still use it", s->role_name)));
	}
	else
		(void) replication_role_drop(s->role_name);

	if (drop_slot && s->slot_name != NULL)
		slot_at_commit(s->slot_name, false);
	PG_RETURN_BOOL(true);
}
