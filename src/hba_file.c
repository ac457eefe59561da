/*-------------------------------------------------------------------------
 *
 * hba_file.c
 *	  The one path by which pgrepl_admin changes pg_hba.conf.
 *
 * pgrepl_admin.hba_rules is the source of truth; the file gets a managed
 * block rendered from it (hba_text.c), and every other byte stays.  A
 * change reaches the file only when the transaction that made it commits:
 *
 *	- whoever changes hba_rules (hba_add and friends, or any statement on
 *	  the table, through its trigger) takes SHARE ROW EXCLUSIVE on it, held
 *	  to the end of the transaction, and calls hba_file_write_at_commit();
 *	- at PRE_COMMIT, while the transaction can still fail cleanly, the
 *	  table is read with the latest snapshot (so rules that other
 *	  transactions committed before ours are seen, whatever the isolation
 *	  level), the file is rendered and written as a candidate next to the
 *	  live file (so that relative @file references resolve alike), and the
 *	  candidate is checked with the server's own parser,
 *	  tokenize_auth_file() and parse_hba_line().  A line the server would
 *	  reject aborts the commit with the rule and the parser's reason;
 *	- at COMMIT the candidate is renamed over the live file (durably) and
 *	  the postmaster is signalled to reload.  The commit may have waited
 *	  there for a synchronous standby, without bound, and the file may have
 *	  been edited by hand meanwhile: the live file is read again, still
 *	  under the lock, and when it changed the block checked at PRE_COMMIT
 *	  is spliced into its new text instead, so that no byte outside the
 *	  block is lost.  Nothing may fail there, so problems are logged; a
 *	  crash between commit and rename is repaired by the hba_sync task;
 *	- at ABORT the candidate is removed and the file never changed.
 *
 * However many rules a transaction changes, the file is written once.
 * The lock serialises writers: the next one reads the table only after the
 * previous one has committed and renamed its file, so none loses another's
 * rules.  The hba_sync task (hba_file_sync_now) renders the same way at
 * any time, also on a standby, where no lock is needed (nothing writes
 * the table there) and the file is not part of the database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "durable_file.h"
#include "hba_file.h"
#include "hba_text.h"
#include "safe_search_path.h"
#include "server_config.h"
#include "settings.h"

/* state of the current transaction's pending rewrite */
static bool write_pending = false;
static bool reload_pending = false;
static bool candidate_ready = false;
static char candidate_path[MAXPGPATH];
static bool callback_registered = false;

/*
 * The managed block of the candidate and the live text it was spliced
 * into (in TopMemoryContext while a candidate exists): at COMMIT the
 * block goes into the live file as it is then.
 */
static char *candidate_block = NULL;
static size_t candidate_block_len = 0;
static char *candidate_live = NULL;
static size_t candidate_live_len = 0;

static const char *const read_rules_sql =
"SELECT rule_id, connection_type, database, role_name::text, "
"       pg_catalog.host(address) || '/' || pg_catalog.masklen(address), method, comment "
"FROM pgrepl_admin.hba_rules WHERE applied OPERATOR(pg_catalog.=) $1 ORDER BY rule_id";

/*
 * hba_rules_relid
 *		The OID of pgrepl_admin.hba_rules.
 */
Oid
hba_rules_relid(void)
{
	Oid			nsp = get_namespace_oid("pgrepl_admin", false);
	Oid			relid = get_relname_relid("hba_rules", nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "table pgrepl_admin.hba_rules does not exist");
	return relid;
}

/*
 * managed_rows_text
 *		The row versions of hba_rules and standbys that a snapshot sees, as
 *		text: two snapshots that see the same rows give the same text.  The
 *		transaction's own changes count alike whatever the snapshot.
 */
static char *
managed_rows_text(Snapshot snapshot)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *text;
	int			nest_level;
	int			rc;

	PushCopiedSnapshot(snapshot);
	UpdateActiveSnapshotCommandId();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = pgrepl_safe_search_path_push();
	rc = SPI_execute("SELECT pg_catalog.concat("
					 "(SELECT pg_catalog.string_agg(ctid::text, ',' ORDER BY ctid) FROM pgrepl_admin.hba_rules), ';', "
					 "(SELECT pg_catalog.string_agg(ctid::text, ',' ORDER BY ctid) FROM pgrepl_admin.standbys))",
					 true, 1);
	pgrepl_safe_search_path_pop(nest_level);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the row versions of pgrepl_admin.hba_rules failed: %s",
			 SPI_result_code_string(rc));
	text = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	PopActiveSnapshot();
	return text;
}

/*
 * hba_file_lock_rules
 *		Take the writers' lock on hba_rules, held to the end of the
 *		transaction; it also covers pgrepl_admin.standbys.  During recovery
 *		nothing writes the table, and the lock cannot be had: it is skipped.
 *
 * Under READ COMMITTED each later statement sees what the previous holder
 * committed.  Under REPEATABLE READ and SERIALIZABLE the transaction's
 * snapshot may be older than that commit, and acting on it would add a
 * rule or a standby that already exists, or miss one to remove: when
 * either table changed since the snapshot was taken, this is a
 * serialization failure, which the client retries.
 */
void
hba_file_lock_rules(void)
{
	Oid			relid;
	LOCKTAG		tag;
	bool		held;

	if (RecoveryInProgress())
		return;
	relid = hba_rules_relid();
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	held = pgrepl_lock_held_by_me(&tag, ShareRowExclusiveLock);
	LockRelationOid(relid, ShareRowExclusiveLock);
	if (held || !IsolationUsesXactSnapshot())
		return;

	if (strcmp(managed_rows_text(GetTransactionSnapshot()),
			   managed_rows_text(GetLatestSnapshot())) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent changes of pgrepl_admin.hba_rules or pgrepl_admin.standbys"),
				 errdetail("Another transaction committed changes to the managed rules or standbys after this transaction's snapshot was taken."),
				 errhint("The transaction might succeed if retried.  Taking the lock first, with LOCK TABLE pgrepl_admin.hba_rules IN SHARE ROW EXCLUSIVE MODE as the transaction's first statement, avoids this.")));
}

/*
 * read_rules
 *		The rows of hba_rules whose applied flag is applied, by rule_id,
 *		read with the active snapshot, as a List of HbaRule in the caller's
 *		memory context.
 */
static List *
read_rules(bool applied)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *rules = NIL;
	Oid			argtypes[1] = {BOOLOID};
	Datum		values[1] = {BoolGetDatum(applied)};
	int			nest_level;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* (also at PRE_COMMIT, with the caller's search_path in force) */
	nest_level = pgrepl_safe_search_path_push();
	rc = SPI_execute_with_args(read_rules_sql, 1, argtypes, values, NULL, true, 0);
	pgrepl_safe_search_path_pop(nest_level);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading pgrepl_admin.hba_rules failed: %s", SPI_result_code_string(rc));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		HbaRule    *rule = palloc0(sizeof(HbaRule));

		rule->rule_id = pg_strtoint64(SPI_getvalue(tup, desc, 1));
		rule->connection_type = SPI_getvalue(tup, desc, 2);
		rule->database = SPI_getvalue(tup, desc, 3);
		rule->role_name = SPI_getvalue(tup, desc, 4);
		rule->address = SPI_getvalue(tup, desc, 5);
		rule->method = SPI_getvalue(tup, desc, 6);
		rule->comment = SPI_getvalue(tup, desc, 7);
		rules = lappend(rules, rule);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return rules;
}

/*
 * hba_file_read_rules
 *		The applied rules of hba_rules, those the file holds: a rule that
 *		arrived other than through the extension's functions (a restored
 *		dump) waits until applied, and no render writes it (hba_restore.c).
 */
List *
hba_file_read_rules(void)
{
	return read_rules(true);
}

/*
 * hba_file_read_waiting_rules
 *		The rules that wait to be applied, by rule_id.
 */
List *
hba_file_read_waiting_rules(void)
{
	return read_rules(false);
}

/* A name or comment the file can hold, or an error naming the field. */
static void
check_field(const HbaRule *rule, const char *value, const char *field, size_t max_len)
{
	const char *problem = hba_field_problem(value, max_len);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s", field, problem),
				 errdetail("The %s may have at most %zu bytes, none of them a control character, and must not end with a backslash.",
						   field, max_len),
				 rule->rule_id > 0 ?
				 errhint("Correct or delete rule %lld of pgrepl_admin.hba_rules; pg_hba.conf was left as it was.",
						 (long long) rule->rule_id) : 0));
}

/*
 * hba_file_check_fields
 *		Error unless the rule's names and comment fit on its line: hba_add()
 *		checks its arguments with it, and the file is never rendered from a
 *		row that a direct write to hba_rules left unfit (the error names
 *		the rule).
 */
void
hba_file_check_fields(const HbaRule *rule)
{
	check_field(rule, rule->role_name, "role_name", NAMEDATALEN - 1);
	check_field(rule, rule->database, "database", NAMEDATALEN - 1);
	if (rule->comment)
		check_field(rule, rule->comment, "comment", HBA_MAX_COMMENT);
}

/*
 * hba_file_rule_line
 *		The rule's line in pg_hba.conf, newline included (palloc'd).
 */
char *
hba_file_rule_line(const HbaRule *rule)
{
	HbaRuleText text;
	char	   *line;

	text.rule_id = (long) rule->rule_id;
	text.connection_type = rule->connection_type;
	text.database = strcmp(rule->database, "replication") == 0 ? NULL : rule->database;
	text.role_name = rule->role_name;
	text.address = rule->address;
	text.method = rule->method;
	text.comment = rule->comment;
	line = palloc(hba_rule_line_size(&text));
	(void) hba_render_rule(&text, line);
	return line;
}

/*
 * splice_block
 *		The live file's text with this managed block in place of its own;
 *		NULL when the file's markers are damaged.
 */
static char *
splice_block(const char *live, size_t live_len, const char *block, size_t block_len,
			 size_t *out_len)
{
	char	   *out = palloc(live_len + block_len + 2);
	size_t		n;

	n = hba_splice_block(live, live_len, block, block_len,
						 pgrepl_hba_position == PGREPL_HBA_POSITION_BOTTOM ?
						 HBA_POSITION_BOTTOM : HBA_POSITION_TOP, out);
	if (n == (size_t) -1)
	{
		pfree(out);
		return NULL;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

/*
 * render_file
 *		The live file's text with its managed block holding these rules;
 *		*block receives the block alone.
 */
static char *
render_file(List *rules, const char *live, size_t live_len, size_t *out_len,
			StringInfo block)
{
	ListCell   *lc;
	char	   *out;

	initStringInfo(block);
	appendStringInfoString(block, HBA_BLOCK_BEGIN);
	foreach(lc, rules)
	{
		hba_file_check_fields(lfirst(lc));
		appendStringInfoString(block, hba_file_rule_line(lfirst(lc)));
	}
	appendStringInfoString(block, HBA_BLOCK_END);

	out = splice_block(live, live_len, block->data, block->len, out_len);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the pgrepl_admin managed block of \"%s\" is damaged", HbaFileName),
				 errdetail("A marker line of the block is missing, repeated or out of order."),
				 errhint("Repair pg_hba.conf by hand: keep exactly one BEGIN and one END marker line, in that order, or remove both; then call pgrepl_admin.hba_sync().")));
	return out;
}

/* Number of the line that starts at offset off of text (1-based). */
static int
line_number_at(const char *text, size_t off)
{
	int			n = 1;

	for (size_t i = 0; i < off; i++)
		n += (text[i] == '\n');
	return n;
}

/*
 * parse_lines
 *		Every line of file (whose text is text) as the server's parser sees
 *		it: a List of HbaFileLine.  filename resolves relative @file
 *		references.  Lines between the block's markers carry their rule id.
 */
static List *
parse_lines(const char *filename, FILE *file, const char *text, size_t len)
{
	PgreplTokenized tokenized;
	List	   *lines = NIL;
	ListCell   *lc;
	size_t		start;
	size_t		end;
	int			first_block_line = 0;
	int			last_block_line = 0;

	if (hba_find_block(text, len, &start, &end) == HBA_BLOCK_FOUND)
	{
		first_block_line = line_number_at(text, start);
		last_block_line = line_number_at(text, end) - 1;
	}

	/* the tokens live until pgrepl_tokenize_end(): copy what we keep */
	pgrepl_tokenize_begin(&tokenized, filename, file);
	foreach(lc, tokenized.lines)
	{
		TokenizedAuthLine *tok = lfirst(lc);
		HbaFileLine *line = palloc0(sizeof(HbaFileLine));
		const char *file_name = PGREPL_TOK_FILE_NAME(tok, filename);

		/* the live file's name, also for a candidate's own lines */
		line->included = strcmp(file_name, filename) != 0;
		line->file_name = pstrdup(line->included ? file_name : HbaFileName);
		line->line_num = tok->line_num;
		line->raw_line = pstrdup(tok->raw_line);
		line->rule_id = -1;
		if (!line->included &&
			tok->line_num > first_block_line && tok->line_num < last_block_line)
			line->rule_id = hba_line_rule_id(tok->raw_line, strlen(tok->raw_line));
		if (tok->err_msg == NULL)
			line->parsed = parse_hba_line(tok, DEBUG3);
		/* the tokenizer's message, or the one parse_hba_line() set */
		if (tok->err_msg != NULL)
			line->error = pstrdup(tok->err_msg);
		lines = lappend(lines, line);
	}
	pgrepl_tokenize_end(&tokenized);
	return lines;
}

/*
 * hba_file_parse_text
 *		The lines of a pg_hba.conf held in memory, parsed as if it were the
 *		live file.
 */
List *
hba_file_parse_text(const char *text, size_t len)
{
	FILE	   *file;
	List	   *volatile lines = NIL;

	file = fmemopen(len > 0 ? (void *) text : (void *) "", len, "r");
	if (file == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not open a memory stream: %m")));
	PG_TRY();
	{
		lines = parse_lines(HbaFileName, file, text, len);
	}
	PG_FINALLY();
	{
		fclose(file);
	}
	PG_END_TRY();
	return lines;
}

/* Raise the error for a line of a candidate that the server rejects. */
static void
report_rejected(const HbaFileLine *line)
{
	const char *why = line->error ? line->error : "invalid line";

	if (line->rule_id == 0)		/* a rule not yet added: hba_file_check_rule */
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the server would reject this rule: %s", why),
				 errdetail("Its line in pg_hba.conf would be: %s.", line->raw_line)));
	if (line->rule_id > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the server would reject pgrepl_admin rule %lld: %s",
						(long long) line->rule_id, why),
				 errdetail("Line %d of the new pg_hba.conf would be: %s.",
						   line->line_num, line->raw_line),
				 errhint("pg_hba.conf was left as it was.")));
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("line %d of \"%s\" is invalid: %s", line->line_num, line->file_name, why),
			 errdetail("The line is outside the pgrepl_admin managed block: %s.", line->raw_line),
			 errhint("The server would not load the file; correct the line by hand, then call pgrepl_admin.hba_sync().")));
}

/*
 * hba_file_check_rule
 *		Check one rule's line with the server's parser before it goes into
 *		the table, so that a bad rule fails where it is added.
 */
void
hba_file_check_rule(const HbaRule *rule)
{
	char	   *line = hba_file_rule_line(rule);
	StringInfoData text;
	List	   *lines;

	/* inside markers, so that the parser's result names the rule */
	initStringInfo(&text);
	appendStringInfo(&text, "%s%s%s", HBA_BLOCK_BEGIN, line, HBA_BLOCK_END);
	lines = hba_file_parse_text(text.data, text.len);
	if (list_length(lines) != 1)
		elog(ERROR, "rule line tokenized into %d lines", list_length(lines));
	if (((HbaFileLine *) linitial(lines))->parsed == NULL)
		report_rejected(linitial(lines));
}

/*
 * The lines outside the managed block of the last candidate that the
 * server's parser accepted in this backend, byte for byte, and the file
 * they were for.  A candidate whose lines outside the block are the same
 * needs only its block parsed: the parser's verdict on a line depends on
 * its text alone, except for @file references and include lines (their
 * files may change) and a line continued into the block, which therefore
 * always get the whole file parsed.
 */
static char *checked_outside = NULL;
static size_t checked_outside_len = 0;
static char checked_file[MAXPGPATH];

/* Whether text's lines outside [start, end) are those last accepted. */
static bool
outside_block_accepted(const char *text, size_t len, size_t start, size_t end)
{
	return checked_outside != NULL &&
		strcmp(checked_file, HbaFileName) == 0 &&
		checked_outside_len == start + (len - end) &&
		memcmp(checked_outside, text, start) == 0 &&
		memcmp(checked_outside + start, text + end, len - end) == 0;
}

/*
 * Whether the line that starts at text begins with an include directive
 * (include, include_if_exists, include_dir: PostgreSQL 16), quoted or not,
 * as the tokenizer reads its first field.
 */
static bool
is_include_line(const char *text, size_t len)
{
	static const char *const directives[] = {"include_if_exists", "include_dir", "include"};
	size_t		i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	if (i < len && text[i] == '"')
		i++;
	for (int d = 0; d < lengthof(directives); d++)
	{
		size_t		n = strlen(directives[d]);

		if (len - i > n && strncmp(text + i, directives[d], n) == 0 &&
			strchr(" \t\"", text[i + n]) != NULL)
			return true;
	}
	return false;
}

/*
 * Whether text may refer to other files: an @file reference (an @ outside
 * a comment, quoted or not: a quoted one is no reference, but this errs on
 * the safe side) or an include line (16), whose files may change while
 * this text does not.
 */
static bool
has_file_reference(const char *text, size_t len)
{
	bool		quoted = false;

	for (size_t i = 0; i < len; i++)
	{
		if ((i == 0 || text[i - 1] == '\n') && is_include_line(text + i, len - i))
			return true;
		if (text[i] == '\n')
			quoted = false;
		else if (text[i] == '"')
			quoted = !quoted;
		else if (text[i] == '#' && !quoted)
		{
			const char *nl = memchr(text + i, '\n', len - i);

			if (nl == NULL)
				break;
			i = nl - text - 1;
		}
		else if (text[i] == '@')
			return true;
	}
	return false;
}

/* Remember text's lines outside [start, end), which the parser accepted. */
static void
remember_outside_block(const char *text, size_t len, size_t start, size_t end)
{
	size_t		last = start;

	if (checked_outside != NULL)
		pfree(checked_outside);
	checked_outside = NULL;

	/* the last character of the line before the block, newline aside */
	while (last > 0 && (text[last - 1] == '\n' || text[last - 1] == '\r'))
		last--;
	if (has_file_reference(text, start) || has_file_reference(text + end, len - end) ||
		(last > 0 && text[last - 1] == '\\'))
		return;

	checked_outside = MemoryContextAlloc(TopMemoryContext, start + (len - end) + 1);
	memcpy(checked_outside, text, start);
	memcpy(checked_outside + start, text + end, len - end);
	checked_outside_len = start + (len - end);
	strlcpy(checked_file, HbaFileName, sizeof(checked_file));
}

/*
 * parse_block
 *		The lines of the managed block [start, end) of text, numbered as in
 *		the whole file.
 */
static List *
parse_block(const char *text, size_t start, size_t end)
{
	List	   *lines = hba_file_parse_text(text + start, end - start);
	int			offset = line_number_at(text, start) - 1;
	ListCell   *lc;

	foreach(lc, lines)
		((HbaFileLine *) lfirst(lc))->line_num += offset;
	return lines;
}

/*
 * check_candidate
 *		Parse the candidate file at path (whose text is text) as the server
 *		would; an ERROR for the first line it would reject.  Managed rules
 *		that load but cannot match (hostssl while ssl is off) get a WARNING.
 *		When the lines outside the block are those last accepted, only the
 *		block is parsed.
 */
static void
check_candidate(const char *path, const char *text, size_t len)
{
	List	   *lines;
	ListCell   *lc;
	int			cannot_match = 0;
	const char *why = NULL;
	size_t		start;
	size_t		end;
	bool		has_block = hba_find_block(text, len, &start, &end) == HBA_BLOCK_FOUND;
	bool		whole = !(has_block && outside_block_accepted(text, len, start, end));

	if (whole)
	{
		FILE	   *file = AllocateFile(path, "r");

		if (file == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", path)));
		lines = parse_lines(path, file, text, len);
		FreeFile(file);
	}
	else
		lines = parse_block(text, start, end);

	foreach(lc, lines)
	{
		HbaFileLine *line = lfirst(lc);

		if (line->parsed == NULL)
			report_rejected(line);
		if (line->error != NULL && line->rule_id >= 0)
		{
			cannot_match++;
			why = line->error;
		}
	}
	if (whole && has_block)
		remember_outside_block(text, len, start, end);
	if (cannot_match > 0)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%d pgrepl_admin rule(s) in pg_hba.conf cannot match: %s", cannot_match, why),
				 errhint("Turn ssl on, for example with pgrepl_admin.rotate_server_cert().")));
}

/* Free the text kept with a candidate. */
static void
forget_candidate_text(void)
{
	if (candidate_block != NULL)
		pfree(candidate_block);
	if (candidate_live != NULL)
		pfree(candidate_live);
	candidate_block = candidate_live = NULL;
	candidate_block_len = candidate_live_len = 0;
}

/*
 * prepare_candidate
 *		Render the file from rules and the live file; when it differs, write
 *		it as the candidate at candidate_path with the live file's mode and
 *		check it.  Returns whether it differs (and so a candidate exists).
 *		old_text/old_len receive the live text when asked.
 */
static bool
prepare_candidate(List *rules, char **old_text)
{
	size_t		live_len;
	char	   *live = durable_file_read(HbaFileName, &live_len, false);
	size_t		new_len;
	StringInfoData block;
	char	   *new_text = render_file(rules, live, live_len, &new_len, &block);
	struct stat st;

	if (old_text)
		*old_text = live;
	if (new_len == live_len && memcmp(new_text, live, live_len) == 0)
		return false;

	if (stat(HbaFileName, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", HbaFileName)));
	snprintf(candidate_path, sizeof(candidate_path), "%s.pgrepl_admin-%d",
			 HbaFileName, MyProcPid);
	durable_file_stage(candidate_path, new_text, new_len, st.st_mode & 0777);
	if (chmod(candidate_path, st.st_mode & 0777) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not change the mode of file \"%s\": %m", candidate_path)));
	candidate_ready = true;
	forget_candidate_text();
	candidate_block = MemoryContextAlloc(TopMemoryContext, block.len + 1);
	memcpy(candidate_block, block.data, block.len + 1);
	candidate_block_len = block.len;
	candidate_live = MemoryContextAlloc(TopMemoryContext, live_len + 1);
	memcpy(candidate_live, live, live_len);
	candidate_live[live_len] = '\0';
	candidate_live_len = live_len;
	check_candidate(candidate_path, new_text, new_len);
	return true;
}

/* Remove a candidate left by this transaction; never raises an error. */
static void
discard_candidate(void)
{
	if (candidate_ready && unlink(candidate_path) != 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", candidate_path)));
	candidate_ready = false;
	forget_candidate_text();
}

/*
 * refresh_candidate
 *		When the live file is no longer the text the candidate was made
 *		from (edited by hand while the commit waited, for example in
 *		SyncRep), write the candidate again: the live file as it is now,
 *		with the block checked at PRE_COMMIT.  False, after a message,
 *		when the live file's markers are now damaged: the file is then left
 *		as the DBA made it.  The caller holds the writers' lock.
 */
static bool
refresh_candidate(void)
{
	size_t		live_len;
	char	   *live = durable_file_read(HbaFileName, &live_len, false);
	char	   *new_text;
	size_t		new_len;
	struct stat st;

	if (live_len == candidate_live_len && memcmp(live, candidate_live, live_len) == 0)
		return true;
	new_text = splice_block(live, live_len, candidate_block, candidate_block_len, &new_len);
	if (new_text == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the managed block of \"%s\" was not written: the file was edited while the change committed, and its marker lines are now damaged",
						HbaFileName),
				 errdetail("The committed rules are in pgrepl_admin.hba_rules; the file was left as it was edited."),
				 errhint("Repair pg_hba.conf by hand: keep exactly one BEGIN and one END marker line, in that order, or remove both; then call pgrepl_admin.hba_sync().")));
		return false;
	}
	if (stat(HbaFileName, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", HbaFileName)));
	durable_file_stage(candidate_path, new_text, new_len, st.st_mode & 0777);
	if (chmod(candidate_path, st.st_mode & 0777) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not change the mode of file \"%s\": %m", candidate_path)));
	ereport(LOG,
			(errmsg("pg_hba.conf changed while a pgrepl_admin change committed: the managed block was written into its new text")));
	return true;
}

/*
 * install_candidate
 *		Put the checked candidate in place and signal the reload, at the
 *		given level for problems (LOG at commit, where no ERROR may happen:
 *		an error there is reported at LOG and the file left alone, which
 *		the hba_sync task repairs).
 */
static void
install_candidate(int elevel)
{
	if (elevel >= ERROR)
	{
		if (!refresh_candidate())
		{
			discard_candidate();
			return;
		}
	}
	else
	{
		MemoryContext oldcontext = CurrentMemoryContext;
		volatile bool ok = false;

		PG_TRY();
		{
			ok = refresh_candidate();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcontext);
			edata = CopyErrorData();
			FlushErrorState();
			edata->elevel = LOG;
			ThrowErrorData(edata);
		}
		PG_END_TRY();
		if (!ok)
		{
			discard_candidate();
			return;
		}
	}
	if (durable_rename(candidate_path, HbaFileName, elevel) != 0)
	{
		discard_candidate();
		return;
	}
	candidate_ready = false;
	forget_candidate_text();
	pgrepl_signal_reload(elevel);
}

static void
reset_pending(void)
{
	write_pending = false;
	reload_pending = false;
}

/*
 * hba_file_pre_commit
 *		The work of PRE_COMMIT: render, write and check the candidate for
 *		this transaction's pending change.  Idempotent; standby.c calls it
 *		first from its own callback so that the file is checked before any
 *		slot is touched.
 */
void
hba_file_pre_commit(void)
{
	List	   *rules;

	if (!write_pending || candidate_ready)
		return;
	/* make the transaction's last changes visible to the snapshot */
	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	rules = hba_file_read_rules();
	PopActiveSnapshot();
	if (!prepare_candidate(rules, NULL) && !reload_pending)
		reset_pending();
}

static void
hba_file_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			hba_file_pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (write_pending)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed pgrepl_admin.hba_rules")));
			break;
		case XACT_EVENT_COMMIT:
			if (candidate_ready)
				install_candidate(LOG);
			else if (write_pending && reload_pending)
				pgrepl_signal_reload(LOG);
			reset_pending();
			break;
		case XACT_EVENT_ABORT:
			discard_candidate();
			reset_pending();
			break;
		default:
			break;
	}
}

/*
 * hba_file_write_at_commit
 *		Have pg_hba.conf rewritten from hba_rules when the current
 *		transaction commits.  With reload_always, the server reloads even
 *		when the file is already right (hba_sync).  The caller holds the
 *		lock of hba_file_lock_rules().
 */
void
hba_file_write_at_commit(bool reload_always)
{
	if (!callback_registered)
	{
		RegisterXactCallback(hba_file_xact_callback, NULL);
		callback_registered = true;
	}
	write_pending = true;
	reload_pending |= reload_always;
}

/* The rule ids of the managed lines of a file's text, as a List of int64 */
static List *
managed_ids(const char *text, size_t len)
{
	List	   *ids = NIL;
	ListCell   *lc;

	foreach(lc, hba_file_parse_text(text, len))
	{
		HbaFileLine *line = lfirst(lc);

		if (line->rule_id >= 0)
			ids = lappend_int(ids, (int) line->rule_id);
	}
	return ids;
}

/* "3, 5, 7" or "none" */
static char *
id_list_text(List *ids)
{
	StringInfoData buf;
	ListCell   *lc;

	if (ids == NIL)
		return "none";
	initStringInfo(&buf);
	foreach(lc, ids)
		appendStringInfo(&buf, "%s%d", buf.len > 0 ? ", " : "", lfirst_int(lc));
	return buf.data;
}

/*
 * hba_file_sync_now
 *		Bring the live file in line with hba_rules at once (the hba_sync
 *		task), logging what differed.  On a primary it skips the round,
 *		returning false, while a writer holds the lock (its commit writes
 *		the file anyway).  Returns whether the file was rewritten.
 */
bool
hba_file_sync_now(void)
{
	List	   *rules;

	if (!RecoveryInProgress() &&
		!ConditionalLockRelationOid(hba_rules_relid(), ShareRowExclusiveLock))
		return false;

	PushActiveSnapshot(GetLatestSnapshot());
	rules = hba_file_read_rules();
	PopActiveSnapshot();
	return hba_file_sync_rules(rules);
}

/*
 * hba_file_sync_rules
 *		Bring the live file in line with these rules, as read from hba_rules
 *		by hba_file_read_rules() (the caller holds the lock on a primary),
 *		logging what differed.  Returns whether the file was rewritten.
 */
bool
hba_file_sync_rules(List *rules)
{
	char	   *old_text = NULL;
	volatile bool differs = false;
	List	   *want = NIL;
	List	   *have;
	ListCell   *lc;

	PG_TRY();
	{
		differs = prepare_candidate(rules, &old_text);
		if (differs)
			install_candidate(ERROR);
	}
	PG_CATCH();
	{
		discard_candidate();
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!differs)
		return false;

	foreach(lc, rules)
		want = lappend_int(want, (int) ((HbaRule *) lfirst(lc))->rule_id);
	have = managed_ids(old_text, strlen(old_text));
	ereport(LOG,
			(errmsg("pgrepl_admin rewrote the managed block of \"%s\", which differed from pgrepl_admin.hba_rules",
					HbaFileName),
			 errdetail("Rules added to the file, by rule_id: %s; rules whose lines were removed, by rule_id: %s.%s",
					   id_list_text(list_difference_int(want, have)),
					   id_list_text(list_difference_int(have, want)),
					   list_difference_int(want, have) == NIL && list_difference_int(have, want) == NIL ?
					   " The block had been edited or moved." : "")));
	return true;
}
