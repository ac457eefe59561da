/*-------------------------------------------------------------------------
 *
 * syncrep_text.h
 *	  The text of synchronous_standby_names as pgrepl_admin writes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_SYNCREP_TEXT_H
#define PGREPL_SYNCREP_TEXT_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

extern void syncrep_append_name(StringInfo buf, const char *name);
extern char *syncrep_render(const char *method, int num, List *names);

#endif							/* PGREPL_SYNCREP_TEXT_H */
