/*-------------------------------------------------------------------------
 *
 * syncrep_text.c
 *	  Quoting standby names and rendering synchronous_standby_names.
 *
 * The server reads the setting with its own small grammar
 * (src/backend/replication/syncrep_scanner.l and syncrep_gram.y): a name
 * is either an identifier, a letter, underscore or byte >= 0x80 followed
 * by those, digits and '$', or a double-quoted string in which "" stands
 * for one quote.  ANY and FIRST are keywords in any case, a run of digits
 * is a number and '*' matches every standby.  So a name is written bare
 * only when the scanner reads it back as that same name: an identifier
 * that is not a keyword; anything else (a leading digit, a keyword, '*',
 * blanks, commas, quotes, parentheses) is double-quoted.
 *
 * The server compares the names it read with each walsender's
 * application_name without regard to case; quoting keeps the case of what
 * is written, it does not make the match case-sensitive.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "syncrep_text.h"

/* Whether the syncrep scanner reads name, unquoted, as that name. */
static bool
is_plain_name(const char *name)
{
	const unsigned char *p = (const unsigned char *) name;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p >= 0x80))
		return false;
	for (; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			  *p == '_' || *p == '$' || *p >= 0x80))
			return false;
	}
	return pg_strcasecmp(name, "any") != 0 && pg_strcasecmp(name, "first") != 0;
}

/*
 * syncrep_append_name
 *		Append name to buf as the syncrep grammar reads it back unchanged.
 */
void
syncrep_append_name(StringInfo buf, const char *name)
{
	if (is_plain_name(name))
	{
		appendStringInfoString(buf, name);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (const char *p = name; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * syncrep_render
 *		The value of synchronous_standby_names that waits for num of names
 *		(a List of C strings, in priority order) by method, "any" (quorum)
 *		or "first" (priority); the empty string when num is 0.
 */
char *
syncrep_render(const char *method, int num, List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (num == 0)
		return buf.data;
	appendStringInfo(&buf, "%s %d (", strcmp(method, "first") == 0 ? "FIRST" : "ANY", num);
	foreach(lc, names)
	{
		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&buf, ", ");
		syncrep_append_name(&buf, lfirst(lc));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}
