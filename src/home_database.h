/*-------------------------------------------------------------------------
 *
 * home_database.h
 *	  The one database where pgrepl_admin lives: pgrepl_admin.database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HOME_DATABASE_H
#define PGREPL_HOME_DATABASE_H

extern void pgrepl_require_home_database(void);

#endif							/* PGREPL_HOME_DATABASE_H */
