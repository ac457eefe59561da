/*-------------------------------------------------------------------------
 *
 * cert_sql.c
 *	  SQL face of the certificates: ca_init, ca_retire, ca_certificate,
 *	  rotate_server_cert, issue_client_cert and the certificates view.
 *
 * Each function checks all its arguments before it changes anything, and
 * reports NULLs, unknown key types, bad validities and bad host names with
 * a specific SQLSTATE.  Private keys leave only through
 * issue_client_cert's result; they are never stored in a table, shown in
 * the view or put in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "cert_ops.h"
#include "cert_sql.h"
#include "compat.h"
#include "home_database.h"
#include "spi_query.h"
#include "sql_args.h"
#include "tls_probe.h"
#include "sql_version.h"

#define CERTIFICATES_COLS 14
#define CLIENT_CERT_COLS 4
#define MAX_COMMON_NAME_LEN 64

PG_FUNCTION_INFO_V1(certificates);
PG_FUNCTION_INFO_V1(ca_init);
PG_FUNCTION_INFO_V1(ca_retire);
PG_FUNCTION_INFO_V1(ca_certificate);
PG_FUNCTION_INFO_V1(rotate_server_cert);
PG_FUNCTION_INFO_V1(issue_client_cert);
PG_FUNCTION_INFO_V1(migrate_ca_key_1_1);

/* A subject common name: 1 to 64 characters, none of them control characters. */
static void
check_common_name(const char *cn, const char *argname)
{
	size_t		len = strlen(cn);

	if (len == 0 || pg_mbstrlen(cn) > MAX_COMMON_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have 1 to %d characters", argname, MAX_COMMON_NAME_LEN)));
	for (size_t i = 0; i < len; i++)
	{
		if ((unsigned char) cn[i] < 0x20 || cn[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", argname)));
	}
}

/*
 * certificate_values
 *		One row of the certificates view.  served_fp is what the running
 *		server presents, NULL when that could not be learnt.
 */
static void
certificate_values(const CertEntry *entry, const char *served_fp,
				   Datum *values, bool *nulls)
{
	const CertInfo *info = &entry->info;
	TimestampTz now = GetCurrentTimestamp();
	Datum	   *sans;
	int			nsans = list_length(info->sans);
	int			i = 0;
	ListCell   *lc;

	memset(nulls, 0, sizeof(bool) * CERTIFICATES_COLS);
	values[0] = CStringGetTextDatum(cert_kind_name(entry->kind));
	values[1] = CStringGetTextDatum(entry->path);
	values[2] = CStringGetTextDatum(info->subject);
	values[3] = CStringGetTextDatum(info->issuer);
	values[4] = CStringGetTextDatum(info->serial);
	values[5] = TimestampTzGetDatum(info->not_before);
	values[6] = TimestampTzGetDatum(info->not_after);
	values[7] = DirectFunctionCall2(timestamp_mi,
									TimestampTzGetDatum(info->not_after),
									TimestampTzGetDatum(now));
	values[8] = CStringGetTextDatum(info->fingerprint_sha256);
	values[9] = CStringGetTextDatum(info->key_type);

	sans = palloc(sizeof(Datum) * Max(nsans, 1));
	foreach(lc, info->sans)
		sans[i++] = CStringGetTextDatum(lfirst(lc));
	values[10] = PointerGetDatum(construct_array(sans, nsans, TEXTOID, -1, false, TYPALIGN_INT));

	values[11] = BoolGetDatum(info->is_ca);
	values[12] = BoolGetDatum(info->key_matches);
	nulls[12] = !info->has_key;
	values[13] = BoolGetDatum(served_fp != NULL &&
							  strcmp(served_fp, info->fingerprint_sha256) == 0);
	nulls[13] = (served_fp == NULL);
}

/* What the running server presents, or NULL when it cannot be asked. */
static char *
served_fingerprint(void)
{
	char	   *fp;
	char	   *detail;

	if (tls_probe_served_certificate(&fp, &detail) != TLS_PROBE_OK)
		return NULL;
	return fp;
}

/*
 * certificate_row
 *		One entry as a row of the certificates view (the function's result
 *		type); served is the fingerprint the server presents, or NULL when
 *		unknown.
 */
static Datum
certificate_row(FunctionCallInfo fcinfo, const CertEntry *entry, const char *served)
{
	TupleDesc	tupdesc;
	Datum		values[CERTIFICATES_COLS];
	bool		nulls[CERTIFICATES_COLS];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	certificate_values(entry, served, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/*
 * certificates
 *		SRF behind the certificates view: every managed certificate.
 */
Datum
certificates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *entries;
	char	   *served = NULL;
	ListCell   *lc;

	pgrepl_require_sql_version();
	InitMaterializedSRF(fcinfo, 0);
	entries = cert_store_entries(CERT_KINDS_ALL);
	if (cert_store_entry(entries, CERT_KIND_SERVER) != NULL)
		served = served_fingerprint();

	foreach(lc, entries)
	{
		Datum		values[CERTIFICATES_COLS];
		bool		nulls[CERTIFICATES_COLS];

		certificate_values(lfirst(lc), served, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * ca_init(common_name, valid_for, key_type, replace)
 *		Create the CA; with replace, a new CA that signs from now on while
 *		the old one stays trusted until ca_retire().
 */
Datum
ca_init(PG_FUNCTION_ARGS)
{
	char	   *cn;
	int64		seconds;
	CertKeyType key_type;
	CertEntry  *entry;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "common_name");
	pgrepl_require_arg(fcinfo, 1, "valid_for");
	pgrepl_require_arg(fcinfo, 2, "key_type");
	pgrepl_require_arg(fcinfo, 3, "replace");
	cn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_common_name(cn, "common_name");
	seconds = cert_validity_seconds(PG_GETARG_INTERVAL_P(1), "valid_for");
	key_type = cert_key_type_arg(text_to_cstring(PG_GETARG_TEXT_PP(2)));

	cert_store_lock();
	if (!PG_GETARG_BOOL(3))
	{
		CertEntry  *ca = cert_store_read_entry(CERT_KIND_CA);

		if (ca != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("pgrepl_admin already has a certificate authority"),
					 errdetail("Its serial is %s and it expires at %s.",
							   ca->info.serial, timestamptz_to_str(ca->info.not_after)),
					 errhint("To replace it, call pgrepl_admin.ca_init(replace => true); the old CA stays trusted until pgrepl_admin.ca_retire().")));
	}
	entry = cert_create_ca(cn, seconds, key_type);
	cert_reload_if_managed();
	PG_RETURN_DATUM(certificate_row(fcinfo, entry, NULL));
}

/* A serial number as the view shows it: upper-case hex, no separators. */
static char *
normalize_serial(const char *serial)
{
	char	   *out = palloc(strlen(serial) + 1);
	int			n = 0;

	for (const char *p = serial; *p; p++)
	{
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char) *p))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid serial number \"%s\"", serial),
					 errhint("Give the serial as hexadecimal digits, as in pgrepl_admin.certificates.")));
		out[n++] = pg_toupper((unsigned char) *p);
	}
	out[n] = '\0';
	if (n == 0 || n > 64)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid serial number \"%s\"", serial),
				 errhint("Give the serial as hexadecimal digits, as in pgrepl_admin.certificates.")));
	return out;
}

/*
 * ca_retire(serial)
 *		Stop trusting a replaced CA.  Refused for the current CA and for a
 *		CA that signed the server certificate in use; false when no
 *		retiring CA has this serial.
 */
Datum
ca_retire(PG_FUNCTION_ARGS)
{
	char	   *serial;
	List	   *entries;
	CertEntry  *ca;
	CertEntry  *server;
	ListCell   *lc;
	bool		retired;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "serial");
	serial = normalize_serial(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	cert_store_lock();
	entries = cert_store_entries(CERT_KINDS(CERT_KIND_CA) | CERT_KINDS(CERT_KIND_CA_RETIRING) |
								 CERT_KINDS(CERT_KIND_SERVER));
	ca = cert_store_entry(entries, CERT_KIND_CA);
	server = cert_store_entry(entries, CERT_KIND_SERVER);
	if (ca != NULL && strcmp(ca->info.serial, serial) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot retire the current certificate authority"),
				 errhint("Replace it first with pgrepl_admin.ca_init(replace => true).")));
	foreach(lc, entries)
	{
		CertEntry  *entry = lfirst(lc);

		if (entry->kind == CERT_KIND_CA_RETIRING && strcmp(entry->info.serial, serial) == 0 &&
			server != NULL && cert_signed_by(server->info.cert_pem, entry->info.cert_pem))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("the retiring certificate authority still signs the server certificate"),
					 errdetail("The server certificate in use was signed by the CA with serial %s.", serial),
					 errhint("Run pgrepl_admin.rotate_server_cert() first, so that the current CA signs it.")));
	}

	retired = cert_store_retire_ca(serial);
	if (retired)
		cert_reload_if_managed();
	else
		ereport(NOTICE,
				(errmsg("no retiring certificate authority has serial %s, skipping", serial)));
	PG_RETURN_BOOL(retired);
}

/*
 * ca_certificate()
 *		The PEM bundle of trusted CA certificates, for standbys' root.crt.
 */
Datum
ca_certificate(PG_FUNCTION_ARGS)
{
	char	   *bundle;

	pgrepl_require_sql_version();
	bundle = cert_store_bundle();
	if (bundle == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgrepl_admin has no certificate authority yet"),
				 errhint("Create one with pgrepl_admin.ca_init() or pgrepl_admin.rotate_server_cert().")));
	PG_RETURN_TEXT_P(cstring_to_text(bundle));
}

/* hostnames argument: a non-empty array of checked, distinct names. */
static List *
hostnames_arg(ArrayType *array)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	List	   *names = NIL;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("hostnames must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hostnames must not be empty"),
				 errhint("Pass NULL to use the machine's host name, localhost and the listen addresses.")));
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		ListCell   *lc;
		bool		dup = false;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hostnames must not contain NULL")));
		name = TextDatumGetCString(elems[i]);
		cert_check_hostname(name);
		foreach(lc, names)
			dup |= (pg_strcasecmp(lfirst(lc), name) == 0);
		if (!dup)
			names = lappend(names, name);
	}
	return names;
}

/*
 * dialed_hosts
 *		The hosts standbys dial to reach this server that are not among
 *		names (lower-case, comma-separated; NULL when there are none), and
 *		in *who each with who dials it: pgrepl_admin.primary_host when set,
 *		and the host add_standby() wrote for each registered standby;
 *		not Unix-domain socket directories ("/..." or "@..."), which carry
 *		no TLS.  Names are compared case-insensitively, as text.
 */
static char *
dialed_hosts(List *names, char **who)
{
	StringInfoData given;
	ListCell   *lc;
	char	  **row;
	const char *argv[1];

	initStringInfo(&given);
	appendStringInfoChar(&given, '{');
	foreach(lc, names)
		appendStringInfo(&given, "%s\"%s\"", given.len > 1 ? "," : "", (char *) lfirst(lc));
	appendStringInfoChar(&given, '}');
	argv[0] = given.data;
	row = pgrepl_query_row("SELECT string_agg(d.host, ',' ORDER BY d.host), "
						   "       string_agg(pg_catalog.format('%s (%s)', d.host, d.dialed_by), ', ' ORDER BY d.host) "
						   "FROM (SELECT pg_catalog.lower(x.host) AS host, "
						   "             string_agg(x.who, ', ' ORDER BY x.who) AS dialed_by "
						   "      FROM (SELECT NULLIF(pg_catalog.current_setting('pgrepl_admin.primary_host', true), '') AS host, "
						   "                   'pgrepl_admin.primary_host' AS who "
						   "            UNION ALL "
						   "            SELECT primary_host, 'standby ' || name FROM pgrepl_admin.standbys) x "
						   "      WHERE x.host IS NOT NULL AND pg_catalog.left(x.host, 1) NOT IN ('/', '@') "
						   "      GROUP BY pg_catalog.lower(x.host)) d "
						   "WHERE NOT d.host = ANY (pg_catalog.lower($1)::text[])",
						   1, argv);
	*who = row ? row[1] : NULL;
	return row ? row[0] : NULL;
}

/*
 * rotate_server_cert(hostnames, valid_for, key_type, force)
 *		A new server key and certificate, installed and served.  Hostnames
 *		that leave out a host the standbys dial are refused unless force;
 *		NULL hostnames (the machine's names) take those hosts in.  The row
 *		returned says served = true once the rotation saw the server present
 *		it (NULL when it could not ask: no TCP listen address).
 */
Datum
rotate_server_cert(PG_FUNCTION_ARGS)
{
	List	   *hostnames;
	int64		seconds;
	CertKeyType key_type;
	bool		force = false;
	char	   *missing;
	char	   *who;
	CertEntry  *entry;

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 1, "valid_for");
	pgrepl_require_arg(fcinfo, 2, "key_type");
	if (PG_NARGS() > 3)
	{
		pgrepl_require_arg(fcinfo, 3, "force");
		force = PG_GETARG_BOOL(3);
	}
	hostnames = PG_ARGISNULL(0) ? cert_default_hostnames() : hostnames_arg(PG_GETARG_ARRAYTYPE_P(0));
	seconds = cert_validity_seconds(PG_GETARG_INTERVAL_P(1), "valid_for");
	key_type = cert_key_type_arg(text_to_cstring(PG_GETARG_TEXT_PP(2)));

	missing = dialed_hosts(hostnames, &who);
	if (missing != NULL && PG_ARGISNULL(0))
	{
		List	   *more = NIL;
		ListCell   *lc;

		(void) SplitGUCList(missing, ',', &more);
		foreach(lc, more)
		{
			cert_check_hostname(lfirst(lc));
			hostnames = lappend(hostnames, lfirst(lc));
		}
	}
	else if (missing != NULL && !force)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hostnames leave out a host the standbys dial"),
				 errdetail("The new certificate would not cover %s; a standby that verifies it (sslmode=verify-full) could not connect again.", who),
				 errhint("Add the host to hostnames, or pass NULL for the machine's names and these hosts; force => true rotates anyway.")));

	entry = cert_rotate_server(hostnames, seconds, key_type);
	PG_RETURN_DATUM(certificate_row(fcinfo, entry,
									tls_probe_can_ask() ? entry->info.fingerprint_sha256 : NULL));
}

/*
 * check_client_role
 *		A client certificate logs in whoever holds it as role: without
 *		force, the role must exist and not be a superuser, so that a
 *		certificate is never the way in for a superuser, nor waits for a
 *		role of that name to be created later.
 */
static void
check_client_role(const char *role, bool force)
{
	Oid			roleid;

	if (force)
		return;
	roleid = get_role_oid(role, true);
	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role),
				 errhint("Create the role first, or pass force => true to issue a certificate for a role yet to be created.")));
	if (superuser_arg(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is a superuser", role),
				 errdetail("A client certificate would let whoever holds it in as a superuser wherever pg_hba.conf allows cert authentication."),
				 errhint("Issue certificates for roles made for the purpose, or pass force => true.")));
}

/*
 * issue_client_cert(role_name, valid_for, key_type, force)
 *		A client certificate with CN = role_name, for cert authentication,
 *		for an existing role that is not a superuser unless forced.  The
 *		key goes to the caller and is kept nowhere.
 */
Datum
issue_client_cert(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *role;
	int64		valid_seconds;
	CertKeyType key_type;
	char	   *cert_pem;
	char	   *key_pem;
	TimestampTz not_after;
	Datum		values[CLIENT_CERT_COLS];
	bool		nulls[CLIENT_CERT_COLS] = {0};

	pgrepl_require_sql_version();
	pgrepl_require_home_database();
	pgrepl_require_arg(fcinfo, 0, "role_name");
	pgrepl_require_arg(fcinfo, 1, "valid_for");
	pgrepl_require_arg(fcinfo, 2, "key_type");
	role = NameStr(*PG_GETARG_NAME(0));
	check_common_name(role, "role_name");
	valid_seconds = cert_validity_seconds(PG_GETARG_INTERVAL_P(1), "valid_for");
	key_type = cert_key_type_arg(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	pgrepl_require_arg(fcinfo, 3, "force");
	check_client_role(role, PG_GETARG_BOOL(3));

	cert_issue_client(role, valid_seconds, key_type, &cert_pem, &key_pem, &not_after);

	InitMaterializedSRF(fcinfo, 0);
	values[0] = CStringGetTextDatum(cert_pem);
	values[1] = CStringGetTextDatum(key_pem);
	values[2] = CStringGetTextDatum(cert_store_bundle());
	values[3] = TimestampTzGetDatum(not_after);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	explicit_bzero(key_pem, strlen(key_pem));
	return (Datum) 0;
}

/*
 * migrate_ca_key_1_1()
 *		Called once by the update script from 1.0: moves the CA's private
 *		key out of the data directory (cert_store_migrate_ca_key).  The
 *		script drops the function again.
 */
Datum
migrate_ca_key_1_1(PG_FUNCTION_ARGS)
{
	bool		moved;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to move the CA key")));
	cert_store_lock();
	moved = cert_store_migrate_ca_key();
	PG_RETURN_BOOL(moved);
}
