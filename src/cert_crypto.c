/*-------------------------------------------------------------------------
 *
 * cert_crypto.c
 *	  Key generation, certificate issuing and certificate reading with
 *	  OpenSSL 3 libcrypto.
 *
 * OpenSSL allocates with malloc, so every function here keeps its OpenSSL
 * objects in volatile locals and frees them in PG_FINALLY: an ereport
 * (ERROR) from any step cannot leak them.  The error queue is shared with
 * the backend's own TLS connection; it is cleared before each use and
 * after an error has been reported.  Results are palloc'd PEM text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mb/pg_wchar.h"
#include "utils/timestamp.h"

#include "cert_crypto.h"

static const struct
{
	const char *name;
	CertKeyType type;
}			key_types[] =
{
	{"ec-p256", CERT_KEY_EC_P256},
	{"ec-p384", CERT_KEY_EC_P384},
	{"rsa-2048", CERT_KEY_RSA_2048},
	{"rsa-3072", CERT_KEY_RSA_3072},
	{"rsa-4096", CERT_KEY_RSA_4096},
	{"ed25519", CERT_KEY_ED25519},
};

/*
 * cert_key_type_parse
 *		Map a key_type argument to its enum; false when unknown.
 */
bool
cert_key_type_parse(const char *name, CertKeyType *type)
{
	for (int i = 0; i < lengthof(key_types); i++)
	{
		if (strcmp(name, key_types[i].name) == 0)
		{
			*type = key_types[i].type;
			return true;
		}
	}
	return false;
}

/* The accepted key types, comma-separated, for error hints. */
const char *
cert_key_type_names(void)
{
	return "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519";
}

/*
 * crypto_error
 *		Report the failure of an OpenSSL call with OpenSSL's reason.
 */
static void
crypto_error(const char *what)
{
	unsigned long code = ERR_get_error();
	const char *reason = code ? ERR_reason_error_string(code) : NULL;

	ERR_clear_error();
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("%s failed: %s", what, reason ? reason : "no OpenSSL error reported")));
}

/* PEM text of whatever was written to a memory BIO, palloc'd. */
static char *
bio_to_pstr(BIO *bio)
{
	char	   *data;
	long		len = BIO_get_mem_data(bio, &data);

	return pnstrdup(data, len);
}

/* Free a memory BIO that held a key's PEM, clearing it first. */
static void
free_secret_bio(BIO *bio)
{
	if (bio != NULL)
	{
		char	   *data;
		long		len = BIO_get_mem_data(bio, &data);

		if (len > 0)
			OPENSSL_cleanse(data, len);
	}
	BIO_free(bio);
}

/*
 * cert_is_ip_address
 *		Whether name is an IPv4 or IPv6 address literal.
 */
bool
cert_is_ip_address(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static EVP_PKEY *
generate_key(CertKeyType type)
{
	switch (type)
	{
		case CERT_KEY_EC_P256:
			return EVP_EC_gen("P-256");
		case CERT_KEY_EC_P384:
			return EVP_EC_gen("P-384");
		case CERT_KEY_RSA_2048:
			return EVP_RSA_gen(2048);
		case CERT_KEY_RSA_3072:
			return EVP_RSA_gen(3072);
		case CERT_KEY_RSA_4096:
			return EVP_RSA_gen(4096);
		case CERT_KEY_ED25519:
			return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	return NULL;
}

/* Add one extension given in OpenSSL's configuration syntax (our own constants only). */
static void
add_conf_extension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (ext == NULL)
		crypto_error("building a certificate extension");
	if (!X509_add_ext(cert, ext, -1))
	{
		X509_EXTENSION_free(ext);
		crypto_error("adding a certificate extension");
	}
	X509_EXTENSION_free(ext);
}

/*
 * add_subject_alt_names
 *		subjectAltName built field by field (never from a configuration
 *		string), so no host name can smuggle in another entry.
 */
static void
add_subject_alt_names(X509 *cert, List *hostnames)
{
	GENERAL_NAMES *volatile names = sk_GENERAL_NAME_new_null();
	ListCell   *lc;

	if (names == NULL)
		crypto_error("allocating subjectAltName");
	PG_TRY();
	{
		foreach(lc, hostnames)
		{
			const char *host = lfirst(lc);
			GENERAL_NAME *gn = GENERAL_NAME_new();

			if (gn == NULL)
				crypto_error("allocating a subjectAltName entry");
			if (cert_is_ip_address(host))
			{
				ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

				if (ip == NULL)
				{
					GENERAL_NAME_free(gn);
					crypto_error("encoding an IP address");
				}
				GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
			}
			else
			{
				ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

				if (dns == NULL || !ASN1_STRING_set(dns, host, strlen(host)))
				{
					ASN1_IA5STRING_free(dns);
					GENERAL_NAME_free(gn);
					crypto_error("encoding a DNS name");
				}
				GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
			}
			if (!sk_GENERAL_NAME_push(names, gn))
			{
				GENERAL_NAME_free(gn);
				crypto_error("adding a subjectAltName entry");
			}
		}
		if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_REPLACE))
			crypto_error("adding subjectAltName");
	}
	PG_FINALLY();
	{
		GENERAL_NAMES_free(names);
	}
	PG_END_TRY();
}

/* A random positive 128-bit serial number. */
static void
set_random_serial(X509 *cert)
{
	unsigned char bytes[16];
	BIGNUM	   *volatile bn = NULL;

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random serial number")));
	bytes[0] &= 0x7f;
	bytes[0] |= 0x40;			/* keep all 16 bytes significant */
	PG_TRY();
	{
		bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
		if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
			crypto_error("setting the serial number");
	}
	PG_FINALLY();
	{
		BN_free(bn);
	}
	PG_END_TRY();
}

/*
 * cert_issue
 *		Make a new key and a certificate for it as the request says: a
 *		self-signed CA, or a server or client certificate signed by the CA
 *		in req->issuer_pem.  Returns both as palloc'd PEM (the key as
 *		unencrypted PKCS#8, which the server can reload without a
 *		passphrase).
 */
void
cert_issue(const CertRequest *req, char **cert_pem, char **key_pem)
{
	EVP_PKEY   *volatile key = NULL;
	X509	   *volatile cert = NULL;
	X509	   *volatile ca_cert = NULL;
	EVP_PKEY   *volatile ca_key = NULL;
	BIO		   *volatile bio = NULL;
	BIO		   *volatile out = NULL;
	X509_NAME  *volatile subject = NULL;

	ERR_clear_error();
	PG_TRY();
	{
		X509V3_CTX	ctx;
		EVP_PKEY   *signer;
		bool		rsa = (req->key_type == CERT_KEY_RSA_2048 ||
						   req->key_type == CERT_KEY_RSA_3072 ||
						   req->key_type == CERT_KEY_RSA_4096);
		char	   *cn_utf8;

		if (req->issuer_pem != NULL)
		{
			bio = BIO_new_mem_buf(req->issuer_pem, -1);
			if (bio == NULL || (ca_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
				crypto_error("reading the CA certificate");
			BIO_free(bio);
			bio = BIO_new_mem_buf(req->issuer_pem, -1);
			if (bio == NULL || (ca_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
				crypto_error("reading the CA key");
		}

		key = generate_key(req->key_type);
		if (key == NULL)
			crypto_error("generating a key");

		cert = X509_new();
		if (cert == NULL || !X509_set_version(cert, X509_VERSION_3))
			crypto_error("allocating a certificate");
		set_random_serial(cert);
		if (!X509_gmtime_adj(X509_getm_notBefore(cert), -CERT_BACKDATE_SECONDS) ||
			!X509_time_adj_ex(X509_getm_notAfter(cert),
							  (int) (req->valid_seconds / SECS_PER_DAY),
							  (long) (req->valid_seconds % SECS_PER_DAY), NULL))
			crypto_error("setting the validity period");
		if (!X509_set_pubkey(cert, key))
			crypto_error("setting the public key");

		/*
		 * The subject is built apart and copied in: the certificate's own
		 * name is const from OpenSSL 4 (Debian sid).
		 */
		subject = X509_NAME_new();
		cn_utf8 = pg_server_to_any(req->common_name, strlen(req->common_name), PG_UTF8);
		if (subject == NULL ||
			!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
										(const unsigned char *) cn_utf8, -1, -1, 0) ||
			!X509_set_subject_name(cert, subject))
			crypto_error("setting the subject");
		if (!X509_set_issuer_name(cert, ca_cert ? X509_get_subject_name(ca_cert) : subject))
			crypto_error("setting the issuer");

		X509V3_set_ctx(&ctx, ca_cert ? ca_cert : cert, cert, NULL, NULL, 0);
		X509V3_set_ctx_nodb(&ctx);
		add_conf_extension(cert, &ctx, NID_subject_key_identifier, "hash");
		add_conf_extension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
		switch (req->profile)
		{
			case CERT_PROFILE_CA:
				add_conf_extension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
				add_conf_extension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
				break;
			case CERT_PROFILE_SERVER:
			case CERT_PROFILE_CLIENT:
				add_conf_extension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
				add_conf_extension(cert, &ctx, NID_key_usage,
								   rsa ? "critical,digitalSignature,keyEncipherment"
								   : "critical,digitalSignature");
				add_conf_extension(cert, &ctx, NID_ext_key_usage,
								   req->profile == CERT_PROFILE_SERVER ? "serverAuth" : "clientAuth");
				if (req->profile == CERT_PROFILE_SERVER)
					add_subject_alt_names(cert, req->hostnames);
				break;
		}

		signer = ca_key ? ca_key : key;
		if (X509_sign(cert, signer,
					  EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) <= 0)
			crypto_error("signing the certificate");

		out = BIO_new(BIO_s_mem());
		if (out == NULL || !PEM_write_bio_X509(out, cert))
			crypto_error("encoding the certificate");
		*cert_pem = bio_to_pstr(out);
		BIO_free(out);
		out = BIO_new(BIO_s_mem());
		if (out == NULL || !PEM_write_bio_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL))
			crypto_error("encoding the key");
		*key_pem = bio_to_pstr(out);
	}
	PG_FINALLY();
	{
		free_secret_bio(out);
		BIO_free(bio);
		X509_NAME_free(subject);
		EVP_PKEY_free(ca_key);
		X509_free(ca_cert);
		X509_free(cert);
		EVP_PKEY_free(key);
		ERR_clear_error();
	}
	PG_END_TRY();
}

/* ASN1_TIME to TimestampTz */
static TimestampTz
asn1_time_to_timestamptz(const ASN1_TIME *t)
{
	struct tm	tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		crypto_error("reading a certificate date");
	return time_t_to_timestamptz(timegm(&tm));
}

static char *
name_to_pstr(const X509_NAME *name)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *result;

	if (bio == NULL)
		crypto_error("allocating a buffer");
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
	{
		BIO_free(bio);
		crypto_error("printing a name");
	}
	result = bio_to_pstr(bio);
	BIO_free(bio);
	return pg_any_to_server(result, strlen(result), PG_UTF8);
}

static const char *
public_key_type(EVP_PKEY *pkey)
{
	switch (EVP_PKEY_get_base_id(pkey))
	{
		case EVP_PKEY_RSA:
			return psprintf("rsa-%d", EVP_PKEY_get_bits(pkey));
		case EVP_PKEY_ED25519:
			return "ed25519";
		case EVP_PKEY_EC:
			{
				char		group[64];

				if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
												   group, sizeof(group), NULL))
				{
					if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
						return "ec-p256";
					if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
						return "ec-p384";
					return psprintf("ec-%s", group);
				}
				return "ec";
			}
	}
	return "unknown";
}

/*
 * cert_fingerprint_der
 *		SHA-256 of a DER certificate as upper-case hex pairs joined by
 *		colons, the form "openssl x509 -fingerprint -sha256" prints.
 */
char *
cert_fingerprint_der(const unsigned char *der, int len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char	   *hex;

	if (!EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL))
		crypto_error("computing a fingerprint");
	hex = palloc(mdlen * 3 + 1);
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(hex + i * 3, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
	return hex;
}

/*
 * cert_read_pem
 *		Fill info from the first certificate in pem and, when pem also holds
 *		a private key, whether that key matches it.  False when pem holds no
 *		certificate at all.
 */
bool
cert_read_pem(const char *pem, CertInfo *info)
{
	BIO		   *volatile bio = NULL;
	X509	   *volatile cert = NULL;
	EVP_PKEY   *volatile key = NULL;
	GENERAL_NAMES *volatile sans = NULL;
	unsigned char *volatile der = NULL;
	BIO		   *volatile out = NULL;
	bool		found = false;

	memset(info, 0, sizeof(*info));
	ERR_clear_error();
	PG_TRY();
	{
		BIGNUM	   *bn;
		char	   *hex;
		int			derlen;

		bio = BIO_new_mem_buf(pem, -1);
		if (bio == NULL)
			crypto_error("allocating a buffer");
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (cert != NULL)
		{
			found = true;
			BIO_free(bio);
			bio = BIO_new_mem_buf(pem, -1);
			if (bio == NULL)
				crypto_error("allocating a buffer");
			key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
			ERR_clear_error();

			info->subject = name_to_pstr(X509_get_subject_name(cert));
			info->issuer = name_to_pstr(X509_get_issuer_name(cert));
			bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
			if (bn == NULL)
				crypto_error("reading the serial number");
			hex = BN_bn2hex(bn);
			BN_free(bn);
			if (hex == NULL)
				crypto_error("printing the serial number");
			info->serial = pstrdup(hex);
			OPENSSL_free(hex);

			info->not_before = asn1_time_to_timestamptz(X509_get0_notBefore(cert));
			info->not_after = asn1_time_to_timestamptz(X509_get0_notAfter(cert));
			info->key_type = pstrdup(public_key_type(X509_get0_pubkey(cert)));
			info->is_ca = X509_check_ca(cert) != 0;
			info->has_key = (key != NULL);
			info->key_matches = (key != NULL && X509_check_private_key(cert, key) == 1);
			ERR_clear_error();

			derlen = i2d_X509(cert, (unsigned char **) &der);
			if (derlen <= 0)
				crypto_error("encoding the certificate");
			info->fingerprint_sha256 = cert_fingerprint_der(der, derlen);

			sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
			for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++)
			{
				GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

				if (gn->type == GEN_DNS)
					info->sans = lappend(info->sans,
										 pnstrdup((const char *) ASN1_STRING_get0_data(gn->d.dNSName),
												  ASN1_STRING_length(gn->d.dNSName)));
				else if (gn->type == GEN_IPADD)
				{
					unsigned char raw[16] = {0};
					char		text[INET6_ADDRSTRLEN];
					int			n = ASN1_STRING_length(gn->d.iPAddress);

					memcpy(raw, ASN1_STRING_get0_data(gn->d.iPAddress), Min(n, 16));
					if (inet_ntop(n == 4 ? AF_INET : AF_INET6, raw, text, sizeof(text)) != NULL)
						info->sans = lappend(info->sans, pstrdup(text));
				}
			}

			out = BIO_new(BIO_s_mem());
			if (out == NULL || !PEM_write_bio_X509(out, cert))
				crypto_error("encoding the certificate");
			info->cert_pem = bio_to_pstr(out);
		}
	}
	PG_FINALLY();
	{
		BIO_free(out);
		OPENSSL_free(der);
		GENERAL_NAMES_free(sans);
		EVP_PKEY_free(key);
		X509_free(cert);
		BIO_free(bio);
		ERR_clear_error();
	}
	PG_END_TRY();
	return found;
}

/*
 * cert_private_key_pem
 *		The private key in pem as unencrypted PKCS#8 PEM, palloc'd; NULL
 *		when pem holds none.
 */
char *
cert_private_key_pem(const char *pem)
{
	BIO		   *volatile bio = NULL;
	EVP_PKEY   *volatile key = NULL;
	BIO		   *volatile out = NULL;
	char	   *result = NULL;

	ERR_clear_error();
	PG_TRY();
	{
		bio = BIO_new_mem_buf(pem, -1);
		if (bio == NULL)
			crypto_error("allocating a buffer");
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		if (key != NULL)
		{
			out = BIO_new(BIO_s_mem());
			if (out == NULL || !PEM_write_bio_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL))
				crypto_error("encoding the key");
			result = bio_to_pstr(out);
		}
	}
	PG_FINALLY();
	{
		free_secret_bio(out);
		EVP_PKEY_free(key);
		BIO_free(bio);
		ERR_clear_error();
	}
	PG_END_TRY();
	return result;
}

/*
 * cert_signed_by
 *		Whether the first certificate in cert_pem carries a valid signature
 *		of the CA whose certificate is first in ca_pem.
 */
bool
cert_signed_by(const char *cert_pem, const char *ca_pem)
{
	BIO		   *volatile bio = NULL;
	X509	   *volatile cert = NULL;
	X509	   *volatile ca = NULL;
	bool		result = false;

	ERR_clear_error();
	PG_TRY();
	{
		bio = BIO_new_mem_buf(cert_pem, -1);
		if (bio == NULL || (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
			crypto_error("reading a certificate");
		BIO_free(bio);
		bio = BIO_new_mem_buf(ca_pem, -1);
		if (bio == NULL || (ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
			crypto_error("reading a CA certificate");
		result = X509_verify(cert, X509_get0_pubkey(ca)) == 1;
	}
	PG_FINALLY();
	{
		X509_free(ca);
		X509_free(cert);
		BIO_free(bio);
		ERR_clear_error();
	}
	PG_END_TRY();
	return result;
}
