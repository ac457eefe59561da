/*-------------------------------------------------------------------------
 *
 * hba_text.h
 *	  The text of pg_hba.conf as pgrepl_admin writes it: quoted fields,
 *	  rule lines, and the managed block between two marker comments.
 *
 * Plain C with no server dependency, so that it can be fuzzed on its own:
 * every function works on caller-provided buffers and allocates nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_HBA_TEXT_H
#define PGREPL_HBA_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define HBA_BLOCK_BEGIN "# BEGIN pgrepl_admin managed block: edit with pgrepl_admin.hba_add() and hba_remove(), not by hand\n"
#define HBA_BLOCK_END "# END pgrepl_admin managed block\n"

/* the comment that identifies a managed rule on its line */
#define HBA_RULE_TAG "# pgrepl_admin rule "

/* the longest comment a rule may carry, in bytes */
#define HBA_MAX_COMMENT 200

typedef enum HbaPosition
{
	HBA_POSITION_TOP,			/* before the first rule of the file */
	HBA_POSITION_BOTTOM			/* after everything */
} HbaPosition;

typedef enum HbaBlockStatus
{
	HBA_BLOCK_NONE,				/* no marker at all */
	HBA_BLOCK_FOUND,			/* one BEGIN marker line, then one END */
	HBA_BLOCK_DAMAGED			/* a marker alone, out of order or twice */
} HbaBlockStatus;

/* what a rule line says; every string NUL-terminated */
typedef struct HbaRuleText
{
	long		rule_id;
	const char *connection_type;	/* keyword: hostssl, host, hostnossl */
	const char *database;		/* a database name, or NULL for the
								 * replication keyword */
	const char *role_name;
	const char *address;		/* e.g. 10.0.0.0/8 */
	const char *method;			/* keyword */
	const char *comment;		/* may be NULL */
} HbaRuleText;

extern const char *hba_field_problem(const char *value, size_t max_len);
extern size_t hba_quote_field(const char *value, char *out);
extern size_t hba_rule_line_size(const HbaRuleText *rule);
extern size_t hba_render_rule(const HbaRuleText *rule, char *out);
extern HbaBlockStatus hba_find_block(const char *text, size_t len,
									 size_t *start, size_t *end);
extern size_t hba_first_rule_offset(const char *text, size_t len);
extern size_t hba_splice_block(const char *text, size_t len,
							   const char *block, size_t block_len,
							   HbaPosition position, char *out);
extern long hba_line_rule_id(const char *line, size_t len);

#endif							/* PGREPL_HBA_TEXT_H */
