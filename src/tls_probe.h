/*-------------------------------------------------------------------------
 *
 * tls_probe.h
 *	  Which certificate does the running server present?  Found out by a
 *	  TLS handshake with the server itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_TLS_PROBE_H
#define PGREPL_TLS_PROBE_H

typedef enum TlsProbeResult
{
	TLS_PROBE_OK,				/* *fingerprint is what the server presents */
	TLS_PROBE_NOT_LISTENING,	/* listen_addresses is empty: nothing to ask */
	TLS_PROBE_FAILED			/* *detail says why */
} TlsProbeResult;

extern bool tls_probe_can_ask(void);
extern TlsProbeResult tls_probe_served_certificate(char **fingerprint, char **detail);

#endif							/* PGREPL_TLS_PROBE_H */
