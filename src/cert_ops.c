/*-------------------------------------------------------------------------
 *
 * cert_ops.c
 *	  What the certificate functions and the renewal task do, above the
 *	  file store and the crypto layer: checking arguments, making the CA,
 *	  and rotating the server certificate until the running server
 *	  presents it.
 *
 * A rotation takes effect at once, like ALTER SYSTEM, whatever becomes of
 * the calling transaction: the new pair is installed atomically, the
 * server is pointed at the managed files the first time, reloaded, and
 * asked over TLS which certificate it presents.  Existing connections keep
 * the certificate they were opened with; new ones get the new one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/postmaster.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "ca_key.h"
#include "cert_ops.h"
#include "net_addresses.h"
#include "server_config.h"
#include "sql_args.h"
#include "tls_probe.h"

#define MAX_VALIDITY_SECONDS ((int64) 100 * 365 * SECS_PER_DAY)
#define SERVED_WAIT_MS (30 * 1000)
#define SERVED_POLL_FIRST_MS 5
#define SERVED_POLL_MAX_MS 1000
#define MAX_CN_CHARS 64
#define FALLBACK_SERVER_CN "pgrepl_admin server"
#define MAX_HOSTNAME_LEN 253
#define MAX_LABEL_LEN 63

/*
 * cert_validity_seconds
 *		A validity interval as seconds (a year is 365.25 days and a month
 *		30, as in EXTRACT(epoch)); it must be positive and at most 100
 *		years.
 */
int64
cert_validity_seconds(const Interval *valid_for, const char *argname)
{
	double		secs = pgrepl_interval_seconds(valid_for);

	if (secs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval", argname)));
	if (secs > MAX_VALIDITY_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not exceed 100 years", argname)));
	return (int64) secs;
}

/*
 * cert_key_type_arg
 *		A key_type argument, or an error listing the accepted ones.
 */
CertKeyType
cert_key_type_arg(const char *name)
{
	CertKeyType type;

	if (!cert_key_type_parse(name, &type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown key type \"%s\"", name),
				 errhint("Use one of: %s.", cert_key_type_names())));
	return type;
}

/*
 * valid_hostname, cert_check_hostname
 *		A subjectAltName entry must be an IP address or a DNS name made of
 *		labels of letters, digits and inner hyphens.  The last label must
 *		not be all digits (RFC 1123, 2.1), so that "999.1.1.1", which no
 *		client would look up as a name, is refused rather than certified.
 */
static bool
valid_hostname(const char *name)
{
	size_t		len = strlen(name);
	size_t		label = 0;
	bool		digits_only = true;

	if (cert_is_ip_address(name))
		return true;
	if (len == 0 || len > MAX_HOSTNAME_LEN)
		return false;
	for (size_t i = 0; i <= len; i++)
	{
		char		c = name[i];

		if (c == '.' || c == '\0')
		{
			if (label == 0 || name[i - 1] == '-' || (c == '\0' && digits_only))
				return false;
			label = 0;
			digits_only = true;
		}
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 (c >= '0' && c <= '9') || (c == '-' && label > 0))
		{
			if (++label > MAX_LABEL_LEN)
				return false;
			digits_only &= (c >= '0' && c <= '9');
		}
		else
			return false;
	}
	return true;
}

/* An error unless name is a valid subjectAltName entry. */
void
cert_check_hostname(const char *name)
{
	if (valid_hostname(name))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is neither a valid DNS name nor an IP address", name),
			 errdetail("A DNS name is made of dot-separated labels of letters, digits and inner hyphens, the last one not all digits, at most %d characters in all.",
					   MAX_HOSTNAME_LEN)));
}

static List *
add_unique(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		if (pg_strcasecmp(lfirst(lc), name) == 0)
			return names;
	}
	return lappend(names, pstrdup(name));
}

/*
 * add_host_names
 *		The machine's names for host name host (gethostname()): the short
 *		name, and the fully qualified one when the machine has one: host
 *		itself when it has a dot, else the canonical name the resolver
 *		gives for it (as "hostname -f": /etc/hosts first, as nsswitch.conf
 *		says), when that has a dot and starts with the short name.  A name
 *		that is not a valid DNS name is left out; a failed lookup only
 *		leaves the fully qualified name out.
 */
static List *
add_host_names(List *names, const char *host)
{
	char	   *shortname = pstrdup(host);
	char	   *dot = strchr(shortname, '.');
	char	   *fqdn = NULL;

	if (dot != NULL)
	{
		*dot = '\0';
		fqdn = pstrdup(host);
	}
	else
	{
		struct addrinfo hints = {0};
		struct addrinfo *res = NULL;

		hints.ai_flags = AI_CANONNAME;
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) == 0)
		{
			const char *canon = res ? res->ai_canonname : NULL;
			size_t		n = strlen(shortname);

			if (canon != NULL && strchr(canon, '.') != NULL &&
				pg_strncasecmp(canon, shortname, n) == 0 && canon[n] == '.')
				fqdn = pstrdup(canon);
			freeaddrinfo(res);
		}
	}

	if (valid_hostname(shortname))
		names = add_unique(names, shortname);
	if (fqdn != NULL && !cert_is_ip_address(fqdn) && valid_hostname(fqdn))
		names = add_unique(names, fqdn);
	return names;
}

/*
 * cert_default_hostnames
 *		The names a server certificate covers when none are given: the
 *		machine's host name (whether or not it resolves here: standbys
 *		resolve it with their own resolver, or not at all), short and fully
 *		qualified (add_host_names), localhost, the
 *		entries of listen_addresses (localhost as 127.0.0.1 and ::1), and
 *		the addresses of every interface that is up, loopback included,
 *		link-local left out (net_interface_addresses): so that a standby on
 *		another host can verify the server by any address it may dial, also
 *		before listen_addresses names it.  The caller adds the hosts
 *		standbys dial (pgrepl_admin.primary_host among them).
 */
List *
cert_default_hostnames(void)
{
	List	   *names = NIL;
	char		host[256];
	char	   *raw = pstrdup(ListenAddresses ? ListenAddresses : "");
	List	   *listen = NIL;
	ListCell   *lc;

	if (gethostname(host, sizeof(host)) == 0)
	{
		host[sizeof(host) - 1] = '\0';
		names = add_host_names(names, host);
	}
	names = add_unique(names, "localhost");

	(void) SplitGUCList(raw, ',', &listen);
	foreach(lc, listen)
	{
		const char *entry = lfirst(lc);

		if (strcmp(entry, "*") == 0 || net_is_wildcard(entry))
			continue;			/* every interface: listed below */
		else if (pg_strcasecmp(entry, "localhost") == 0)
		{
			names = add_unique(names, "127.0.0.1");
			names = add_unique(names, "::1");
		}
		else
			names = add_unique(names, entry);
	}

	foreach(lc, net_interface_addresses(true))
		names = add_unique(names, lfirst(lc));
	return names;
}

/*
 * cert_check_within_ca
 *		A certificate valid for valid_seconds from now must not outlive the
 *		CA that signs it.
 */
void
cert_check_within_ca(int64 valid_seconds, const char *ca_pem)
{
	CertInfo	ca;
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), valid_seconds * 1000);

	if (!cert_read_pem(ca_pem, &ca))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("managed file \"%s\" holds no certificate", CERT_STORE_CA)));
	if (until > ca.not_after)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for reaches past the expiry of the CA"),
				 errdetail("The CA expires at %s.", timestamptz_to_str(ca.not_after)),
				 errhint("Give a shorter valid_for, or replace the CA with pgrepl_admin.ca_init(replace => true).")));
}

/* A new self-signed CA, in memory only. */
static void
issue_ca(const char *common_name, int64 valid_seconds, CertKeyType key_type,
		 char **cert_pem, char **key_pem)
{
	CertRequest req = {0};

	req.profile = CERT_PROFILE_CA;
	req.key_type = key_type;
	req.common_name = common_name;
	req.valid_seconds = valid_seconds;
	cert_issue(&req, cert_pem, key_pem);
}

/*
 * cert_create_ca
 *		Make a new CA and install it as the current one (the one it
 *		replaces, if any, stays trusted until retired).  The caller holds
 *		the store lock.
 */
CertEntry *
cert_create_ca(const char *common_name, int64 valid_seconds, CertKeyType key_type)
{
	char	   *cert_pem;
	char	   *key_pem;

	issue_ca(common_name, valid_seconds, key_type, &cert_pem, &key_pem);
	cert_store_install_ca(cert_pem, key_pem);
	explicit_bzero(key_pem, strlen(key_pem));

	return cert_store_read_entry(CERT_KIND_CA);
}

/*
 * cert_report_ca_key_missing
 *		Say at elevel that this server has no private key for the CA with
 *		this serial, and how to hand it over.
 */
void
cert_report_ca_key_missing(int elevel, const char *serial)
{
	ereport(elevel,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the private key of the pgrepl_admin certificate authority is not available here"),
			 errdetail("It is kept outside the data directory, in pgrepl_admin.ca_key_directory, so that copies of the data directory (base backups, standbys) do not carry it; this server has no \"%s\".",
					   ca_key_path(serial)),
			 errhint("On a promoted standby, copy ca-%s.key from the old primary's pgrepl_admin.ca_key_directory to \"%s\" (mode 0600, directory 0700); or make a new CA with pgrepl_admin.ca_init(replace => true) and give its certificate to the standbys and clients.",
					 serial, ca_key_directory())));
}

/*
 * ca_signer
 *		The current CA's certificate and key, as one PEM text to sign with.
 *		A key still in ca.pem (version 1.0) is moved out first.  When there
 *		is no CA: with create, a CA with the defaults is made in memory and
 *		also returned in *new_cert and *new_key, for the caller to install
 *		once its own work has succeeded; otherwise an error says how to make
 *		one.  An error too when this server has no key for the CA.  The
 *		caller holds the store lock.
 */
static char *
ca_signer(bool create, char **new_cert, char **new_key)
{
	char	   *pem;
	char	   *key;
	char	   *signer;
	CertInfo	info;

	(void) cert_store_migrate_ca_key();
	pem = cert_store_read(CERT_STORE_CA);
	if (pem == NULL)
	{
		if (!create)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pgrepl_admin has no certificate authority yet"),
					 errhint("Create one with pgrepl_admin.ca_init(), or let pgrepl_admin.rotate_server_cert() create it.")));
		issue_ca(CERT_DEFAULT_CA_NAME, CERT_DEFAULT_CA_SECONDS, CERT_KEY_EC_P256, new_cert, new_key);
		return psprintf("%s%s", *new_cert, *new_key);
	}
	if (!cert_read_pem(pem, &info))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("managed file \"%s\" holds no certificate", CERT_STORE_CA)));
	key = cert_store_ca_key(info.serial);
	if (key == NULL)
		cert_report_ca_key_missing(ERROR, info.serial);
	signer = psprintf("%s%s", pem, key);
	explicit_bzero(key, strlen(key));
	return signer;
}

static bool
setting_is(const char *name, const char *want)
{
	const char *value = GetConfigOption(name, false, true);

	return value != NULL && strcmp(value, want) == 0;
}

/*
 * cert_server_files_managed
 *		Whether the server's certificate and key settings point at the
 *		managed pair.
 */
bool
cert_server_files_managed(void)
{
	return setting_is("ssl_cert_file", CERT_STORE_SERVER) &&
		setting_is("ssl_key_file", CERT_STORE_SERVER);
}

/*
 * cert_ssl_files_managed
 *		Whether the server's SSL settings point at the managed files, the
 *		CA bundle that client certificates are checked against included.
 */
bool
cert_ssl_files_managed(void)
{
	return cert_server_files_managed() && setting_is("ssl_ca_file", CERT_STORE_BUNDLE);
}

/* Reload so that a changed CA bundle takes effect, when the server uses it. */
void
cert_reload_if_managed(void)
{
	if (setting_is("ssl_ca_file", CERT_STORE_BUNDLE))
		pgrepl_reload_server_config();
}

/*
 * point_server_at_managed_files
 *		The first time: ssl_cert_file and ssl_key_file to the managed pair,
 *		ssl on, and ssl_ca_file to the CA bundle when it is empty, through
 *		ALTER SYSTEM.  An ssl_ca_file that an administrator set is never
 *		replaced, since it says which CAs client certificates may come from:
 *		a NOTICE says that it was left.
 */
static void
point_server_at_managed_files(void)
{
	const char *ca_file = GetConfigOption("ssl_ca_file", false, true);

	if (!setting_is("ssl_cert_file", CERT_STORE_SERVER))
		pgrepl_alter_system_set("ssl_cert_file", CERT_STORE_SERVER);
	if (!setting_is("ssl_key_file", CERT_STORE_SERVER))
		pgrepl_alter_system_set("ssl_key_file", CERT_STORE_SERVER);
	if (ca_file == NULL || ca_file[0] == '\0')
		pgrepl_alter_system_set("ssl_ca_file", CERT_STORE_BUNDLE);
	else if (strcmp(ca_file, CERT_STORE_BUNDLE) != 0)
		ereport(NOTICE,
				(errmsg("ssl_ca_file is left as it is, \"%s\"", ca_file),
				 errdetail("pgrepl_admin does not replace a CA file that an administrator set: it says which CAs client certificates may come from. Client certificates that pgrepl_admin issues are accepted only if that file holds pgrepl_admin.ca_certificate()."),
				 errhint("To let pgrepl_admin manage it, run ALTER SYSTEM RESET ssl_ca_file and rotate again.")));
	if (!setting_is("ssl", "on"))
		pgrepl_alter_system_set("ssl", "on");
}

/*
 * wait_until_served
 *		Return once a new TLS connection to the server is given the
 *		certificate with this fingerprint; an error after SERVED_WAIT_MS.
 *		The probes start SERVED_POLL_FIRST_MS apart (a served rotation
 *		takes tens of milliseconds) and each wait is a quarter longer than
 *		the one before, up to SERVED_POLL_MAX_MS: a new certificate is seen
 *		at most a quarter of the time waited so far after it is served, and
 *		a reload that failed costs the postmaster about 50 connections over
 *		SERVED_WAIT_MS, not thousands.
 */
static void
wait_until_served(const char *fingerprint)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SERVED_WAIT_MS);
	long		delay_ms = SERVED_POLL_FIRST_MS;

	for (;;)
	{
		char	   *served;
		char	   *detail;
		TlsProbeResult result = tls_probe_served_certificate(&served, &detail);
		TimestampTz now;

		if (result == TLS_PROBE_NOT_LISTENING)
		{
			ereport(NOTICE,
					(errmsg("cannot check that the server presents the new certificate"),
					 errdetail("The server listens on no TCP address (listen_addresses is empty), and TLS is not available over Unix-domain sockets.")));
			return;
		}
		if (result == TLS_PROBE_OK && strcmp(served, fingerprint) == 0)
			return;
		now = GetCurrentTimestamp();
		if (now >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the server does not present the new certificate"),
					 result == TLS_PROBE_OK ?
					 errdetail("The new certificate is installed in \"%s\", but after %d seconds the server still presents the certificate with SHA-256 fingerprint %s.",
							   CERT_STORE_SERVER, SERVED_WAIT_MS / 1000, served) :
					 errdetail("The new certificate is installed in \"%s\", but a TLS connection to the server failed: %s.",
							   CERT_STORE_SERVER, detail),
					 errhint("Look in the server log for \"SSL configuration was not reloaded\" and its reason.")));

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(delay_ms, TimestampDifferenceMilliseconds(now, deadline) + 1),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		delay_ms = Min(delay_ms + (delay_ms + 3) / 4, SERVED_POLL_MAX_MS);
	}
}

/*
 * server_common_name
 *		The subject CN of a server certificate: the first host name that
 *		fits in a CN (64 characters).  Clients check the subjectAltName,
 *		which holds every name, so a longer machine name is still
 *		certified.
 */
static const char *
server_common_name(List *hostnames)
{
	ListCell   *lc;

	foreach(lc, hostnames)
	{
		if (strlen(lfirst(lc)) <= MAX_CN_CHARS)
			return lfirst(lc);
	}
	return FALLBACK_SERVER_CN;
}

/*
 * refuse_if_sni
 *		From 19, with ssl_sni = on the server presents the certificates of
 *		hosts_file (pg_hosts.conf) and never ssl_cert_file: a rotation of
 *		the managed pair would not be what any client is served, and the
 *		check that it is served would probe one name of several.  Refused
 *		before anything is made or written.
 */
static void
refuse_if_sni(void)
{
#if PGREPL_HAS_SSL_SNI
	if (setting_is("ssl_sni", "on"))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("server certificate rotation is not supported while ssl_sni is on"),
				 errdetail("With ssl_sni on, the server presents the certificates that \"%s\" lists for each host name, not ssl_cert_file, so a new \"%s\" would not be served.",
						   GetConfigOption("hosts_file", false, true), CERT_STORE_SERVER),
				 errhint("Turn ssl_sni off and reload to let pgrepl_admin rotate and serve the server certificate, or keep ssl_sni on and manage the certificates of that file yourself.")));
#endif
}

/*
 * cert_rotate_server
 *		A new key and server certificate for hostnames, signed by the CA
 *		(made first if there is none: installed only once the server
 *		certificate is made, so that a failed rotation leaves no CA), both
 *		installed atomically; the server is pointed at it, reloaded, and
 *		checked to present it.  The replaced pair and its key are then
 *		destroyed.  Returns the new certificate's entry.  Arguments are
 *		checked by the caller.
 */
CertEntry *
cert_rotate_server(List *hostnames, int64 valid_seconds, CertKeyType key_type)
{
	CertRequest req = {0};
	char	   *new_ca_cert = NULL;
	char	   *new_ca_key = NULL;
	char	   *ca_pem;
	char	   *cert_pem;
	char	   *key_pem;
	char	   *pem;
	CertEntry  *entry;

	refuse_if_sni();
	if (!cert_ssl_files_managed() || !setting_is("ssl", "on"))
		pgrepl_require_alter_system("a rotation that turns TLS on",
									psprintf("Set ssl = on, ssl_cert_file and ssl_key_file = '%s' and ssl_ca_file = '%s' in postgresql.conf yourself and reload, or turn allow_alter_system on.",
											 CERT_STORE_SERVER, CERT_STORE_BUNDLE));

	cert_store_lock();
	ca_pem = ca_signer(true, &new_ca_cert, &new_ca_key);
	cert_check_within_ca(valid_seconds, ca_pem);

	req.profile = CERT_PROFILE_SERVER;
	req.key_type = key_type;
	req.common_name = server_common_name(hostnames);
	req.hostnames = hostnames;
	req.valid_seconds = valid_seconds;
	req.issuer_pem = ca_pem;
	cert_issue(&req, &cert_pem, &key_pem);
	explicit_bzero(ca_pem, strlen(ca_pem));

	if (new_ca_cert != NULL)
	{
		cert_store_install_ca(new_ca_cert, new_ca_key);
		explicit_bzero(new_ca_key, strlen(new_ca_key));
	}
	pem = psprintf("%s%s", cert_pem, key_pem);
	cert_store_install_server(pem);
	explicit_bzero(key_pem, strlen(key_pem));
	explicit_bzero(pem, strlen(pem));
	cert_store_sync_bundle();

	point_server_at_managed_files();
	pgrepl_reload_server_config();

	entry = cert_store_read_entry(CERT_KIND_SERVER);
	wait_until_served(entry->info.fingerprint_sha256);
	cert_store_remove_previous();
	return entry;
}

/*
 * cert_issue_client
 *		A client certificate with CN = role for cert authentication, signed
 *		by the current CA (which must exist), valid for valid_seconds, and
 *		its new private key; *not_after receives its expiry.  The key goes
 *		to the caller only.  Arguments are checked by the caller.
 */
void
cert_issue_client(const char *role, int64 valid_seconds, CertKeyType key_type,
				  char **cert_pem, char **key_pem, TimestampTz *not_after)
{
	CertRequest req = {0};
	char	   *ca_pem;
	CertInfo	info;

	cert_store_lock();
	ca_pem = ca_signer(false, NULL, NULL);
	cert_check_within_ca(valid_seconds, ca_pem);
	req.profile = CERT_PROFILE_CLIENT;
	req.key_type = key_type;
	req.common_name = role;
	req.valid_seconds = valid_seconds;
	req.issuer_pem = ca_pem;
	cert_issue(&req, cert_pem, key_pem);
	explicit_bzero(ca_pem, strlen(ca_pem));
	(void) cert_read_pem(*cert_pem, &info);
	*not_after = info.not_after;
}
