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
 * Only the PBKDF2 loop differs: the HMAC's inner and outer SHA-256 states
 * after the padded key are computed once and copied for each iteration,
 * with OpenSSL's plain SHA-256 functions.  PostgreSQL 15 builds a new HMAC
 * context for each iteration, and OpenSSL 3's PKCS5_PBKDF2_HMAC() duplicates
 * a provider context (an allocation and a lock) in each: in the server both
 * cost several times the hashing itself.
 *
 * Only one-shot OpenSSL calls and stack structures are used, so no OpenSSL
 * object outlives a call; nothing can raise an error while the normalized
 * password or an intermediate key is held, and all of them are zeroed
 * before returning.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
/* SHA256_Init() and friends: deprecated in OpenSSL 3, and what the loop needs */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/base64.h"
#include "common/saslprep.h"
#include "common/scram-common.h"

#include "compat.h"
#include "scram_secret.h"

/* data in base64, palloc'd and terminated */
static char *
base64(const uint8 *data, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *out = palloc(enclen + 1);
	int			n = pgrepl_b64_encode(data, len, out, enclen);

	if (n < 0)
		elog(ERROR, "could not encode a SCRAM secret");
	out[n] = '\0';
	return out;
}

/*
 * pbkdf2_hmac_sha256
 *		The first (and for SCRAM only) 32-byte block of PBKDF2 with
 *		HMAC-SHA-256 (RFC 8018): U1 = HMAC(P, S || INT(1)), Ui =
 *		HMAC(P, Ui-1), out = U1 ^ ... ^ Uc.  Returns false when a hash call
 *		fails.
 */
static bool
pbkdf2_hmac_sha256(const char *password, size_t password_len,
				   const uint8 *salt, size_t salt_len, int iterations,
				   uint8 out[SHA256_DIGEST_LENGTH])
{
	static const uint8 block_one[4] = {0, 0, 0, 1};
	uint8		key[SHA256_CBLOCK] = {0};
	uint8		pad[SHA256_CBLOCK];
	uint8		u[SHA256_DIGEST_LENGTH];
	SHA256_CTX	inner;
	SHA256_CTX	outer;
	SHA256_CTX	ctx;
	bool		ok;

	/* a key longer than a block is hashed first (RFC 2104) */
	if (password_len > SHA256_CBLOCK)
		ok = SHA256((const uint8 *) password, password_len, key) != NULL;
	else
	{
		memcpy(key, password, password_len);
		ok = true;
	}

	for (int i = 0; i < SHA256_CBLOCK; i++)
		pad[i] = key[i] ^ 0x36;
	ok = ok && SHA256_Init(&inner) && SHA256_Update(&inner, pad, SHA256_CBLOCK);
	for (int i = 0; i < SHA256_CBLOCK; i++)
		pad[i] = key[i] ^ 0x5c;
	ok = ok && SHA256_Init(&outer) && SHA256_Update(&outer, pad, SHA256_CBLOCK);

	/* U1 */
	ctx = inner;
	ok = ok && SHA256_Update(&ctx, salt, salt_len) &&
		SHA256_Update(&ctx, block_one, sizeof(block_one)) && SHA256_Final(u, &ctx);
	ctx = outer;
	ok = ok && SHA256_Update(&ctx, u, sizeof(u)) && SHA256_Final(u, &ctx);
	memcpy(out, u, sizeof(u));

	/* U2 ... Uc */
	for (int n = 1; ok && n < iterations; n++)
	{
		ctx = inner;
		ok = SHA256_Update(&ctx, u, sizeof(u)) && SHA256_Final(u, &ctx);
		ctx = outer;
		ok = ok && SHA256_Update(&ctx, u, sizeof(u)) && SHA256_Final(u, &ctx);
		for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
			out[i] ^= u[i];
	}

	explicit_bzero(key, sizeof(key));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(u, sizeof(u));
	explicit_bzero(&inner, sizeof(inner));
	explicit_bzero(&outer, sizeof(outer));
	explicit_bzero(&ctx, sizeof(ctx));
	return ok;
}

/*
 * scram_secret_build
 *		The SCRAM-SHA-256 secret of password with a new random salt and the
 *		iteration count CREATE ROLE ... PASSWORD would use here (the
 *		scram_iterations setting from 16), palloc'd, byte for byte in the
 *		format of pg_be_scram_build_secret().
 */
char *
scram_secret_build(const char *password)
{
	uint8		salt[SCRAM_DEFAULT_SALT_LEN];
	uint8		salted_password[SCRAM_SHA_256_KEY_LEN];
	uint8		client_key[SCRAM_SHA_256_KEY_LEN];
	uint8		stored_key[SCRAM_SHA_256_KEY_LEN];
	uint8		server_key[SCRAM_SHA_256_KEY_LEN];
	char	   *prep_password = NULL;
	const char *reason = NULL;
	bool		ok;
	char	   *result;
	int			iterations = pgrepl_scram_iterations();

	if (!pg_strong_random(salt, sizeof(salt)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random salt")));

	/* as PostgreSQL does: the password as it is when SASLprep refuses it */
	if (pg_saslprep(password, &prep_password) == SASLPREP_SUCCESS)
		password = prep_password;

	ERR_clear_error();
	StaticAssertStmt(SCRAM_SHA_256_KEY_LEN == SHA256_DIGEST_LENGTH, "SCRAM-SHA-256 keys are SHA-256 digests");
	ok = pbkdf2_hmac_sha256(password, strlen(password), salt, sizeof(salt),
							iterations, salted_password) &&
		HMAC(EVP_sha256(), salted_password, SCRAM_SHA_256_KEY_LEN,
			 (const unsigned char *) "Client Key", strlen("Client Key"),
			 client_key, NULL) != NULL &&
		EVP_Digest(client_key, SCRAM_SHA_256_KEY_LEN, stored_key, NULL,
				   EVP_sha256(), NULL) == 1 &&
		HMAC(EVP_sha256(), salted_password, SCRAM_SHA_256_KEY_LEN,
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

	result = psprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations,
					  base64(salt, sizeof(salt)),
					  base64(stored_key, sizeof(stored_key)),
					  base64(server_key, sizeof(server_key)));
	explicit_bzero(stored_key, sizeof(stored_key));
	explicit_bzero(server_key, sizeof(server_key));
	return result;
}
