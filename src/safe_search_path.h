/*-------------------------------------------------------------------------
 *
 * safe_search_path.h
 *	  The search_path pgrepl_admin's own SQL runs with, outside the SQL
 *	  functions that pin it themselves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SAFE_SEARCH_PATH_H
#define PGREPL_SAFE_SEARCH_PATH_H

/* the value every SQL function of the extension pins, and the C code uses */
#define PGREPL_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

extern int	pgrepl_safe_search_path_push(void);
extern void pgrepl_safe_search_path_pop(int nest_level);
extern void pgrepl_safe_search_path_for_worker(void);

#endif							/* PGREPL_SAFE_SEARCH_PATH_H */
