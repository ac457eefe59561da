/*-------------------------------------------------------------------------
 *
 * replication_role.c
 *	  create_replication_role() and drop_replication_role(): the roles
 *	  standbys log in as.
 *
 * The role is made through CreateRole(), the machinery of CREATE ROLE,
 * with the SCRAM-SHA-256 verifier computed here by scram_secret_build()
 * (OpenSSL's PBKDF2, faster than PostgreSQL 15's own loop, which matters
 * to add_standby() for many standbys): no SQL statement
 * carrying the password is ever built, so log_statement and
 * pg_stat_statements never see it.  A
 * generated password has 192 bits from pg_strong_random(), written in
 * URL-safe base64 (32 characters, no padding), so it can go into a
 * connection string or a .pgpass line unquoted; it is returned once and
 * kept nowhere but as the verifier.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "commands/user.h"
#include "common/base64.h"
#include "libpq/crypt.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "hba_file.h"
#include "home_database.h"
#include "replication_role.h"
#include "compat.h"
#include "scram_secret.h"
#include "spi_query.h"
#include "sql_args.h"

#define PASSWORD_RANDOM_BYTES 24

PG_FUNCTION_INFO_V1(create_replication_role);
PG_FUNCTION_INFO_V1(drop_replication_role);

/* PASSWORD_RANDOM_BYTES random bytes in URL-safe base64, palloc'd */
static char *
draw_password(void)
{
	unsigned char raw[PASSWORD_RANDOM_BYTES];
	int			len = pg_b64_enc_len(sizeof(raw));
	char	   *out = palloc(len + 1);
	int			n;

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for a password")));
	n = pgrepl_b64_encode(raw, sizeof(raw), out, len);
	explicit_bzero(raw, sizeof(raw));
	if (n < 0)
		elog(ERROR, "could not encode a password");
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++)
	{
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

/*
 * generate_password
 *		A new password: PASSWORD_RANDOM_BYTES random bytes in URL-safe
 *		base64.  It goes through check_password_hook like any other, and
 *		password policies commonly want letters and non-letters (passwordcheck
 *		does): a draw without both (about 1 in 800) is drawn again.
 */
static char *
generate_password(void)
{
	static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char	   *out;

	for (;;)
	{
		out = draw_password();
		if (strpbrk(out, letters) != NULL && strspn(out, letters) < strlen(out))
			return out;
		explicit_bzero(out, strlen(out));
		pfree(out);
	}
}

/*
 * A role name the rules and the file can hold.  CreateRole() is called
 * without the grammar, which is where CREATE ROLE refuses "public" and
 * "none" (even quoted), so they are refused here; the "pg_" prefix is
 * refused by CreateRole() itself.
 */
static void
check_role_name(const char *name)
{
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role_name must not be empty")));
	if (strcmp(name, "public") == 0 || strcmp(name, "none") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("role name \"%s\" is reserved", name),
				 errdetail("It is a keyword wherever SQL expects a role name.")));
	for (const char *p = name; *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("role_name must not contain control characters")));
	}
}

/*
 * refuse_superuser
 *		A standby's role is made for replication only: an existing superuser
 *		is never turned into one (its password would be handed to a
 *		standby, and a rule would admit it over the network), nor dropped.
 */
static void
refuse_superuser(const char *role_name)
{
	if (superuser_arg(get_role_oid(role_name, false)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("role \"%s\" is a superuser", role_name),
				 errdetail("pgrepl_admin manages roles made for replication only."),
				 errhint("Name a role that is not a superuser; manage superusers with ALTER ROLE and DROP ROLE.")));
}

/*
 * check_password_policy
 *		Give check_password_hook (passwordcheck, or any password policy) the
 *		plain-text password, as CREATE ROLE ... PASSWORD does before it
 *		computes the secret: a secret hides from the policy everything but
 *		whether it equals the role name.  The hook reports a refusal with an
 *		error of its own; the password reaches no message here.
 */
static void
check_password_policy(const char *role_name, const char *password)
{
	if (check_password_hook)
		(*check_password_hook) (role_name, password, PASSWORD_TYPE_PLAINTEXT,
								(Datum) 0, true);
}

/*
 * set_role_secret
 *		Store a SCRAM secret as a new role's password, as ALTER ROLE ...
 *		PASSWORD would, once check_password_policy has seen the password.  CREATE ROLE
 *		would also make sure the secret is not that of an empty password by
 *		recomputing it with PostgreSQL's own PBKDF2, which costs more than
 *		making the secret did; here the password is never empty: an empty
 *		one is refused above, and SASLprep never yields one (for a password
 *		it would map to nothing it fails, and the password is used as it
 *		is, as PostgreSQL does).
 */
static void
set_role_secret(const char *role_name, const char *secret)
{
	Relation	rel;
	HeapTuple	tuple;
	HeapTuple	newtuple;
	Datum		values[Natts_pg_authid] = {0};
	bool		nulls[Natts_pg_authid] = {0};
	bool		replace[Natts_pg_authid] = {0};

	rel = table_open(AuthIdRelationId, RowExclusiveLock);
	tuple = SearchSysCache1(AUTHNAME, CStringGetDatum(role_name));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for role \"%s\"", role_name);
	values[Anum_pg_authid_rolpassword - 1] = CStringGetTextDatum(secret);
	replace[Anum_pg_authid_rolpassword - 1] = true;
	newtuple = heap_modify_tuple(tuple, RelationGetDescr(rel), values, nulls, replace);
	CatalogTupleUpdate(rel, &tuple->t_self, newtuple);
	InvokeObjectPostAlterHook(AuthIdRelationId, ((Form_pg_authid) GETSTRUCT(tuple))->oid, 0);
	ReleaseSysCache(tuple);
	heap_freetuple(newtuple);
	table_close(rel, NoLock);
}

static DefElem *
bool_option(const char *name, bool value)
{
	return makeDefElem(pstrdup(name), (Node *) makeBoolean(value), -1);
}

/*
 * replication_role_create
 *		Make role_name a LOGIN REPLICATION role.  A new role gets password
 *		(generated when NULL and with_password) as a SCRAM verifier, and the
 *		generated password is returned; otherwise NULL.  An existing role is
 *		an error unless if_not_exists: it then gets LOGIN REPLICATION and
 *		keeps its password.
 */
char *
replication_role_create(const char *role_name, const char *password,
						bool with_password, bool if_not_exists)
{
	ParseState *pstate = make_parsestate(NULL);
	char	   *generated = NULL;
	List	   *options;

	check_role_name(role_name);
	options = list_make2(bool_option("canlogin", true), bool_option("isreplication", true));

	if (OidIsValid(get_role_oid(role_name, true)))
	{
		AlterRoleStmt *stmt = makeNode(AlterRoleStmt);

		if (!if_not_exists)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("role \"%s\" already exists", role_name),
					 errhint("Pass if_not_exists => true to make it a LOGIN REPLICATION role and keep its password.")));
		refuse_superuser(role_name);
		stmt->role = makeNode(RoleSpec);
		stmt->role->roletype = ROLESPEC_CSTRING;
		stmt->role->rolename = pstrdup(role_name);
		stmt->role->location = -1;
		stmt->options = options;
		stmt->action = 1;
		(void) AlterRole(pstate, stmt);
	}
	else
	{
		CreateRoleStmt *stmt = makeNode(CreateRoleStmt);
		char	   *verifier = NULL;

		if (with_password)
		{
			if (password == NULL)
				password = generated = generate_password();
			else if (password[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("password must not be empty"),
						 errhint("Pass NULL to have a strong password generated.")));
			check_password_policy(role_name, password);
			verifier = scram_secret_build(password);
		}
		stmt->stmt_type = ROLESTMT_ROLE;
		stmt->role = pstrdup(role_name);
		stmt->options = options;
		(void) CreateRole(pstate, stmt);
		if (verifier != NULL)
		{
			CommandCounterIncrement();
			set_role_secret(role_name, verifier);
		}
	}
	CommandCounterIncrement();
	return generated;
}

/* The standby or the rule that still needs role_name, or NULL. */
static char *
role_user(const char *role_name)
{
	char	  **row;

	row = pgrepl_query_row("SELECT 'standby ' || pg_catalog.quote_ident(name) FROM pgrepl_admin.standbys "
						   "WHERE role_name = $1::name "
						   "UNION ALL "
						   "SELECT 'pg_hba.conf rule ' || rule_id FROM pgrepl_admin.hba_rules "
						   "WHERE role_name = $1::name LIMIT 1",
						   1, &role_name);
	return row ? row[0] : NULL;
}

/*
 * replication_role_drop
 *		Drop a replication role; false when it does not exist.  Refused for
 *		a role without REPLICATION and for one a standby or rule still
 *		names.
 */
bool
replication_role_drop(const char *role_name)
{
	HeapTuple	tup;
	bool		replication;
	char	   *user;
	DropRoleStmt *stmt;
	RoleSpec   *spec;

	/* the writers' lock: no standby or rule can take the role meanwhile */
	hba_file_lock_rules();
	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(role_name));
	if (!HeapTupleIsValid(tup))
		return false;
	replication = ((Form_pg_authid) GETSTRUCT(tup))->rolreplication;
	ReleaseSysCache(tup);
	refuse_superuser(role_name);
	if (!replication)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("role \"%s\" is not a replication role", role_name),
				 errhint("Drop other roles with DROP ROLE.")));
	user = role_user(role_name);
	if (user != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" is still used by %s", role_name, user),
				 errhint("Remove the standby with pgrepl_admin.remove_standby() or the rule with pgrepl_admin.hba_remove() first.")));

	spec = makeNode(RoleSpec);
	spec->roletype = ROLESPEC_CSTRING;
	spec->rolename = pstrdup(role_name);
	spec->location = -1;
	stmt = makeNode(DropRoleStmt);
	stmt->roles = list_make1(spec);
	stmt->missing_ok = false;
	DropRole(stmt);
	CommandCounterIncrement();
	return true;
}

/*
 * create_replication_role(role_name, password, if_not_exists)
 *		A LOGIN REPLICATION role; returns the generated password, once.
 */
Datum
create_replication_role(PG_FUNCTION_ARGS)
{
	char	   *password;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "role_name");
	pgrepl_require_arg(fcinfo, 2, "if_not_exists");
	password = replication_role_create(NameStr(*PG_GETARG_NAME(0)),
									   PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
									   true, PG_GETARG_BOOL(2));
	if (password == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(password));
}

/*
 * drop_replication_role(role_name)
 *		Drop a replication role; false (with a NOTICE) when there is none.
 */
Datum
drop_replication_role(PG_FUNCTION_ARGS)
{
	const char *role_name;

	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "role_name");
	role_name = NameStr(*PG_GETARG_NAME(0));
	if (replication_role_drop(role_name))
		PG_RETURN_BOOL(true);
	ereport(NOTICE,
			(errmsg("role \"%s\" does not exist, skipping", role_name)));
	PG_RETURN_BOOL(false);
}
