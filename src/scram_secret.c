/*-------------------------------------------------------------------------
 *
 * scram_secret.c
 *	  The SCRAM-SHA-256 secret of a password, as pg_authid.rolpassword
 *	  stores it, computed with OpenSSL libcrypto.
 *
 * The same algorithm and the same 4096 iterations as PostgreSQL's
 * pg_be_scram_build_secret() (src/backend/libpq/auth-scram.c with
 * scram_build_secret() in src/common/scram-common.c): a 16-byte salt from
 * pg_strong_random(), the password normalized with SASLprep (or taken as
 * it is when it is not valid UTF-8 or SASLprep prohibits one of its
 * characters, as the server and libpq both do), then
 *
 *	SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, 4096)
 *	ClientKey	   = HMAC(SaltedPassword, "Client Key")
 *	StoredKey	   = SHA-256(ClientKey)
 *	ServerKey	   = HMAC(SaltedPassword, "Server Key")
 *
 * written SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey> in base64.
 * Only the PBKDF2 loop differs: OpenSSL's PKCS5_PBKDF2_HMAC() keeps the
 * HMAC state between iterations, where PostgreSQL 15 builds a new HMAC
 * context for each of them, which makes it slower.
 *
 * Only one-shot OpenSSL calls are used, so no OpenSSL object outlives a
 * call; nothing can raise an error while the normalized password or an
 * intermediate key is held, and all of them are zeroed before returning.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "common/saslprep.h"
#include "common/scram-common.h"

#include "scram_secret.h"

/* data in base64, palloc'd and terminated */
static char *
base64(const uint8 *data, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *out = palloc(enclen + 1);
	int			n = pg_b64_encode((const char *) data, len, out, enclen);

	if (n < 0)
		elog(ERROR, "could not encode a SCRAM secret");
	out[n] = '\0';
	return out;
}

/*
 * scram_secret_build
 *		The SCRAM-SHA-256 secret of password with a new random salt and
 *		SCRAM_DEFAULT_ITERATIONS, palloc'd, byte for byte in the format of
 *		pg_be_scram_build_secret().
 */
char *
scram_secret_build(const char *password)
{
	uint8		salt[SCRAM_DEFAULT_SALT_LEN];
	uint8		salted_password[SCRAM_KEY_LEN];
	uint8		client_key[SCRAM_KEY_LEN];
	uint8		stored_key[SCRAM_KEY_LEN];
	uint8		server_key[SCRAM_KEY_LEN];
	char	   *prep_password = NULL;
	const char *reason = NULL;
	bool		ok;
	char	   *result;

	if (!pg_strong_random(salt, sizeof(salt)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random salt")));

	/* as PostgreSQL does: the password as it is when SASLprep refuses it */
	if (pg_saslprep(password, &prep_password) == SASLPREP_SUCCESS)
		password = prep_password;

	ERR_clear_error();
	ok = PKCS5_PBKDF2_HMAC(password, strlen(password), salt, sizeof(salt),
						   SCRAM_DEFAULT_ITERATIONS, EVP_sha256(),
						   SCRAM_KEY_LEN, salted_password) == 1 &&
		HMAC(EVP_sha256(), salted_password, SCRAM_KEY_LEN,
			 (const unsigned char *) "Client Key", strlen("Client Key"),
			 client_key, NULL) != NULL &&
		EVP_Digest(client_key, SCRAM_KEY_LEN, stored_key, NULL,
				   EVP_sha256(), NULL) == 1 &&
		HMAC(EVP_sha256(), salted_password, SCRAM_KEY_LEN,
			 (const unsigned char *) "Server Key", strlen("Server Key"),
			 server_key, NULL) != NULL;
	if (!ok)
		reason = ERR_reason_error_string(ERR_get_error());
	ERR_clear_error();

	if (prep_password != NULL)
	{
		explicit_bzero(prep_password, strlen(prep_password));
		pfree(prep_password);
	}
	explicit_bzero(salted_password, sizeof(salted_password));
	explicit_bzero(client_key, sizeof(client_key));
	if (!ok)
	{
		explicit_bzero(stored_key, sizeof(stored_key));
		explicit_bzero(server_key, sizeof(server_key));
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute a SCRAM-SHA-256 secret: %s",
						reason ? reason : "no OpenSSL error reported")));
	}

	result = psprintf("SCRAM-SHA-256$%d:%s$%s:%s", SCRAM_DEFAULT_ITERATIONS,
					  base64(salt, sizeof(salt)),
					  base64(stored_key, sizeof(stored_key)),
					  base64(server_key, sizeof(server_key)));
	explicit_bzero(stored_key, sizeof(stored_key));
	explicit_bzero(server_key, sizeof(server_key));
	return result;
}
