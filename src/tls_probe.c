/*-------------------------------------------------------------------------
 *
 * tls_probe.c
 *	  A TLS handshake with the running server, to learn which certificate
 *	  it presents to new connections.
 *
 * It connects over TCP to the first address in listen_addresses that
 * answers (a wildcard means the loopback address), sends the protocol's
 * SSLRequest, and on 'S' performs the handshake without verifying anything:
 * the only question is which certificate comes back, compared by SHA-256
 * fingerprint.  It then closes the connection before any startup packet,
 * so no authentication or "incomplete startup packet" line is logged; but
 * with log_connections = on the server logs each probe's "connection
 * received" line when it accepts the socket (the certificates view and
 * check() each probe once per call: doc/monitoring.md says what a scrape
 * costs).  Unix sockets cannot carry TLS, so with
 * listen_addresses empty there is no way to ask.  Every socket operation
 * has a time-out, so a wedged server cannot hang the caller.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "port/pg_bswap.h"
#include "postmaster/postmaster.h"
#include "utils/varlena.h"

#include "cert_crypto.h"
#include "tls_probe.h"

#define PROBE_TIMEOUT_SECONDS 5
#define SSL_REQUEST_CODE 80877103

/* Connect to host:port with time-outs; -1 and *detail on failure. */
static int
connect_with_timeout(const char *host, int port, char **detail)
{
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	char		portstr[16];
	int			rc;
	int			sock = -1;
	struct timeval tv = {PROBE_TIMEOUT_SECONDS, 0};

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
	{
		*detail = psprintf("could not resolve \"%s\": %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
	{
		sock = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (sock < 0)
			continue;
		setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(sock, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		*detail = psprintf("could not connect to \"%s\" port %d: %m", host, port);
		close(sock);
		sock = -1;
	}
	freeaddrinfo(res);
	return sock;
}

/* The handshake on a connected socket; the peer's fingerprint or NULL and *detail. */
static char *
handshake(int sock, char **detail)
{
	SSL_CTX    *volatile ctx = NULL;
	SSL		   *volatile ssl = NULL;
	X509	   *volatile peer = NULL;
	unsigned char *volatile der = NULL;
	char	   *volatile fingerprint = NULL;

	ERR_clear_error();
	PG_TRY();
	{
		uint32		request[2] = {pg_hton32(8), pg_hton32(SSL_REQUEST_CODE)};
		char		answer;
		int			len;

		if (send(sock, request, sizeof(request), 0) != sizeof(request))
			*detail = psprintf("could not send the SSL request: %m");
		else if (recv(sock, &answer, 1, 0) != 1)
			*detail = psprintf("the server did not answer the SSL request: %m");
		else if (answer != 'S')
			*detail = pstrdup("the server does not accept SSL connections (ssl is off or not loaded)");
		else if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
				 (ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(ssl, sock))
			*detail = pstrdup("could not set up a TLS client");
		else if (SSL_connect(ssl) != 1)
		{
			unsigned long code = ERR_get_error();

			*detail = psprintf("the TLS handshake failed: %s",
							   code ? ERR_reason_error_string(code) : "connection closed");
		}
		else if ((peer = SSL_get1_peer_certificate(ssl)) == NULL)
			*detail = pstrdup("the server presented no certificate");
		else if ((len = i2d_X509(peer, (unsigned char **) &der)) <= 0)
			*detail = pstrdup("could not encode the server's certificate");
		else
		{
			fingerprint = cert_fingerprint_der(der, len);
			SSL_shutdown(ssl);
		}
	}
	PG_FINALLY();
	{
		OPENSSL_free(der);
		X509_free(peer);
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		ERR_clear_error();
	}
	PG_END_TRY();
	return fingerprint;
}

/* The entries of listen_addresses; NIL when it is empty (or unreadable). */
static List *
listen_entries(void)
{
	char	   *raw = pstrdup(ListenAddresses ? ListenAddresses : "");
	List	   *addresses = NIL;

	if (!SplitGUCList(raw, ',', &addresses))
		return NIL;
	return addresses;
}

/*
 * tls_probe_can_ask
 *		Whether the server listens on a TCP address, so that it can be asked
 *		what it presents (TLS is not available over Unix-domain sockets).
 */
bool
tls_probe_can_ask(void)
{
	return listen_entries() != NIL;
}

/*
 * tls_probe_served_certificate
 *		Ask the running server which certificate it presents now.
 */
TlsProbeResult
tls_probe_served_certificate(char **fingerprint, char **detail)
{
	List	   *addresses = listen_entries();
	ListCell   *lc;

	*fingerprint = NULL;
	*detail = NULL;
	if (addresses == NIL)
		return TLS_PROBE_NOT_LISTENING;

	foreach(lc, addresses)
	{
		const char *entry = lfirst(lc);
		const char *hosts[2] = {entry, NULL};

		if (strcmp(entry, "*") == 0)
		{
			hosts[0] = "127.0.0.1";
			hosts[1] = "::1";
		}
		else if (strcmp(entry, "0.0.0.0") == 0)
			hosts[0] = "127.0.0.1";
		else if (strcmp(entry, "::") == 0)
			hosts[0] = "::1";

		for (int i = 0; i < 2 && hosts[i] != NULL; i++)
		{
			int			sock = connect_with_timeout(hosts[i], PostPortNumber, detail);

			if (sock >= 0)
			{
				PG_TRY();
				{
					*fingerprint = handshake(sock, detail);
				}
				PG_FINALLY();
				{
					close(sock);
				}
				PG_END_TRY();
				return *fingerprint ? TLS_PROBE_OK : TLS_PROBE_FAILED;
			}
		}
	}
	return TLS_PROBE_FAILED;
}
