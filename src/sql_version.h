/*-------------------------------------------------------------------------
 *
 * sql_version.h
 *	  Does the installed SQL (the extension's version in pg_extension)
 *	  match this library?
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SQL_VERSION_H
#define PGREPL_SQL_VERSION_H

extern char *pgrepl_installed_sql_version(void);
extern void pgrepl_require_sql_version(void);

#endif							/* PGREPL_SQL_VERSION_H */
