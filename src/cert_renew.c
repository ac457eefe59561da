/*-------------------------------------------------------------------------
 *
 * cert_renew.c
 *	  The cert_renew maintenance task: renews the managed server
 *	  certificate before it expires and warns about an ageing CA.
 *
 * Every pgrepl_admin.cert_check_interval it looks at the managed server
 * certificate.  When the server uses it (its ssl_*_file settings point at
 * the managed files) and less than pgrepl_admin.cert_renew_before is left,
 * it rotates it exactly as rotate_server_cert() does: a new key, the same
 * host names, key type and validity period, installed atomically and
 * checked to be served.  A CA that ends sooner cuts the renewed
 * certificate's validity to its own, with a loud warning; once a
 * certificate ends with its CA it is not renewed again.  If renewal fails,
 * the error goes to worker_status and the log, the current certificate
 * stays, and the scheduler retries with back-off.  It also removes expired
 * previous pairs, and warns once per CA (per worker process) when the CA
 * has less than a third of its life left, or when this server has no key
 * for it.  It writes files and settings, so it runs on a primary only; a
 * promoted standby takes it up with the files it got from the primary's
 * data directory, and the CA key handed over to it (ca_key.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "cert_ops.h"
#include "cert_renew.h"
#include "settings.h"

/* keep a renewed certificate's end this far before the CA's */
#define CA_END_MARGIN_SECONDS 60

static char warned_ca_serial[128] = "";
static char warned_key_serial[128] = "";

static int
cert_renew_interval(void)
{
	return pgrepl_cert_auto_renew ? pgrepl_cert_check_interval : 0;
}

/* Whether to warn about this CA now: the first time for each serial. */
static bool
first_time_for(char *warned, size_t size, const char *serial)
{
	if (strcmp(warned, serial) == 0)
		return false;
	strlcpy(warned, serial, size);
	return true;
}

/* Warn, once per CA, when the CA has less than a third of its life left. */
static void
warn_if_ca_ageing(const CertEntry *ca, TimestampTz now)
{
	TimestampTz third = ca->info.not_after - (ca->info.not_after - ca->info.not_before) / 3;

	if (now < third || !first_time_for(warned_ca_serial, sizeof(warned_ca_serial), ca->info.serial))
		return;
	ereport(WARNING,
			(errmsg("the pgrepl_admin certificate authority expires at %s",
					timestamptz_to_str(ca->info.not_after)),
			 errdetail("Less than a third of its validity is left; certificates it signs cannot outlive it."),
			 errhint("Replace it with pgrepl_admin.ca_init(replace => true), give the new pgrepl_admin.ca_certificate() to the standbys, rotate the server certificate, then retire the old CA with pgrepl_admin.ca_retire().")));
}

/*
 * renewal_seconds
 *		The validity of the renewed certificate: the current one's, cut to
 *		end CA_END_MARGIN_SECONDS before the CA does (which is then warned
 *		about loudly).  0 when renewing is pointless: a certificate of this
 *		CA that already ends with it could not be replaced by a longer one.
 */
static int64
renewal_seconds(const CertEntry *server, const CertEntry *ca, TimestampTz now)
{
	int64		lifetime = (server->info.not_after - server->info.not_before) / USECS_PER_SEC -
		CERT_BACKDATE_SECONDS;
	int64		ca_left = (ca->info.not_after - now) / USECS_PER_SEC - CA_END_MARGIN_SECONDS;

	lifetime = Max(lifetime, 60);
	if (lifetime <= ca_left)
		return lifetime;
	if (cert_signed_by(server->info.cert_pem, ca->info.cert_pem) &&
		now + ca_left * USECS_PER_SEC <= server->info.not_after + CA_END_MARGIN_SECONDS * USECS_PER_SEC)
		return 0;
	if (ca_left < 60)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the pgrepl_admin certificate authority expires at %s, too soon to renew the server certificate",
						timestamptz_to_str(ca->info.not_after)),
				 errhint("Replace it with pgrepl_admin.ca_init(replace => true), give the new pgrepl_admin.ca_certificate() to the standbys, and rotate the server certificate.")));
	ereport(WARNING,
			(errmsg("the pgrepl_admin certificate authority expires at %s, before the server certificate's usual lifetime ends",
					timestamptz_to_str(ca->info.not_after)),
			 errdetail("The server certificate is renewed to end with the CA, and cannot be renewed past it: after that no certificate the CA signs is valid."),
			 errhint("Replace the CA now with pgrepl_admin.ca_init(replace => true), give the new pgrepl_admin.ca_certificate() to the standbys, rotate the server certificate, then retire the old CA with pgrepl_admin.ca_retire().")));
	return ca_left;
}

static void
cert_renew_run(void)
{
	CertEntry  *ca = cert_store_read_entry(CERT_KIND_CA);
	CertEntry  *server = cert_store_read_entry(CERT_KIND_SERVER);
	TimestampTz now = GetCurrentTimestamp();
	int64		seconds;
	CertKeyType key_type;

	if (ca != NULL)
	{
		warn_if_ca_ageing(ca, now);
		if (!ca->info.has_key &&
			first_time_for(warned_key_serial, sizeof(warned_key_serial), ca->info.serial))
			cert_report_ca_key_missing(WARNING, ca->info.serial);
	}
	if (server == NULL || !cert_server_files_managed())
		return;

	cert_store_prune_previous();
	if (server->info.not_after - now >= (TimestampTz) pgrepl_cert_renew_before * USECS_PER_SEC)
		return;
	if (ca == NULL)
		return;
	if (!cert_key_type_parse(server->info.key_type, &key_type))
		key_type = CERT_KEY_EC_P256;
	if (server->info.sans == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the managed server certificate has no subjectAltName to renew it with"),
				 errhint("Rotate it once with pgrepl_admin.rotate_server_cert().")));
	seconds = renewal_seconds(server, ca, now);
	if (seconds == 0)
		return;

	server = cert_rotate_server(server->info.sans, seconds, key_type);
	ereport(LOG,
			(errmsg("pgrepl_admin renewed the server certificate; the new one expires at %s",
					timestamptz_to_str(server->info.not_after)),
			 errdetail("Serial %s, SHA-256 fingerprint %s.",
					   server->info.serial, server->info.fingerprint_sha256)));
}

const MaintenanceTask cert_renew_task = {
	.name = "cert_renew",
	.description = "Renews the managed server certificate before it expires and warns when the CA ages.",
	.runs_in_recovery = false,
	.interval_seconds = cert_renew_interval,
	.run = cert_renew_run,
};
