/*-------------------------------------------------------------------------
 *
 * scram_secret.h
 *	  SCRAM-SHA-256 secrets (verifiers) computed with OpenSSL's PBKDF2.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SCRAM_SECRET_H
#define PGREPL_SCRAM_SECRET_H

extern char *scram_secret_build(const char *password);

#endif							/* PGREPL_SCRAM_SECRET_H */
