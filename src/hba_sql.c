/*-------------------------------------------------------------------------
 *
 * hba_sql.c
 *	  SQL face of the managed pg_hba.conf rules: hba_add(), hba_remove(),
 *	  hba_sync(), hba_file_status() behind the hba_status view, and the
 *	  trigger that makes any change of pgrepl_admin.hba_rules reach the
 *	  file at commit.
 *
 * hba_add() refuses what would weaken authentication unless forced (trust
 * and password, non-TLS replication, a rule for every address), names
 * that do not exist (so that "all", "+group" or "@file" can only ever be
 * a real role or database, and quoted), and fields the file cannot hold;
 * then it checks the rule's line with the server's parser, so a rule the
 * server would reject fails where it is added.  The file itself changes
 * at commit (hba_file.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <netinet/in.h>

#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "durable_file.h"
#include "hba_restore.h"
#include "hba_sql.h"
#include "home_database.h"
#include "spi_query.h"
#include "sql_args.h"

#define HBA_STATUS_COLS 5

PG_FUNCTION_INFO_V1(hba_add);
PG_FUNCTION_INFO_V1(hba_remove);
PG_FUNCTION_INFO_V1(hba_sync);
PG_FUNCTION_INFO_V1(hba_file_status);
PG_FUNCTION_INFO_V1(hba_rules_changed);

static const char *const connection_types[] = {"hostssl", "host", "hostnossl", NULL};
static const char *const methods[] = {"scram-sha-256", "cert", "md5", "reject", "trust", "password", NULL};

static bool
in_list(const char *value, const char *const *list)
{
	for (int i = 0; list[i]; i++)
	{
		if (strcmp(value, list[i]) == 0)
			return true;
	}
	return false;
}

/*
 * check_not_regex_name
 *		Refuse a role or database name that starts with "/": from
 *		PostgreSQL 16 pg_hba.conf reads such a token as a regular
 *		expression, even quoted, so the rule would admit other names.  It is
 *		refused on every version, so that no rule changes meaning when the
 *		server is upgraded.
 */
static void
check_not_regex_name(const char *kind, const char *name)
{
	if (name[0] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name \"%s\" cannot be used in a pg_hba.conf rule", kind, name),
				 errdetail("From PostgreSQL 16 on, pg_hba.conf reads a name that starts with \"/\" as a regular expression, even when it is quoted."),
				 errhint("Use a %s whose name does not start with \"/\".", kind)));
}

/*
 * check_rule
 *		Every check of a new rule, before anything changes: fields, names
 *		that must exist, and what is refused unless forced.
 */
static void
check_rule(const HbaRule *rule, int family, int bits, bool force)
{
	bool		replication = strcmp(rule->database, "replication") == 0;

	if (!in_list(rule->connection_type, connection_types))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported connection type \"%s\"", rule->connection_type),
				 errhint("Use hostssl, host or hostnossl.")));
	if (!in_list(rule->method, methods))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported authentication method \"%s\"", rule->method),
				 errhint("Use scram-sha-256, cert, md5, reject, or with force => true trust or password.")));
	hba_file_check_fields(rule);
	check_not_regex_name("role", rule->role_name);
	check_not_regex_name("database", rule->database);

	if (!OidIsValid(get_role_oid(rule->role_name, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", rule->role_name),
				 errhint("A rule names one existing role; create it first, for example with pgrepl_admin.create_replication_role().")));
	if (!replication && !OidIsValid(get_database_oid(rule->database, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("database \"%s\" does not exist", rule->database),
				 errhint("A rule names one existing database, or 'replication' for streaming replication connections.")));

	if (!force && (strcmp(rule->method, "trust") == 0 || strcmp(rule->method, "password") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("authentication method \"%s\" is refused", rule->method),
				 errdetail("The trust method admits anyone who can reach the server, and the password method sends the password in clear text."),
				 errhint("Use scram-sha-256 or cert, or pass force => true.")));
	if (!force && replication && strcmp(rule->connection_type, "hostssl") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("replication rules must use hostssl"),
				 errdetail("Without TLS, the replication stream crosses the network unencrypted."),
				 errhint("Use connection_type => 'hostssl', or pass force => true.")));
	if (!force && bits == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("address %s admits every %s host", rule->address,
						family == PGSQL_AF_INET ? "IPv4" : "IPv6"),
				 errhint("Give the address or network the clients connect from, or pass force => true.")));
	if (strcmp(rule->method, "md5") == 0)
		ereport(WARNING,
				(errmsg("authentication method md5 is deprecated"),
				 errhint("Use scram-sha-256: md5 hashes can be replayed, and PostgreSQL will remove md5.")));
}

/*
 * hba_rules_check
 *		check_rule() for a rule whose address is cidr text: what
 *		hba_apply_restored() asks of each waiting rule.
 */
void
hba_rules_check(const HbaRule *rule, bool force)
{
	inet	   *ip = DatumGetInetPP(DirectFunctionCall1(cidr_in, CStringGetDatum(rule->address)));

	check_rule(rule, ip_family(ip), ip_bits(ip), force);
}

/*
 * hba_rules_find
 *		The rule with these connection type, database, role and address, or
 *		-1; *method receives its method.  The caller holds the lock.
 */
int64
hba_rules_find(const char *connection_type, const char *database,
			   const char *role_name, const char *address, char **method)
{
	const char *argv[4] = {connection_type, database, role_name, address};
	char	  **row;

	row = pgrepl_query_row("SELECT rule_id, method FROM pgrepl_admin.hba_rules "
						   "WHERE connection_type = $1 AND database = $2 "
						   "AND role_name = $3::name AND address = $4::cidr",
						   4, argv);
	if (row == NULL)
		return -1;
	if (method)
		*method = row[1];
	return pg_strtoint64(row[0]);
}

/*
 * hba_rules_add
 *		Add a checked rule (address as cidr text) and return its id; the
 *		same rule again returns the existing id.  A rule for the same
 *		connection type, database, role and address with another method is
 *		an error.  The file follows at commit.
 */
int64
hba_rules_add(HbaRule *rule, bool force)
{
	Datum		cidr = DirectFunctionCall1(cidr_in, CStringGetDatum(rule->address));
	inet	   *ip = DatumGetInetPP(cidr);
	char	   *method = NULL;
	int64		id;
	const char *argv[6];
	char	  **row;

	rule->address = DatumGetCString(DirectFunctionCall1(inet_out, cidr));
	if (strchr(rule->address, '/') == NULL)
		rule->address = psprintf("%s/%d", rule->address, ip_bits(ip));
	/* locked first: remove_standby() drops roles while it holds the lock */
	hba_file_lock_rules();
	check_rule(rule, ip_family(ip), ip_bits(ip), force);
	rule->rule_id = 0;
	hba_file_check_rule(rule);

	id = hba_rules_find(rule->connection_type, rule->database, rule->role_name,
						rule->address, &method);
	if (id >= 0)
	{
		if (strcmp(method, rule->method) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("pgrepl_admin rule %lld already admits role \"%s\" from %s, with method %s",
							(long long) id, rule->role_name, rule->address, method),
					 errhint("Remove it first with pgrepl_admin.hba_remove(%lld).", (long long) id)));
		/* added through the API, checked above: a waiting copy is applied */
		argv[0] = psprintf(INT64_FORMAT, id);
		(void) hba_restore_query_row("UPDATE pgrepl_admin.hba_rules SET applied = true "
									 "WHERE rule_id = $1::bigint AND NOT applied RETURNING rule_id",
									 1, argv);
		return id;
	}

	argv[0] = rule->connection_type;
	argv[1] = rule->database;
	argv[2] = rule->role_name;
	argv[3] = rule->address;
	argv[4] = rule->method;
	argv[5] = rule->comment;
	row = hba_restore_query_row("INSERT INTO pgrepl_admin.hba_rules "
								"(connection_type, database, role_name, address, method, comment, applied) "
								"VALUES ($1, $2, $3::name, $4::cidr, $5, $6, true) RETURNING rule_id",
								6, argv);
	id = pg_strtoint64(row[0]);
	return id;
}

/*
 * hba_rules_remove
 *		Delete a rule; false when there is none with that id.
 */
bool
hba_rules_remove(int64 rule_id)
{
	const char *argv[1] = {psprintf(INT64_FORMAT, rule_id)};

	hba_file_lock_rules();
	return pgrepl_query_exec("DELETE FROM pgrepl_admin.hba_rules WHERE rule_id = $1::bigint",
							 1, argv) > 0;
}

/*
 * hba_add(address, role_name, database, method, connection_type, comment, force)
 *		Add a managed rule; returns its id.
 */
Datum
hba_add(PG_FUNCTION_ARGS)
{
	HbaRule		rule = {0};
	inet	   *address;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "address");
	pgrepl_require_arg(fcinfo, 1, "role_name");
	pgrepl_require_arg(fcinfo, 2, "database");
	pgrepl_require_arg(fcinfo, 3, "method");
	pgrepl_require_arg(fcinfo, 4, "connection_type");
	pgrepl_require_arg(fcinfo, 6, "force");

	address = PG_GETARG_INET_PP(0);
	rule.address = DatumGetCString(DirectFunctionCall1(cidr_out, InetPGetDatum(address)));
	rule.role_name = pstrdup(NameStr(*PG_GETARG_NAME(1)));
	rule.database = text_to_cstring(PG_GETARG_TEXT_PP(2));
	rule.method = text_to_cstring(PG_GETARG_TEXT_PP(3));
	rule.connection_type = text_to_cstring(PG_GETARG_TEXT_PP(4));
	rule.comment = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));

	PG_RETURN_INT64(hba_rules_add(&rule, PG_GETARG_BOOL(6)));
}

/*
 * hba_remove(rule_id)
 *		Remove a managed rule; false when there is none.  A rule that
 *		admits a provisioned standby goes with remove_standby().
 */
Datum
hba_remove(PG_FUNCTION_ARGS)
{
	int64		rule_id;
	const char *argv[1];
	char	  **standby;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "rule_id");
	rule_id = PG_GETARG_INT64(0);
	argv[0] = psprintf(INT64_FORMAT, rule_id);

	hba_file_lock_rules();
	standby = pgrepl_query_row("SELECT s.name FROM pgrepl_admin.standbys s "
							   "JOIN pgrepl_admin.hba_rules r ON r.role_name = s.role_name "
							   " AND r.address = s.address AND r.database = 'replication' "
							   "WHERE r.rule_id = $1::bigint",
							   1, argv);
	if (standby != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("pgrepl_admin rule %lld admits standby \"%s\"", (long long) rule_id, standby[0]),
				 errhint("Remove the standby with pgrepl_admin.remove_standby('%s').", standby[0])));

	if (hba_rules_remove(rule_id))
		PG_RETURN_BOOL(true);
	ereport(NOTICE,
			(errmsg("pgrepl_admin rule %lld does not exist, skipping", (long long) rule_id)));
	PG_RETURN_BOOL(false);
}

/*
 * hba_sync()
 *		Rewrite the managed block from hba_rules at commit, and reload.
 */
Datum
hba_sync(PG_FUNCTION_ARGS)
{
	pgrepl_require_home_database();
	hba_file_lock_rules();
	hba_file_write_at_commit(true);
	PG_RETURN_VOID();
}

/*
 * hba_rules_changed()
 *		Statement trigger on hba_rules: whatever changed the table, the
 *		file follows when the transaction commits.
 */
Datum
hba_rules_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("hba_rules_changed() must be called as a trigger")));
	pgrepl_require_home_database();
	hba_file_lock_rules();
	hba_file_write_at_commit(false);
	return PointerGetDatum(NULL);
}

/* Whether the earlier line's address range holds the rule's whole range. */
static bool
address_covers(const HbaLine *earlier, const HbaLine *rule)
{
	const unsigned char *ea;
	const unsigned char *em;
	const unsigned char *ra;
	const unsigned char *rm;
	int			n;

	if (earlier->ip_cmp_method == ipCmpAll)
		return true;
	if (earlier->ip_cmp_method != ipCmpMask || earlier->hostname != NULL ||
		rule->ip_cmp_method != ipCmpMask || rule->hostname != NULL ||
		earlier->addr.ss_family != rule->addr.ss_family)
		return false;
	if (earlier->addr.ss_family == AF_INET)
	{
		ea = (const unsigned char *) &((const struct sockaddr_in *) &earlier->addr)->sin_addr;
		em = (const unsigned char *) &((const struct sockaddr_in *) &earlier->mask)->sin_addr;
		ra = (const unsigned char *) &((const struct sockaddr_in *) &rule->addr)->sin_addr;
		rm = (const unsigned char *) &((const struct sockaddr_in *) &rule->mask)->sin_addr;
		n = 4;
	}
	else
	{
		ea = (const unsigned char *) &((const struct sockaddr_in6 *) &earlier->addr)->sin6_addr;
		em = (const unsigned char *) &((const struct sockaddr_in6 *) &earlier->mask)->sin6_addr;
		ra = (const unsigned char *) &((const struct sockaddr_in6 *) &rule->addr)->sin6_addr;
		rm = (const unsigned char *) &((const struct sockaddr_in6 *) &rule->mask)->sin6_addr;
		n = 16;
	}
	for (int i = 0; i < n; i++)
	{
		/* the earlier mask is no longer than the rule's, and the networks agree under it */
		if ((em[i] & rm[i]) != em[i] || (ra[i] & em[i]) != (ea[i] & em[i]))
			return false;
	}
	return true;
}

/* Whether an earlier line's database list matches the rule's connections. */
static bool
databases_cover(const List *databases, const HbaRule *rule)
{
	bool		replication = strcmp(rule->database, "replication") == 0;
	const ListCell *lc;

	foreach(lc, databases)
	{
		const AuthToken *tok = lfirst(lc);

		/* a regular expression may match it: possibly covering */
		if (pgrepl_token_is_regex(tok))
			return true;
		if (!tok->quoted && strcmp(tok->string, replication ? "replication" : "all") == 0)
			return true;
		if (!replication && (tok->quoted || strcmp(tok->string, "replication") != 0) &&
			strcmp(tok->string, rule->database) == 0)
			return true;
	}
	return false;
}

/* Whether an earlier line's role list matches the rule's role. */
static bool
roles_cover(const List *roles, const HbaRule *rule)
{
	Oid			roleid = get_role_oid(rule->role_name, true);
	const ListCell *lc;

	foreach(lc, roles)
	{
		const AuthToken *tok = lfirst(lc);

		if (pgrepl_token_is_regex(tok))
			return true;
		if (!tok->quoted && strcmp(tok->string, "all") == 0)
			return true;
		if (!tok->quoted && tok->string[0] == '+')
		{
			Oid			group = get_role_oid(tok->string + 1, true);

			if (OidIsValid(roleid) && OidIsValid(group) && is_member_of_role_nosuper(roleid, group))
				return true;
		}
		else if (strcmp(tok->string, rule->role_name) == 0)
			return true;
	}
	return false;
}

/*
 * line_covers
 *		Whether an earlier line of pg_hba.conf matches connections that the
 *		rule is meant for, so that the server stops there first.
 */
static bool
line_covers(const HbaLine *earlier, const HbaLine *parsed, const HbaRule *rule)
{
	switch (earlier->conntype)
	{
		case ctLocal:
		case ctHostGSS:
			return false;
		case ctHostSSL:
			if (parsed->conntype == ctHostNoSSL)
				return false;
			break;
		case ctHostNoSSL:
			if (parsed->conntype == ctHostSSL)
				return false;
			break;
		case ctHost:
		case ctHostNoGSS:
			break;
	}
	return address_covers(earlier, parsed) &&
		databases_cover(earlier->databases, rule) &&
		roles_cover(earlier->roles, rule);
}

/*
 * hba_file_status()
 *		For each row of hba_rules: its line in the live pg_hba.conf, whether
 *		the server has loaded it, the earlier line that shadows it, and any
 *		error.  "Loaded" means the rule's line is in the file as rendered,
 *		the server accepts every line of the file, and it reloaded its
 *		configuration after the file last changed.  The parser's message
 *		about a line outside the managed block is the administrator's
 *		text: like pg_hba_file_rules, it is shown to superusers only
 *		(pg_monitor learns that such a line is invalid, not which).
 */
Datum
hba_file_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *rules;
	size_t		len;
	char	   *text;
	List	   *lines;
	HbaFileLine *bad = NULL;
	struct stat st;
	bool		reloaded;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	rules = hba_file_read_rules();
	text = durable_file_read(HbaFileName, &len, false);
	lines = hba_file_parse_text(text, len);
	if (stat(HbaFileName, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", HbaFileName)));
	reloaded = PgReloadTime >= time_t_to_timestamptz(st.st_mtime);
	foreach(lc, lines)
	{
		HbaFileLine *line = lfirst(lc);

		if (line->parsed == NULL && bad == NULL)
			bad = line;
	}

	foreach(lc, rules)
	{
		HbaRule    *rule = lfirst(lc);
		HbaFileLine *mine = NULL;
		HbaFileLine *shadow = NULL;
		char	   *want = hba_file_rule_line(rule);
		char	   *error = NULL;
		Datum		values[HBA_STATUS_COLS];
		bool		nulls[HBA_STATUS_COLS] = {0};
		ListCell   *lc2;

		want[strlen(want) - 1] = '\0';
		foreach(lc2, lines)
		{
			HbaFileLine *line = lfirst(lc2);

			if (line->rule_id == rule->rule_id)
			{
				mine = line;
				break;
			}
		}
		if (mine != NULL && mine->parsed != NULL)
		{
			foreach(lc2, lines)
			{
				HbaFileLine *line = lfirst(lc2);

				if (line == mine)
					break;
				if (line->parsed != NULL && line_covers(line->parsed, mine->parsed, rule))
				{
					shadow = line;
					break;
				}
			}
		}

		if (mine == NULL)
			error = "not in the managed block of pg_hba.conf; pgrepl_admin.hba_sync() writes it";
		else if (strcmp(mine->raw_line, want) != 0)
			error = "its line in pg_hba.conf differs from the rule; pgrepl_admin.hba_sync() rewrites it";
		else if (mine->error != NULL)
			error = mine->error;
		else if (bad != NULL && bad->rule_id < 0 && !superuser())
			error = "a line of pg_hba.conf outside the managed block is invalid, so the server keeps its previous rules; a superuser sees which in pg_hba_file_rules";
		else if (bad != NULL)
			error = psprintf("line %d of \"%s\" is invalid (%s), so the server keeps its previous rules",
							 bad->line_num, bad->file_name, bad->error ? bad->error : "invalid line");
		else if (shadow != NULL && shadow->included)
			error = psprintf("line %d of \"%s\", included in pg_hba.conf before the rule, may match its connections first",
							 shadow->line_num, shadow->file_name);
		else if (shadow != NULL)
			error = "an earlier line of pg_hba.conf matches its connections first (see shadowed_by)";

		values[0] = Int64GetDatum(rule->rule_id);
		values[1] = Int32GetDatum(mine ? mine->line_num : 0);
		nulls[1] = (mine == NULL);
		values[2] = BoolGetDatum(mine != NULL && mine->parsed != NULL && bad == NULL &&
								 reloaded && strcmp(mine->raw_line, want) == 0);
		values[3] = Int32GetDatum(shadow ? shadow->line_num : 0);
		nulls[3] = (shadow == NULL);
		values[4] = error ? CStringGetTextDatum(error) : (Datum) 0;
		nulls[4] = (error == NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
