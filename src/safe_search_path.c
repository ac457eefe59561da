/*-------------------------------------------------------------------------
 *
 * safe_search_path.c
 *	  Names in pgrepl_admin's own SQL resolve in pg_catalog (and the
 *	  extension's schema, named in full) only, whatever the search_path of
 *	  the session, role or database.
 *
 * A function, operator or type that matches a name the extension uses
 * better than the built-in one (public.>(numeric, bigint) against
 * numeric > bigint, a domain named text in a schema listed before
 * pg_catalog) would otherwise run as whoever runs the extension's code:
 * a superuser, or the bootstrap superuser in the workers.  Every SQL
 * function of the extension pins search_path = pg_catalog, pg_temp in its
 * definition.  Three kinds of code run outside such a function:
 *
 *	- the background workers (the maintenance worker, the backup workers),
 *	  whose path comes from postgresql.conf and from ALTER DATABASE / ALTER
 *	  ROLE settings, which a database owner may set:
 *	  pgrepl_safe_search_path_for_worker() overrides it for the process at
 *	  its start, so that no setting and no reload changes it, and every
 *	  task, present or future, every catalog lookup and every SPI
 *	  statement of the process is covered at once;
 *	- the work of the transaction callbacks at PRE_COMMIT (pg_hba.conf
 *	  rendered from hba_rules, slots made and dropped, the synchronous
 *	  setting written), which runs after the SQL function returned and its
 *	  SET was undone, with the caller's path in force again: every SPI
 *	  statement the C code runs is bracketed by
 *	  pgrepl_safe_search_path_push() and _pop(), in spi_query.c for the
 *	  statements that go through it and around the few that do not;
 *	- the clone command, a shell script (it sets the path itself).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "safe_search_path.h"

/*
 * pgrepl_safe_search_path_push
 *		Put search_path = pg_catalog, pg_temp in force until the matching
 *		pgrepl_safe_search_path_pop(), as a function's SET clause does: a
 *		new GUC nest level, which an ERROR in between unwinds with the
 *		(sub)transaction.  Returns the level to pass to the pop, or 0 when
 *		the path was already that (inside a pinned function, in a worker),
 *		which costs nothing.
 */
int
pgrepl_safe_search_path_push(void)
{
	const char *current = GetConfigOption("search_path", false, false);
	int			nest_level;

	if (current != NULL && strcmp(current, PGREPL_SAFE_SEARCH_PATH) == 0)
		return 0;
	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", PGREPL_SAFE_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nest_level;
}

/*
 * pgrepl_safe_search_path_pop
 *		Put back the search_path that pgrepl_safe_search_path_push() found.
 */
void
pgrepl_safe_search_path_pop(int nest_level)
{
	if (nest_level > 0)
		AtEOXact_GUC(true, nest_level);
}

/*
 * pgrepl_safe_search_path_for_worker
 *		For a background worker, once connected: search_path is
 *		pg_catalog, pg_temp for the life of the process, as an override,
 *		which neither postgresql.conf, nor ALTER DATABASE or ALTER ROLE
 *		settings, nor a reload can change.
 */
void
pgrepl_safe_search_path_for_worker(void)
{
	SetConfigOption("search_path", PGREPL_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_OVERRIDE);
}
