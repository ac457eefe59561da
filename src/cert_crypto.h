/*-------------------------------------------------------------------------
 *
 * cert_crypto.h
 *	  Keys and X.509 certificates made and read with OpenSSL libcrypto,
 *	  in process.  PEM text in, PEM text out: no OpenSSL object escapes
 *	  this layer, and it knows nothing of files, settings or SQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CERT_CRYPTO_H
#define PGREPL_CERT_CRYPTO_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef enum CertKeyType
{
	CERT_KEY_EC_P256,
	CERT_KEY_EC_P384,
	CERT_KEY_RSA_2048,
	CERT_KEY_RSA_3072,
	CERT_KEY_RSA_4096,
	CERT_KEY_ED25519
} CertKeyType;

typedef enum CertProfile
{
	CERT_PROFILE_CA,			/* self-signed certificate authority */
	CERT_PROFILE_SERVER,		/* TLS server: serverAuth, subjectAltName */
	CERT_PROFILE_CLIENT			/* TLS client: clientAuth, CN = role */
} CertProfile;

/* What to issue */
typedef struct CertRequest
{
	CertProfile profile;
	CertKeyType key_type;
	const char *common_name;	/* in the server encoding */
	List	   *hostnames;		/* server: DNS names and IP addresses */
	int64		valid_seconds;	/* from now */
	const char *issuer_pem;		/* CA certificate and key; NULL for a CA */
} CertRequest;

/* What a certificate (and maybe its key) says, as the certificates view shows it */
typedef struct CertInfo
{
	char	   *subject;
	char	   *issuer;
	char	   *serial;			/* upper-case hex */
	char	   *fingerprint_sha256; /* AA:BB:... as openssl prints it */
	TimestampTz not_before;
	TimestampTz not_after;
	char	   *key_type;		/* ec-p256, rsa-2048, ... of its public key */
	List	   *sans;			/* char * each */
	bool		is_ca;
	bool		has_key;		/* the PEM held a private key */
	bool		key_matches;	/* ... and it matches the certificate */
	char	   *cert_pem;		/* the certificate alone, PEM */
} CertInfo;

extern bool cert_key_type_parse(const char *name, CertKeyType *type);
extern const char *cert_key_type_names(void);
extern void cert_issue(const CertRequest *req, char **cert_pem, char **key_pem);
extern bool cert_read_pem(const char *pem, CertInfo *info);
extern char *cert_fingerprint_der(const unsigned char *der, int len);
extern bool cert_is_ip_address(const char *name);
extern bool cert_signed_by(const char *cert_pem, const char *ca_pem);
extern char *cert_private_key_pem(const char *pem);

/* issued certificates start this long before the moment they are made */
#define CERT_BACKDATE_SECONDS 3600

#endif							/* PGREPL_CERT_CRYPTO_H */
