/*-------------------------------------------------------------------------
 *
 * cstring_list.h
 *	  Lists of C strings (a List whose cells point to char), as the
 *	  standby and synchronous-setting code keep names and slots.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CSTRING_LIST_H
#define PGREPL_CSTRING_LIST_H

#include "nodes/pg_list.h"

/* Whether the List of C strings list holds a string equal to s. */
static inline bool
cstring_listed(const List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
	{
		if (strcmp((const char *) lfirst(lc), s) == 0)
			return true;
	}
	return false;
}

#endif							/* PGREPL_CSTRING_LIST_H */
