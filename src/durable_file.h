/*-------------------------------------------------------------------------
 *
 * durable_file.h
 *	  The one way pgrepl_admin writes, reads and removes its files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_DURABLE_FILE_H
#define PGREPL_DURABLE_FILE_H

#include "nodes/pg_list.h"

extern void durable_file_make_dir(const char *path);
extern void durable_file_make_private_dir(const char *path);
extern void durable_file_write(const char *path, const char *data, size_t len, mode_t mode);
extern void durable_file_stage(const char *path, const char *data, size_t len, mode_t mode);
extern char *durable_file_read(const char *path, size_t *len, bool missing_ok);
extern void durable_file_remove(const char *path);
extern List *durable_file_list(const char *dir, const char *prefix, const char *suffix);

#endif							/* PGREPL_DURABLE_FILE_H */
