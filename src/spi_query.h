/*-------------------------------------------------------------------------
 *
 * spi_query.h
 *	  One SQL statement with text arguments through SPI, for the SQL
 *	  functions that read and write pgrepl_admin's own tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SPI_QUERY_H
#define PGREPL_SPI_QUERY_H

extern char **pgrepl_query_row(const char *sql, int nargs, const char *const *argv);
extern char ***pgrepl_query_rows(const char *sql, int nargs, const char *const *argv,
								   uint64 *nrows);
extern uint64 pgrepl_query_exec(const char *sql, int nargs, const char *const *argv);

#endif							/* PGREPL_SPI_QUERY_H */
