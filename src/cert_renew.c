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
 * checked to be served.  If that fails, the error goes to worker_status and
 * the log, the current certificate stays, and the scheduler retries with
 * back-off.  It also removes expired previous pairs, and warns once per CA
 * (per worker process) when the CA has less than a third of its life left.
 * It writes files and settings, so it runs on a primary only; a promoted
 * standby takes it up with the files it got from the primary's data
 * directory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "cert_ops.h"
#include "cert_renew.h"
#include "settings.h"

static char warned_ca_serial[128] = "";

static int
cert_renew_interval(void)
{
	return pgrepl_cert_auto_renew ? pgrepl_cert_check_interval : 0;
}

/* Warn, once per CA, when the CA has less than a third of its life left. */
static void
warn_if_ca_ageing(const CertEntry *ca, TimestampTz now)
{
	TimestampTz third = ca->info.not_after - (ca->info.not_after - ca->info.not_before) / 3;

	if (now < third || strcmp(warned_ca_serial, ca->info.serial) == 0)
		return;
	strlcpy(warned_ca_serial, ca->info.serial, sizeof(warned_ca_serial));
	ereport(WARNING,
			(errmsg("the pgrepl_admin certificate authority expires at %s",
					timestamptz_to_str(ca->info.not_after)),
			 errdetail("Less than a third of its validity is left; certificates it signs cannot outlive it."),
			 errhint("Replace it with pgrepl_admin.ca_init(replace => true), give the new pgrepl_admin.ca_certificate() to the standbys, rotate the server certificate, then retire the old CA with pgrepl_admin.ca_retire().")));
}

static void
cert_renew_run(void)
{
	CertEntry  *ca = cert_store_read_entry(CERT_KIND_CA);
	CertEntry  *server = cert_store_read_entry(CERT_KIND_SERVER);
	TimestampTz now = GetCurrentTimestamp();
	int64		lifetime;
	CertKeyType key_type;

	if (ca != NULL)
		warn_if_ca_ageing(ca, now);
	if (server == NULL || !cert_ssl_files_managed())
		return;

	cert_store_prune_previous();
	if (server->info.not_after - now >= (TimestampTz) pgrepl_cert_renew_before * USECS_PER_SEC)
		return;

	lifetime = (server->info.not_after - server->info.not_before) / USECS_PER_SEC - CERT_BACKDATE_SECONDS;
	if (!cert_key_type_parse(server->info.key_type, &key_type))
		key_type = CERT_KEY_EC_P256;
	if (server->info.sans == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the managed server certificate has no subjectAltName to renew it with"),
				 errhint("Rotate it once with pgrepl_admin.rotate_server_cert().")));

	server = cert_rotate_server(server->info.sans, Max(lifetime, 60), key_type);
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
