/*-------------------------------------------------------------------------
 *
 * hba_text.c
 *	  Quoting, rule lines and the managed block of pg_hba.conf, as text.
 *
 * The server splits a pg_hba.conf line on blanks and commas outside double
 * quotes; an unquoted '#' starts a comment; two double quotes inside quotes
 * stand for one; unquoted "all", "replication", "sameuser", "samerole", a
 * leading '+' or '@' are special, and quoting makes them plain names.  A
 * trailing backslash joins the next line (PostgreSQL 15, even inside quotes
 * and comments), and nothing can put a newline inside a field.  So every
 * name is written quoted with its quotes doubled, and a field with a
 * control character is refused by hba_field_problem() before it gets here.
 *
 * The managed block is everything from the BEGIN marker line to the END
 * marker line, both included.  hba_splice_block() takes a file, drops the
 * block it has (if any) and puts a new one where pgrepl_admin.hba_position
 * says, leaving every other byte as it was.
 *
 * Nothing here allocates: callers size the output buffers with the
 * documented bounds.  Plain C, no server headers, to be fuzzed alone.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "hba_text.h"

/*
 * hba_field_problem
 *		Why value cannot be a field (or comment) of a rule, or NULL when it
 *		can: it must be non-empty, at most max_len bytes and free of control
 *		characters, and must not end with a backslash (a line
 *		continuation).
 */
const char *
hba_field_problem(const char *value, size_t max_len)
{
	size_t		len = strlen(value);

	if (len == 0)
		return "must not be empty";
	if (len > max_len)
		return "is too long";
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7f)
			return "must not contain control characters such as a newline";
	}
	if (value[len - 1] == '\\')
		return "must not end with a backslash";
	return NULL;
}

/*
 * hba_quote_field
 *		Write value as one double-quoted token into out, which has room for
 *		2 * strlen(value) + 3 bytes; return the length written (without the
 *		terminating NUL).
 */
size_t
hba_quote_field(const char *value, char *out)
{
	size_t		n = 0;

	out[n++] = '"';
	for (const char *p = value; *p; p++)
	{
		if (*p == '"')
			out[n++] = '"';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

/*
 * hba_rule_line_size
 *		Bytes that hba_render_rule() may need for this rule, NUL included.
 */
size_t
hba_rule_line_size(const HbaRuleText *rule)
{
	return strlen(rule->connection_type) + 1 +
		(rule->database ? 2 * strlen(rule->database) + 3 : strlen("replication")) + 1 +
		2 * strlen(rule->role_name) + 3 + 1 +
		2 * strlen(rule->address) + 3 + 1 +
		strlen(rule->method) + 1 +
		strlen(HBA_RULE_TAG) + 24 +
		(rule->comment ? strlen(rule->comment) + 2 : 0) + 2;
}

/*
 * hba_render_rule
 *		One rule as a pg_hba.conf line, newline included, into out (of
 *		hba_rule_line_size() bytes); returns its length.  The line ends
 *		with a comment that carries the rule's id:
 *
 *		hostssl replication "standby1" "10.0.0.5/32" scram-sha-256 # pgrepl_admin rule 7: text
 */
size_t
hba_render_rule(const HbaRuleText *rule, char *out)
{
	size_t		n = 0;

	n += sprintf(out + n, "%s ", rule->connection_type);
	if (rule->database)
		n += hba_quote_field(rule->database, out + n);
	else
		n += sprintf(out + n, "replication");
	out[n++] = ' ';
	n += hba_quote_field(rule->role_name, out + n);
	out[n++] = ' ';
	n += hba_quote_field(rule->address, out + n);
	n += sprintf(out + n, " %s %s%ld", rule->method, HBA_RULE_TAG, rule->rule_id);
	if (rule->comment)
		n += sprintf(out + n, ": %s", rule->comment);
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

/* Whether the line [p, p + len) (newline excluded) is the marker (newline included). */
static bool
line_is(const char *p, size_t len, const char *marker)
{
	return len == strlen(marker) - 1 && memcmp(p, marker, len) == 0;
}

/*
 * hba_find_block
 *		Locate the managed block: on HBA_BLOCK_FOUND, [*start, *end) is the
 *		BEGIN line through the END line, newlines included.
 */
HbaBlockStatus
hba_find_block(const char *text, size_t len, size_t *start, size_t *end)
{
	size_t		pos = 0;
	bool		in_block = false;
	bool		found = false;

	while (pos < len)
	{
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		line_len = nl ? (size_t) (nl - (text + pos)) : len - pos;
		size_t		next = nl ? pos + line_len + 1 : len;

		if (line_is(text + pos, line_len, HBA_BLOCK_BEGIN))
		{
			if (in_block || found)
				return HBA_BLOCK_DAMAGED;
			in_block = true;
			*start = pos;
		}
		else if (line_is(text + pos, line_len, HBA_BLOCK_END))
		{
			if (!in_block)
				return HBA_BLOCK_DAMAGED;
			in_block = false;
			found = true;
			*end = next;
		}
		pos = next;
	}
	if (in_block)
		return HBA_BLOCK_DAMAGED;
	return found ? HBA_BLOCK_FOUND : HBA_BLOCK_NONE;
}

/*
 * hba_first_rule_offset
 *		Offset of the first line that is neither blank nor a comment; len
 *		when there is none.
 */
size_t
hba_first_rule_offset(const char *text, size_t len)
{
	size_t		pos = 0;

	while (pos < len)
	{
		size_t		p = pos;

		while (p < len && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
			p++;
		if (p < len && text[p] != '#' && text[p] != '\n')
			return pos;
		while (p < len && text[p] != '\n')
			p++;
		pos = p + 1;
	}
	return len;
}

/*
 * hba_splice_block
 *		Write into out (len + block_len + 1 bytes) the file text with its
 *		managed block, if any, replaced by block (which holds the markers),
 *		placed before the first rule (HBA_POSITION_TOP) or at the end.
 *		Every byte outside the block is kept; when the block goes at the end
 *		of a file that does not end with a newline, one is added before it.
 *		Returns the length written, or (size_t) -1 when the existing block
 *		is damaged (the file is then left to a human).
 */
size_t
hba_splice_block(const char *text, size_t len, const char *block, size_t block_len,
				 HbaPosition position, char *out)
{
	size_t		start = 0;
	size_t		end = 0;
	size_t		rest;
	size_t		at;
	size_t		gap = 0;

	switch (hba_find_block(text, len, &start, &end))
	{
		case HBA_BLOCK_DAMAGED:
			return (size_t) -1;
		case HBA_BLOCK_NONE:
			start = end = len;
			break;
		case HBA_BLOCK_FOUND:
			break;
	}

	/* the file without its block */
	memcpy(out, text, start);
	memcpy(out + start, text + end, len - end);
	rest = start + (len - end);

	if (position == HBA_POSITION_TOP)
		at = hba_first_rule_offset(out, rest);
	else
		at = rest;
	if (at == rest && rest > 0 && out[rest - 1] != '\n')
		gap = 1;

	memmove(out + at + gap + block_len, out + at, rest - at);
	if (gap)
		out[at] = '\n';
	memcpy(out + at + gap, block, block_len);
	return rest + gap + block_len;
}

/*
 * hba_line_rule_id
 *		The rule id a managed rule line carries in its comment, or -1 when
 *		the line has none.  The comment is the first '#' outside double
 *		quotes, as the server's tokenizer sees it.
 */
long
hba_line_rule_id(const char *line, size_t len)
{
	bool		in_quote = false;
	size_t		tag_len = strlen(HBA_RULE_TAG);

	for (size_t i = 0; i < len; i++)
	{
		if (line[i] == '"')
			in_quote = !in_quote;
		else if (line[i] == '#' && !in_quote)
		{
			long		id = 0;
			size_t		j = i + tag_len;

			if (len - i < tag_len || memcmp(line + i, HBA_RULE_TAG, tag_len) != 0)
				return -1;
			if (j >= len || line[j] < '0' || line[j] > '9')
				return -1;
			for (; j < len && line[j] >= '0' && line[j] <= '9'; j++)
			{
				if (id > (0x7fffffffL - 9) / 10)
					return -1;
				id = id * 10 + (line[j] - '0');
			}
			return id;
		}
		else if (line[i] == '\n')
			return -1;
	}
	return -1;
}
