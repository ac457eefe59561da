# A dump restored into another server does not rewrite that server's
# pg_hba.conf.  pgrepl_admin.hba_rules is kept by pg_dump; on server A a
# rule admits role alice over TCP from 127.0.0.1, A is dumped with pg_dump
# (plain and custom format), and the dumps are restored into two other
# real servers: B with psql (the extension already there), C with
# pg_restore (the dump's CREATE EXTENSION makes it).  On each, the
# restored rule waits, not applied: the file keeps every line (also when
# the block is rewritten with hba_sync()), a real connection as alice is
# refused, and check() lists the rule with the call that applies it.
# On B, hba_apply_restored() puts it in the file, and only then does the
# connection work; on C, hba_discard_restored() drops it and the file
# stays as it was.  The restored synchronous setting is never put in
# force, neither at the restore nor by the apply.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $conf = "listen_addresses = '127.0.0.1'\n"
  . "pgrepl_admin.hba_check_interval = '1h'\n"
  . "pgrepl_admin.lag_sample_interval = '1h'\n";

sub slurp_hba
{
	my ($node) = @_;
	return PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/pg_hba.conf');
}

# the file without an empty managed block: on C, the restore's CREATE
# EXTENSION writes the markers, which admit no one
sub hba_lines
{
	my ($node) = @_;
	my $text = slurp_hba($node);
	$text =~ s/^# BEGIN pgrepl_admin managed block[^\n]*\n# END pgrepl_admin managed block\n//m;
	return $text;
}

# whether alice can log in to $node over TCP from 127.0.0.1
sub alice_connects
{
	my ($node) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1',
		connstr => 'host=127.0.0.1 port=' . $node->port
		  . ' dbname=postgres user=alice password=alice-pw sslmode=disable');
	note("alice on " . $node->name . ": $stderr") if $ret != 0;
	return $ret == 0 && $stdout eq '1' ? 1 : 0;
}

# --- server A: the rule, a registered standby, a synchronous setting
my $a = new_primary('a', conf => $conf);
set_hba($a);
$a->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
	SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'alice', 'postgres', 'scram-sha-256', 'host');
	SELECT pgrepl_admin.add_standby('s1', '127.0.0.3/32');
});
ok(alice_connects($a), 'on A the managed rule admits alice');
# stored last: from here on A's commits would wait for s1
$a->safe_psql('postgres', "SELECT pgrepl_admin.set_synchronous(ARRAY['s1'], 1)");
is($a->safe_psql('postgres', 'SHOW synchronous_standby_names'), 'ANY 1 (s1)',
	'on A the synchronous setting is in force');

my $tmp = PostgreSQL::Test::Utils::tempdir;
command_ok([ 'pg_dump', '-d', $a->connstr('postgres'), '-f', "$tmp/a.sql" ], 'plain dump of A');
command_ok([ 'pg_dump', '-Fc', '-d', $a->connstr('postgres'), '-f', "$tmp/a.dump" ],
	'custom-format dump of A');
like(PostgreSQL::Test::Utils::slurp_file("$tmp/a.sql"), qr/127\.0\.0\.1\/32/,
	'the dump holds the rule');

# $node after a restore: the file unchanged, alice refused, check() says
# what waits; $how names the restore
sub restored_rule_waits
{
	my ($node, $before, $how) = @_;
	my $name = $node->name;

	is(hba_lines($node), $before, "$name ($how): pg_hba.conf unchanged by the restore");
	is($node->safe_psql('postgres',
			"SELECT string_agg(role_name || ' ' || address || ' ' || applied, ',' ORDER BY rule_id) FROM pgrepl_admin.hba_rules"),
		'alice 127.0.0.1/32 false,s1 127.0.0.3/32 false',
		"$name ($how): the restored rules wait, not applied");
	# a rewrite of the block from the table leaves them out too
	$node->safe_psql('postgres', 'SELECT pgrepl_admin.hba_sync()');
	is(hba_lines($node), $before, "$name ($how): hba_sync() leaves them out of the file");
	ok(!alice_connects($node), "$name ($how): alice is refused");
	is($node->safe_psql('postgres',
			"SELECT status || ' | ' || detail || ' | ' || hint FROM pgrepl_admin.check() WHERE check_name = 'hba_restored'"),
		"warning | 2 rule(s) of pgrepl_admin.hba_rules arrived other than through pgrepl_admin's functions (a restored dump, a hand INSERT) and are not in pg_hba.conf: rule 1 (alice from 127.0.0.1/32), rule 2 (s1 from 127.0.0.3/32). | "
		  . "Review them in pgrepl_admin.hba_rules (WHERE NOT applied), then put them in pg_hba.conf with pgrepl_admin.hba_apply_restored() or drop them with pgrepl_admin.hba_discard_restored().",
		"$name ($how): check() lists them and names the calls");
	is($node->safe_psql('postgres', 'SHOW synchronous_standby_names'), '',
		"$name ($how): the restored synchronous setting is not in force");
	is($node->safe_psql('postgres', 'SELECT value FROM pgrepl_admin.synchronous_setting'),
		'ANY 1 (s1)', "$name ($how): the synchronous setting itself was restored");
}

# --- server B: the extension exists, the plain dump restored with psql
my $b = new_primary('b', conf => $conf);
set_hba($b);
$b->safe_psql('postgres', "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'; CREATE ROLE s1 LOGIN REPLICATION");
my $b_before = hba_lines($b);
ok(!alice_connects($b), 'B: alice is refused before the restore');
$b->command_ok([ 'psql', '-X', '-q', '-d', $b->connstr('postgres'), '-f', "$tmp/a.sql" ],
	'B: the plain dump restored with psql');
restored_rule_waits($b, $b_before, 'psql');

is($b->safe_psql('postgres', 'SELECT pgrepl_admin.hba_apply_restored()'), '2',
	'B: hba_apply_restored() applies the two rules');
my $b_after = slurp_hba($b);
like($b_after, qr/^host "postgres" "alice" "127\.0\.0\.1\/32" scram-sha-256 # pgrepl_admin rule 1$/m,
	'B: the applied rule is in pg_hba.conf');
ok(alice_connects($b), 'B: alice connects once the rule is applied');
is($b->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'hba_restored'"),
	'ok', 'B: check() has nothing waiting');
is($b->safe_psql('postgres', 'SHOW synchronous_standby_names'), '',
	'B: the apply did not put the synchronous setting in force');
is($b->safe_psql('postgres', 'SELECT pgrepl_admin.hba_apply_restored()'), '0',
	'B: a second apply has nothing to do');
# a hand UPDATE cannot mark a rule applied, and a hand INSERT waits too
$b->safe_psql('postgres', q{
	INSERT INTO pgrepl_admin.hba_rules (connection_type, database, role_name, address, method, applied)
	VALUES ('host', 'postgres', 'alice', '127.0.0.4/32', 'scram-sha-256', true);
	UPDATE pgrepl_admin.hba_rules SET applied = true WHERE address = '127.0.0.4/32';
});
is($b->safe_psql('postgres', "SELECT applied FROM pgrepl_admin.hba_rules WHERE address = '127.0.0.4/32'"),
	'f', 'B: a rule inserted by hand waits, and UPDATE cannot mark it applied');
is(slurp_hba($b), $b_after, 'B: the file did not take the hand-inserted rule');
# hba_add() of the very rule that waits applies it (the DBA asked for it)
my $waiting_id = $b->safe_psql('postgres', "SELECT rule_id FROM pgrepl_admin.hba_rules WHERE address = '127.0.0.4/32'");
is($b->safe_psql('postgres', q{SELECT pgrepl_admin.hba_add('127.0.0.4/32', 'alice', 'postgres', 'scram-sha-256', 'host')}),
	$waiting_id, 'B: hba_add() of a waiting rule returns its id');
is($b->safe_psql('postgres', "SELECT applied FROM pgrepl_admin.hba_rules WHERE address = '127.0.0.4/32'"),
	't', 'B: and applies it');
like(slurp_hba($b), qr/^host "postgres" "alice" "127\.0\.0\.4\/32" scram-sha-256 # pgrepl_admin rule $waiting_id$/m,
	'B: the file has it');

# moving an applied rule in the file (its rule_id: the file is in rule_id
# order, and the first matching line wins) makes it wait too
$b->safe_psql('postgres', qq{UPDATE pgrepl_admin.hba_rules SET rule_id = 1000 WHERE rule_id = $waiting_id});
is($b->safe_psql('postgres', 'SELECT applied FROM pgrepl_admin.hba_rules WHERE rule_id = 1000'),
	'f', 'B: an UPDATE of an applied rule\'s rule_id makes it wait');
unlike(slurp_hba($b), qr/127\.0\.0\.4\/32/, 'B: and the file no longer has it');
# the guard fires always: with session_replication_role = replica (as in a
# logical replication apply worker) a hand INSERT waits as well
$b->safe_psql('postgres', q{
	SET session_replication_role = replica;
	INSERT INTO pgrepl_admin.hba_rules (connection_type, database, role_name, address, method, applied)
	VALUES ('host', 'postgres', 'alice', '127.0.0.5/32', 'scram-sha-256', true);
});
is($b->safe_psql('postgres', "SELECT applied FROM pgrepl_admin.hba_rules WHERE address = '127.0.0.5/32'"),
	'f', 'B: under session_replication_role = replica a hand INSERT waits too');
# hba_apply_restored() that waits for a restore's lock checks the rules
# that restore commits meanwhile, not only those it saw when it was called:
# here a trust rule, which it must refuse without force
my $restore = $b->background_psql('postgres');
$restore->query_safe(q{
	SET client_min_messages = error;
	BEGIN;
	INSERT INTO pgrepl_admin.hba_rules (connection_type, database, role_name, address, method)
	VALUES ('host', 'postgres', 'alice', '127.0.0.6/32', 'trust');
});
my ($apply_out, $apply_err) = ('', '');
my $apply = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-d', $b->connstr('postgres'), '-c', 'SELECT pgrepl_admin.hba_apply_restored()' ],
	'>', \$apply_out, '2>', \$apply_err);
$b->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pgrepl_admin.hba_apply_restored()%' AND wait_event_type = 'Lock'")
  or die 'hba_apply_restored() does not wait for the lock';
$restore->query_safe('COMMIT');
$restore->quit;
$apply->finish;
like($apply_err, qr/authentication method "trust" is refused/,
	'B: hba_apply_restored() refused the trust rule committed while it waited for the lock');
is($b->safe_psql('postgres', "SELECT string_agg(host(address) || ' ' || applied, ',' ORDER BY address) FROM pgrepl_admin.hba_rules WHERE address > '127.0.0.4/32'"),
	'127.0.0.5 false,127.0.0.6 false', 'B: and applied nothing');
unlike(slurp_hba($b), qr/127\.0\.0\.6/, 'B: the file has no line for the trust rule');
$b->safe_psql('postgres', 'SELECT pgrepl_admin.hba_discard_restored()');

# --- server C: no extension yet, the custom dump restored with pg_restore
my $c = new_primary('c', conf => $conf, extension => 0);
set_hba($c);
$c->safe_psql('postgres', "CREATE ROLE alice LOGIN PASSWORD 'alice-pw'; CREATE ROLE s1 LOGIN REPLICATION");
my $c_before = hba_lines($c);
$c->command_ok([ 'pg_restore', '-d', $c->connstr('postgres'), "$tmp/a.dump" ],
	'C: the custom dump restored with pg_restore');
restored_rule_waits($c, $c_before, 'pg_restore');
is($c->safe_psql('postgres', 'SELECT pgrepl_admin.hba_discard_restored()'), '2',
	'C: hba_discard_restored() drops the two rules');
is($c->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.hba_rules'), '0',
	'C: no rule is left');
is(hba_lines($c), $c_before, 'C: pg_hba.conf still unchanged, but for an empty managed block');
ok(!alice_connects($c), 'C: alice is still refused');

# on A, where the rules came through the functions, nothing waits
is($a->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'hba_restored'"),
	'ok', 'A: nothing waits on the server the rules were added on');

done_testing();
