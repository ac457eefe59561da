/*-------------------------------------------------------------------------
 *
 * hba_file.h
 *	  The live pg_hba.conf: rendering the managed block from
 *	  pgrepl_admin.hba_rules, checking candidates with the server's own
 *	  parser, installing them at commit, and reading the live file back.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HBA_FILE_H
#define PGREPL_HBA_FILE_H

#include "libpq/hba.h"
#include "nodes/pg_list.h"

/* one row of pgrepl_admin.hba_rules */
typedef struct HbaRule
{
	int64		rule_id;
	char	   *connection_type;
	char	   *database;		/* 'replication' means the keyword */
	char	   *role_name;
	char	   *address;
	char	   *method;
	char	   *comment;		/* NULL when none */
} HbaRule;

/* one line of a pg_hba.conf as the server's parser sees it */
typedef struct HbaFileLine
{
	char	   *file_name;		/* pg_hba.conf, or a file it includes (16) */
	bool		included;		/* the line is in an included file */
	int			line_num;		/* in file_name */
	char	   *raw_line;
	int64		rule_id;		/* the managed rule on this line, or -1 */
	HbaLine    *parsed;			/* NULL when the server rejects the line */
	char	   *error;			/* the parser's message, or NULL */
} HbaFileLine;

extern Oid	hba_rules_relid(void);
extern void hba_file_lock_rules(void);
extern List *hba_file_read_rules(void);
extern List *hba_file_read_waiting_rules(void);
extern void hba_file_check_fields(const HbaRule *rule);
extern char *hba_file_rule_line(const HbaRule *rule);
extern void hba_file_check_rule(const HbaRule *rule);
extern List *hba_file_parse_text(const char *text, size_t len);
extern void hba_file_write_at_commit(bool reload_always);
extern void hba_file_pre_commit(void);
extern bool hba_file_sync_now(void);
extern bool hba_file_sync_rules(List *rules);

#endif							/* PGREPL_HBA_FILE_H */
