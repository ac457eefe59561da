# Synchronous replication chosen from SQL, on a real primary with three real
# standbys streaming over TLS: set_synchronous() makes commits wait for the
# standbys it names (any, first), synchronous_status shows who commits wait
# for and the commits waiting, names the syncrep grammar reads as keywords
# or numbers round-trip, hostile input changes nothing, a rolled-back call
# changes nothing, remove_standby() keeps the setting in step, and every
# commit that returned during a write loop while standbys stop and start is
# on a standby the setting named.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "max_wal_senders = 12\nmax_replication_slots = 12\n");
set_hba($primary);
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['127.0.0.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
$primary->safe_psql('postgres', 'CREATE TABLE t (n int PRIMARY KEY)');

# a standby provisioned with add_standby() and streaming over TLS
sub standby
{
	my ($name, $extra) = @_;
	my ($password, $slot, $conninfo) = split /\|/,
	  $primary->safe_psql('postgres',
		"SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32'"
		  . ($extra // '') . ')');
	return provisioned_standby($primary, $name, "$conninfo sslrootcert=$root password=$password", $slot);
}

sub sql { return $primary->safe_psql('postgres', $_[0]); }

# the setting as the server runs it, in a new session
sub running { return sql('SHOW synchronous_standby_names'); }

# wait until a new session runs with the setting $value
sub wait_setting
{
	my ($value) = @_;
	$value =~ s/'/''/g;
	return $primary->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = '$value'");
}

# the three real standbys have names the syncrep grammar reads as keywords
# or as a number unless quoted
my %node = map { $_ => standby($_) } ('any', 'first', '1st');
my $auto = $primary->data_dir . '/postgresql.auto.conf';

# each named standby as name:sync_state:connected, in the setting's order
sub status
{
	return sql("SELECT string_agg(standby_name || ':' || coalesce(sync_state, '-') || ':' || connected, ',' ORDER BY priority)
		FROM pgrepl_admin.synchronous_status");
}

sub wait_status
{
	my ($want, $what) = @_;
	my $ok = $primary->poll_query_until('postgres',
		"SELECT string_agg(standby_name || ':' || coalesce(sync_state, '-') || ':' || connected, ',' ORDER BY priority) = '$want'
		 FROM pgrepl_admin.synchronous_status");
	ok($ok, $what) or diag(status());
	return;
}

# --- any 1: the names round-trip, and the server counts each as quorum
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['any', 'first', '1st'], 1, 'any')"),
	'ANY 1 ("any", "first", "1st")', 'set_synchronous returns the value it set, keywords and a digit-leading name quoted');
ok(wait_setting('ANY 1 ("any", "first", "1st")'), 'the server runs with it once the call returned');
like(slurp_file($auto), qr/^synchronous_standby_names = 'ANY 1 \("any", "first", "1st"\)'$/m,
	'it is in postgresql.auto.conf');
is(sql("SELECT standbys::text, num, method, value FROM pgrepl_admin.synchronous_setting"),
	'{any,first,1st}|1|any|ANY 1 ("any", "first", "1st")', 'the choice is stored');
is(sql("SELECT string_agg(standby_name, ',' ORDER BY priority) FROM pgrepl_admin.synchronous_members()"),
	'any,first,1st', 'the server parsed the three names exactly');
wait_status('any:quorum:true,first:quorum:true,1st:quorum:true',
	'synchronous_status: the three real standbys are quorum standbys, connected');
is(sql("SELECT standby_name || ':' || sync_role FROM pgrepl_admin.replication_lag ORDER BY 1"),
	'1st:quorum
any:quorum
first:quorum', 'replication_lag shows their synchronous role');
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['any', 'first', '1st'], 1, 'any')"),
	'ANY 1 ("any", "first", "1st")', 'the same call again: the same value, no error');
is($node{first}->safe_psql('postgres', 'SELECT synchronous FROM pgrepl_admin.standby_status'),
	't', 'standby_status on a named standby says it is synchronous');

# --- first: the priority order is honoured
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['1st', 'any', 'first'], 2, 'first')"),
	'FIRST 2 ("1st", "any", "first")', 'FIRST 2 in the order given');
wait_status('1st:sync:true,any:sync:true,first:potential:true', 'the first two are sync, the third potential');
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['first', '1st', 'any'], 1, 'first')");
wait_status('first:sync:true,1st:potential:true,any:potential:true', 'FIRST 1 in another order: the new first is sync');

# --- any 1 of all three: stop them all and a commit waits; start one and it returns
is(sql("SELECT pgrepl_admin.set_synchronous(num => 1, method => 'any')"), 'ANY 1 ("1st", "any", "first")',
	'NULL names every registered standby');
wait_status('1st:quorum:true,any:quorum:true,first:quorum:true', 'all three are quorum standbys');
$node{$_}->stop for keys %node;
wait_status('1st:-:false,any:-:false,first:-:false', 'synchronous_status: none is connected');
is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), 'error',
	'check(): fewer standbys connected than commits wait for is an error');

my ($out, $err) = ('', '');
my $waiting = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', 'INSERT INTO t VALUES (1) RETURNING n' ],
	'>', \$out, '2>', \$err);
ok($primary->poll_query_until('postgres',
		"SELECT bool_and(waiting_commits = 1 AND waiting_since IS NOT NULL) FROM pgrepl_admin.synchronous_status"),
	'the commit waits in SyncRep, seen in synchronous_status');
like(sql("SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), qr/1 commit\(s\) waiting/,
	'check() says a commit is waiting');
is($out, '', 'the client has no answer yet');
$node{'1st'}->start;
$waiting->finish;
is($out, "1\n", 'one standby back: the commit returns');
is($node{'1st'}->safe_psql('postgres', 'SELECT count(*) FROM t WHERE n = 1'), '1', 'and that standby has the row');

# --- set_synchronous(num => 0) releases commits waiting for standbys that are gone
$node{'1st'}->stop;
$waiting = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', 'INSERT INTO t VALUES (2) RETURNING n' ],
	'>', \$out, '2>', \$err);
$out = '';
ok($primary->poll_query_until('postgres',
		"SELECT waiting_commits = 1 FROM pgrepl_admin.synchronous_status LIMIT 1"),
	'with every standby stopped a commit waits again');
is(sql("SELECT pgrepl_admin.set_synchronous(num => 0)"), '', 'set_synchronous(num => 0) returns while commits wait');
$waiting->finish;
is($out, "2\n", 'and the waiting commit returns');
is(running(), '', 'synchronous replication is off');
is(sql("SELECT setting || '|' || num || '|' || (standby_name IS NULL) FROM pgrepl_admin.synchronous_status"),
	'|0|true', 'synchronous_status: one row, nobody named');
is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), 'ok', 'check() is fine with it off');
$node{$_}->start for keys %node;
$primary->poll_query_until('postgres', "SELECT count(*) = 3 FROM pg_stat_replication WHERE state = 'streaming'")
  or die 'standbys do not stream again';

# --- hostile input: refused with an error, nothing changed
use Digest::SHA qw(sha256_hex);
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['1st', 'first'], 1, 'first')");
ok(wait_setting('FIRST 1 ("1st", "first")'), 'a setting to keep');

# what must not change: the file, the stored row, what a new session runs with
sub state
{
	return join('|', sha256_hex(slurp_file($auto)),
		sql("SELECT row(s.*)::text FROM pgrepl_admin.synchronous_setting s"), running());
}
my $before = state();
my @hostile = (
	[ q{ARRAY['a"b']}, qr/invalid standby name "a"b"/ ],
	[ q{ARRAY['it''s']}, qr/invalid standby name "it's"/ ],
	[ q{ARRAY['*']}, qr/invalid standby name "\*"/ ],
	[ q{ARRAY['First']}, qr/invalid standby name "First"/ ],
	[ q{ARRAY['any', NULL]}, qr/standbys must not contain NULL/ ],
	[ q{'{}'::text[]}, qr/standbys must not be empty/ ],
	[ q{'{{any},{first}}'::text[]}, qr/standbys must be a one-dimensional array/ ],
	[ q{ARRAY['nosuch']}, qr/standby "nosuch" does not exist/ ],
	[ q{ARRAY['any', 'any']}, qr/standby "any" is named twice/ ],
	[ q{ARRAY['any', 'first'], num => 3}, qr/num 3 is more than the 2 standbys named/ ],
	[ q{num => 4}, qr/num 4 is more than the 3 standbys named/ ],
	[ q{num => -1}, qr/num must not be negative/ ],
	[ q{method => 'quorum'}, qr/invalid method "quorum"/ ],
	[ q{method => NULL}, qr/method must not be NULL/ ],
	[ q{num => NULL}, qr/num must not be NULL/ ],
	[ q{apply => NULL}, qr/apply must not be NULL/ ],);
for my $case (@hostile)
{
	my ($args, $error) = @$case;
	my ($rc, $stdout, $stderr) = $primary->psql('postgres', "SELECT pgrepl_admin.set_synchronous($args)");
	like($stderr, qr/ERROR:  .*$error/, "set_synchronous($args) is refused");
}
is(state(), $before, 'none of them changed the file, the stored row or the running setting');
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['any'], apply => false)"), 'ANY 1 ("any")',
	'apply => false shows the value');
is(state(), $before, 'and changes nothing');

# --- transactions: a rolled-back call, or one in a transaction that fails,
# never reaches the file or the server
sql("BEGIN; SELECT pgrepl_admin.set_synchronous(ARRAY['any'], 1); ROLLBACK");
is(state(), $before, 'a rolled-back set_synchronous changes nothing');
my ($rc) = $primary->psql('postgres', "BEGIN; SELECT pgrepl_admin.set_synchronous(ARRAY['any'], 1); SELECT 1/0; COMMIT");
is(state(), $before, 'nor one whose transaction failed after it');

# a commit that fails after the pre-commit write puts the file back and
# reloads nothing: here postgres_fdw's pre-commit step, which runs after
# ours (its callback was registered first), commits the remote side, where a
# deferred constraint fails
failing_remote_commit($primary);
my $mtime = (Time::HiRes::stat($auto))[9];
my ($fdw_rc, $fdw_out, $fdw_err) = $primary->psql('postgres', q{
	SELECT count(*) FROM fdw_remote;
	BEGIN;
	SELECT pgrepl_admin.set_synchronous(ARRAY['any'], 1);
	INSERT INTO fdw_remote VALUES (1);
	COMMIT;
});
like($fdw_err, qr/ERROR:  duplicate key value violates unique constraint "fdw_target_k_key"/,
	'a transaction that called set_synchronous fails at commit, after its pre-commit work');
isnt((Time::HiRes::stat($auto))[9], $mtime, 'postgresql.auto.conf was written at pre-commit (its modification time changed)');
is(state(), $before, 'and put back as it was: the old setting is stored, in the file and running');
unlike(slurp_file($primary->logfile), qr/could not put back postgresql\.auto\.conf/, 'with no complaint in the log');
$primary->safe_psql('postgres', 'DROP SERVER loopback CASCADE; DROP TABLE fdw_target; DROP EXTENSION postgres_fdw');

# --- add_standby(synchronous => true) and remove_standby() keep the setting
# in step; these standbys never connect, so the statements below do not
# wait for them
sub lsql { return sql("SET synchronous_commit = local; $_[0]"); }
sql('SELECT pgrepl_admin.set_synchronous(num => 0)');
is(lsql("SELECT synchronous FROM pgrepl_admin.add_standby('select', '10.0.0.1/32', synchronous => true)"), 'deferred',
	'add_standby(synchronous => true) for a standby that does not stream: deferred (t/019 follows it up)');
is(sql('SELECT value || pending::text FROM pgrepl_admin.synchronous_setting'), '{select}',
	'nothing named, the standby pending');
# set_synchronous() names registered standbys that are not connected
lsql("SELECT pgrepl_admin.set_synchronous(ARRAY['select'], 1)");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 (select)',
	'set_synchronous() names it as asked');
ok(wait_setting('ANY 1 (select)'), 'and the server runs with it');
is(sql("SELECT string_agg(standby_name, ',') FROM pgrepl_admin.synchronous_members()"), 'select',
	'the SQL keyword is a plain name to the server');
lsql("SELECT count(*) FROM pgrepl_admin.add_standby('x2', '10.0.0.2/32')");
lsql("SELECT pgrepl_admin.set_synchronous(ARRAY['select', 'x2'], 1)");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 (select, x2)', 'a second one in the list');
is(lsql("SELECT synchronous FROM pgrepl_admin.add_standby('x2', '10.0.0.2/32', synchronous => true)"), 'named',
	'add_standby(synchronous => true) for a standby named already: named');
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 (select, x2)', 'the same call again changes nothing');
lsql("SELECT count(*) FROM pgrepl_admin.add_standby('x3', '10.0.0.3/32')");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 (select, x2)', 'one added without synchronous is not named');
is(sql("SELECT standby_name || ':' || sync_role FROM pgrepl_admin.replication_lag WHERE standby_name IN ('select', 'x2', 'x3') ORDER BY 1"),
	"select:missing\nx2:missing\nx3:async", 'replication_lag: named standbys that are not connected are missing');
is(sql("SELECT status || ': ' || detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"),
	q{error: synchronous_standby_names is 'ANY 1 (select, x2)': commits wait for 1 of 2 named standby(s), 0 connected; not connected: select, x2.},
	'check() flags a setting whose standbys are not connected');

lsql("SELECT pgrepl_admin.set_synchronous(ARRAY['select', 'x2'], 2, 'first')");
$before = state();
my ($rc2, $o2, $e2) = $primary->psql('postgres', "SET synchronous_commit = local; SELECT pgrepl_admin.remove_standby('x2')");
like($e2, qr/ERROR:  standby "x2" is needed by the synchronous setting/,
	'remove_standby refuses to leave fewer named standbys than commits wait for');
is(state() . sql("SELECT count(*) FROM pgrepl_admin.standbys WHERE name = 'x2'"), "${before}1", 'and changes nothing');
lsql("SELECT pgrepl_admin.set_synchronous(ARRAY['select', 'x2'], 1, 'first')");
is(lsql("SELECT pgrepl_admin.remove_standby('x2')"), 't', 'with num lowered first, it removes the standby');
is(sql('SELECT standbys::text || value FROM pgrepl_admin.synchronous_setting'), '{select}FIRST 1 (select)',
	'and the setting no longer names it');
ok(wait_setting('FIRST 1 (select)'), 'nor does the server');

# a setting that names every standby follows the registered standbys
lsql('SELECT pgrepl_admin.set_synchronous(num => 1)');
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 ("1st", "any", "first", select, x3)',
	'NULL names every registered standby');
lsql("SELECT pgrepl_admin.remove_standby('x3')");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 ("1st", "any", "first", select)',
	'a removed standby leaves it');
lsql('SELECT pgrepl_admin.set_synchronous(num => 0)');
lsql("SELECT pgrepl_admin.remove_standby('select')");
ok(wait_setting(''), 'off again');

# --- durability: a write loop while the one named standby stops and starts;
# no commit returns while it is away, and every row whose commit returned is
# on it, read from its own WAL with the primary out of reach
sql('CREATE TABLE d (n int PRIMARY KEY)');
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['first'], 1)"), 'ANY 1 ("first")', 'one named standby');
wait_status('first:quorum:true', 'it is the quorum standby');
my $committed = "$tmp/committed";
my $stop = "$tmp/stop";
my $conn = $primary->connstr('postgres');
my $writer = IPC::Run::start([ 'bash', '-c',
	qq{for i in \$(seq 1 1000000); do [ -e '$stop' ] && break; }
	  . qq{psql -XAtq -d "$conn" -c "INSERT INTO d VALUES (\$i)" >/dev/null 2>&1 && echo \$i >> '$committed'; done} ]);

sub rows_seen { return -e $committed ? scalar(() = slurp_file($committed) =~ /\n/g) : 0; }

sub wait_rows
{
	my ($n) = @_;
	for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
	{
		return 1 if rows_seen() >= $n;
		usleep(100_000);
	}
	return 0;
}

for my $cycle (1 .. 3)
{
	ok(wait_rows(rows_seen() + 20), "cycle $cycle: commits return while the named standby streams");
	$node{first}->stop($cycle == 2 ? 'immediate' : 'fast');
	$node{any}->stop if $cycle == 1;
	ok($primary->poll_query_until('postgres', 'SELECT waiting_commits = 1 FROM pgrepl_admin.synchronous_status'),
		"cycle $cycle: with it stopped the next commit waits");
	my $seen = rows_seen();
	# the other standbys stream on; give the writer time to be wrong
	$primary->poll_query_until('postgres', "SELECT now() - waiting_since > '1s' FROM pgrepl_admin.synchronous_status")
	  or die 'no commit waits';
	is(rows_seen(), $seen, "cycle $cycle: no commit returned while it was away");
	$node{first}->start;
	$node{any}->start if $cycle == 3;
}
ok(wait_rows(rows_seen() + 20), 'commits flow again');
$node{first}->stop('immediate');
ok($primary->poll_query_until('postgres', 'SELECT waiting_commits = 1 FROM pgrepl_admin.synchronous_status'),
	'the named standby is gone for good: a commit waits');
open(my $fh, '>', $stop) or die;
close($fh);
sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
$writer->finish;
my @rows = split /\n/, slurp_file($committed);
cmp_ok(scalar(@rows), '>', 80, scalar(@rows) . ' commits returned during the loop');

# the standby alone, with what it had flushed: every returned commit is there
$node{first}->append_conf('postgresql.conf', "primary_conninfo = ''\n");
$node{first}->start;
my $list = join(',', @rows);
ok($node{first}->poll_query_until('postgres', "SELECT count(*) = " . scalar(@rows) . " FROM d WHERE n IN ($list)"),
	'every row whose commit returned is on the named standby, from its own WAL')
  or diag($node{first}->safe_psql('postgres', "SELECT count(*) FROM d WHERE n IN ($list)"));

done_testing();
