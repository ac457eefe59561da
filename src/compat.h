/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Differences between the PostgreSQL major versions pgrepl_admin
 *	  builds against.
 *
 * PostgreSQL 15 is what builds and is tested today.  Code that depends on
 * a version is guarded here or next to its use with PG_VERSION_NUM, so
 * that 13, 14, 16 and 17 can follow.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_COMPAT_H
#define PGREPL_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pgrepl_admin needs PostgreSQL 15 or later (shmem_request_hook, InitMaterializedSRF, MarkGUCPrefixReserved)"
#endif

#endif							/* PGREPL_COMPAT_H */
