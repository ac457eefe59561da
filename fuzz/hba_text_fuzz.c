/*-------------------------------------------------------------------------
 *
 * hba_text_fuzz.c
 *	  libFuzzer harness for src/hba_text.c, without the server.
 *
 * From each input it takes a role name, a database name and a comment
 * (lengths from the first bytes, contents from the following ones) and uses
 * the rest as the text of a pg_hba.conf.  It checks that:
 *
 *	- a rule whose fields hba_field_problem() accepts renders to one line
 *	  that a tokenizer following the server's rules (PostgreSQL 15's
 *	  next_token(): blanks and commas separate, double quotes quote, ""
 *	  inside quotes is a quote, # outside quotes starts a comment) reads
 *	  back as exactly the five given fields, quoted where they must be,
 *	  followed by the comment that carries the rule's id;
 *	- finding, reading and splicing the managed block of any text never
 *	  crashes, stays within the documented buffer bounds (AddressSanitizer
 *	  watches), keeps every byte outside the block, and finds the new
 *	  block again in the result.
 *
 * Build and run: make fuzz (see the Makefile); the test command runs it
 * for a bounded time.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hba_text.h"

#define MAX_NAME 63
#define MAX_TOKENS 16

typedef struct Token
{
	char		text[512];
	int			quoted;
} Token;

/* Tokenize one line as the server does; returns the number of tokens and
 * points *comment at the text after an unquoted '#' (or NULL). */
static int
tokenize(const char *line, Token *tokens, const char **comment)
{
	int			n = 0;
	const char *p = line;

	*comment = NULL;
	for (;;)
	{
		size_t		len = 0;
		int			in_quote = 0;
		int			quoted = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == ',')
			p++;
		if (*p == '\0' || *p == '\n')
			return n;
		if (*p == '#')
		{
			*comment = p + 1;
			return n;
		}
		if (n == MAX_TOKENS)
			abort();
		while (*p != '\0' && *p != '\n' &&
			   (in_quote || (*p != ' ' && *p != '\t' && *p != '\r' && *p != ',' && *p != '#')))
		{
			if (*p == '"')
			{
				if (in_quote && p[1] == '"')
				{
					tokens[n].text[len++] = '"';
					p += 2;
					continue;
				}
				in_quote = !in_quote;
				quoted = 1;
				p++;
				continue;
			}
			if (len + 1 >= sizeof(tokens[n].text))
				abort();
			tokens[n].text[len++] = *p++;
		}
		if (in_quote)
			abort();			/* an unterminated quote: the line is broken */
		tokens[n].text[len] = '\0';
		tokens[n].quoted = quoted;
		n++;
	}
}

static void
expect_token(const Token *t, const char *text, int quoted)
{
	if (strcmp(t->text, text) != 0 || t->quoted != quoted)
	{
		fprintf(stderr, "token \"%s\" (quoted %d), expected \"%s\" (quoted %d)\n",
				t->text, t->quoted, text, quoted);
		abort();
	}
}

/* a NUL-terminated copy of the next n input bytes (cut at an embedded NUL) */
static char *
take(const uint8_t **data, size_t *size, size_t n)
{
	char	   *s;

	if (n > *size)
		n = *size;
	s = malloc(n + 1);
	memcpy(s, *data, n);
	s[n] = '\0';
	*data += n;
	*size -= n;
	return s;
}

static void
check_rule(const char *role, const char *database, const char *comment, long id)
{
	HbaRuleText rule = {id, "hostssl", database, role, "10.0.0.0/8", "scram-sha-256", comment};
	Token		tokens[MAX_TOKENS];
	const char *rest;
	size_t		size;
	char	   *line;
	size_t		len;
	int			n;

	if (hba_field_problem(role, MAX_NAME) != NULL ||
		(database && hba_field_problem(database, MAX_NAME) != NULL) ||
		(comment && hba_field_problem(comment, HBA_MAX_COMMENT) != NULL))
		return;					/* refused before rendering, as the SQL faces do */

	size = hba_rule_line_size(&rule);
	line = malloc(size);
	len = hba_render_rule(&rule, line);
	if (len + 1 > size || line[len] != '\0' || len == 0 || line[len - 1] != '\n' ||
		memchr(line, '\n', len - 1) != NULL)
		abort();				/* one line, within its announced size */

	n = tokenize(line, tokens, &rest);
	if (n != 5 || rest == NULL)
		abort();
	expect_token(&tokens[0], "hostssl", 0);
	if (database)
		expect_token(&tokens[1], database, 1);
	else
		expect_token(&tokens[1], "replication", 0);
	expect_token(&tokens[2], role, 1);
	expect_token(&tokens[3], "10.0.0.0/8", 1);
	expect_token(&tokens[4], "scram-sha-256", 0);
	if (hba_line_rule_id(line, len) != id)
		abort();
	free(line);
}

static void
check_block(const char *text, size_t len, int position)
{
	static const char block[] = HBA_BLOCK_BEGIN "hostssl replication \"r\" \"10.0.0.1/32\" scram-sha-256 " HBA_RULE_TAG "1\n" HBA_BLOCK_END;
	size_t		block_len = sizeof(block) - 1;
	size_t		start = 0;
	size_t		end = 0;
	HbaBlockStatus status = hba_find_block(text, len, &start, &end);
	char	   *out;
	size_t		out_len;
	size_t		s2, e2;

	if (status == HBA_BLOCK_FOUND && !(start <= end && end <= len))
		abort();
	(void) hba_first_rule_offset(text, len);

	out = malloc(len + block_len + 1);
	out_len = hba_splice_block(text, len, block, block_len,
							   position ? HBA_POSITION_BOTTOM : HBA_POSITION_TOP, out);
	if (status == HBA_BLOCK_DAMAGED)
	{
		if (out_len != (size_t) -1)
			abort();
		free(out);
		return;
	}
	if (out_len == (size_t) -1 || out_len > len + block_len + 1)
		abort();
	/* the new block is there, once, and the bytes around it are the old text's */
	if (hba_find_block(out, out_len, &s2, &e2) != HBA_BLOCK_FOUND || e2 - s2 != block_len ||
		memcmp(out + s2, block, block_len) != 0)
		abort();
	{
		size_t		kept = out_len - block_len;
		size_t		old_kept = len - (status == HBA_BLOCK_FOUND ? end - start : 0);

		/* at most one newline added before a block at the end */
		if (kept != old_kept && kept != old_kept + 1)
			abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *role;
	char	   *database;
	char	   *comment;
	size_t		role_len, db_len, comment_len;
	int			position;
	long		id;
	char	   *text;
	size_t		text_len;

	if (size < 5)
		return 0;
	role_len = data[0] % (MAX_NAME + 8);
	db_len = data[1] % (MAX_NAME + 8);
	comment_len = data[2];
	position = data[3] & 1;
	id = (long) data[4] * 977 + 1;
	data += 5;
	size -= 5;

	role = take(&data, &size, role_len);
	database = db_len ? take(&data, &size, db_len) : NULL;
	comment = comment_len ? take(&data, &size, comment_len) : NULL;
	check_rule(role, database, comment, id);

	text_len = size;
	text = take(&data, &size, size);
	check_block(text, text_len, position);

	free(role);
	free(database);
	free(comment);
	free(text);
	return 0;
}
