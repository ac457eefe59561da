# set_synchronous() and the transactions around it, on a real primary with
# a real standby:
#   - a call rolled back to a savepoint writes nothing at commit (file
#     bytes, value in force), also during a fallback (issue 22 item 6);
#   - a call kept by RELEASE, or made before the savepoint, is written;
#   - a commit that fails after the write puts back synchronous_standby_names
#     only: an ALTER SYSTEM of another setting made by another session in
#     between stays (issue 22 item 10);
#   - remove_standby() refused for the stored setting says what is in force
#     (issue 27 item 9);
#   - allow_alter_system = off (17 and later): set_synchronous() refused up
#     front, nothing stored; check() warns (issue 22 item 9); so are
#     add_standby(synchronous => true) for a standby that does not stream
#     (it would be deferred, and the worker could never name it) and, with
#     a setting that names every standby, add_standby(synchronous => false)
#     (the new standby is named anyway) (review of the sync work, defect 6).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = tls_primary('primary', $root);
$primary->safe_psql('postgres', 'CREATE TABLE t (n int)');
my $auto = $primary->data_dir . '/postgresql.auto.conf';

sub sql { return $primary->safe_psql('postgres', $_[0]); }

my ($password, $slot, $conninfo) = split /\|/,
  sql("SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('a', '127.0.0.1/32')");
my $a = provisioned_standby($primary, 'a', "$conninfo sslrootcert=$root password=$password", $slot);

sub wait_setting
{
	my ($value) = @_;
	$value =~ s/'/''/g;
	return $primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') = '$value'");
}

# the value of synchronous_standby_names a reload would put in force now
sub file_value
{
	return sql("SELECT setting FROM pg_catalog.pg_file_settings
		WHERE name = 'synchronous_standby_names' AND applied");
}

# --- a savepoint rolled back: nothing written.  Stored '', in force
# ANY 1 (a) set by hand (the task leaves it alone: manual)
sql("SELECT pgrepl_admin.set_synchronous(num => 0)");
ok(wait_setting(''), 'stored and in force: no synchronous standby');
sql("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (a)'");
sql('SELECT pg_reload_conf()');
ok(wait_setting('ANY 1 (a)'), 'ANY 1 (a) set by hand');
my $bytes = slurp_file($auto);
sql("BEGIN; SAVEPOINT s; SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'first'); ROLLBACK TO s; COMMIT");
is(slurp_file($auto), $bytes, 'rolled back to a savepoint: postgresql.auto.conf is unchanged');
is(sql("SELECT value FROM pgrepl_admin.synchronous_setting"), '', 'the stored value is unchanged');
is(file_value(), 'ANY 1 (a)', 'a reload puts nothing else in force (pg_file_settings)');

sql("BEGIN; SAVEPOINT s; SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'first');
	 SAVEPOINT s2; SELECT 1; RELEASE s2; RELEASE s; COMMIT");
ok(wait_setting('FIRST 1 (a)'), 'released savepoints: the call is written at commit');
sql("BEGIN; SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'any'); SAVEPOINT s;
	 SELECT pgrepl_admin.set_synchronous(num => 0); ROLLBACK TO s; COMMIT");
ok(wait_setting('ANY 1 (a)'), 'a call before the savepoint is written, the one rolled back is not');

# --- the same during a fallback: the lowered value stays in force
sql("ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '1s'");
sql('SELECT pg_reload_conf()');
$a->stop;
ok(wait_setting(''), 'the standby stopped: the fallback lowers the setting to the empty string');
ok($primary->poll_query_until('postgres', "SELECT fallback_state = 'active' FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback is active');
$bytes = slurp_file($auto);
sql("BEGIN; SAVEPOINT s; SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'first'); ROLLBACK TO s; COMMIT");
is(slurp_file($auto), $bytes, 'during the fallback, rolled back to a savepoint: postgresql.auto.conf is unchanged');
is(file_value(), '', 'a reload keeps the lowered value in force (pg_file_settings)');
is(sql("SELECT fallback_state FROM pgrepl_admin.synchronous_fallback()"), 'active', 'the fallback goes on');

# --- remove_standby() refused: the message says what is in force
my ($ret, $out, $err) = $primary->psql('postgres', "SELECT pgrepl_admin.remove_standby('a')");
isnt($ret, 0, 'remove_standby of the one standby the stored ANY 1 (a) needs is refused');
unlike($err, qr/would wait for ever/, 'it does not say commits would wait for ever: they wait for no standby now');
like($err, qr/in force is ''/, 'it says what is in force');
sql("ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = 0");
sql('SELECT pg_reload_conf()');
ok(wait_setting('ANY 1 (a)'), 'fallback off: the stored ANY 1 (a) is back in force');
($ret, $out, $err) = $primary->psql('postgres', "SET synchronous_commit = local; SELECT pgrepl_admin.remove_standby('a')");
isnt($ret, 0, 'refused again');
like($err, qr/commits would wait for ever/, 'now that ANY 1 (a) is in force, commits would wait for ever');
$a->start;
$primary->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'a' AND state = 'streaming'")
  or die 'a does not stream again';

# --- a failed commit after the write puts back only synchronous_standby_names
failing_remote_commit($primary);
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'any')");
ok(wait_setting('ANY 1 (a)'), 'ANY 1 (a) stored and in force');
my $holder = $primary->background_psql('postgres');
$holder->query_safe('BEGIN; INSERT INTO fdw_target VALUES (2)');
my ($aout, $aerr) = ('', '');
my $committer = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres'), '-c', 'TABLE fdw_remote',
		'-c', "BEGIN; SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'first'); INSERT INTO fdw_remote VALUES (2); COMMIT" ],
	'>', \$aout, '2>', \$aerr);
# our commit wrote FIRST 1 (a) and now waits in postgres_fdw's remote commit
ok($primary->poll_query_until('postgres',
		"SELECT pg_catalog.pg_read_file('postgresql.auto.conf') ~ 'synchronous_standby_names = ''FIRST 1 \\(a\\)'''"),
	'the committing transaction wrote its value and waits');
sql("ALTER SYSTEM SET work_mem = '7MB'");
like(slurp_file($auto), qr/^work_mem = '7MB'$/m, 'another session set work_mem meanwhile');
# someone reloads meanwhile: the value that is not committed yet runs
sql('SELECT pg_reload_conf()');
ok(wait_setting('FIRST 1 (a)'), 'a reload meanwhile put the uncommitted value in force');
$holder->query_safe('COMMIT');
$holder->quit;
$committer->finish;
like($aerr, qr/duplicate key/, 'the remote commit failed, and with it ours');
my $after = slurp_file($auto);
like($after, qr/^synchronous_standby_names = 'ANY 1 \(a\)'$/m, 'synchronous_standby_names is put back');
like($after, qr/^work_mem = '7MB'$/m, "the other session's work_mem stays");
is(sql("SELECT value FROM pgrepl_admin.synchronous_setting"), 'ANY 1 (a)', 'the stored value is unchanged');
ok(wait_setting('ANY 1 (a)'), 'and the put-back value is in force again (reloaded at the abort)');

# --- allow_alter_system
is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'allow_alter_system'"), 'ok',
	'check(): ALTER SYSTEM allowed');
SKIP:
{
	skip 'allow_alter_system exists from PostgreSQL 17; this is ' . $primary->pg_version, 10
	  if $primary->pg_version < 17;
	$primary->append_conf('postgresql.conf', "allow_alter_system = off\n");
	$primary->reload;
	$primary->poll_query_until('postgres', "SELECT current_setting('allow_alter_system') = 'off'")
	  or die 'allow_alter_system is not off';
	$bytes = slurp_file($auto);
	($ret, $out, $err) = $primary->psql('postgres',
		"SELECT pgrepl_admin.set_synchronous(ARRAY['a'], 1, 'first')", extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/0A000: changing the synchronous standbys needs ALTER SYSTEM, which this server does not allow/,
		'allow_alter_system off: set_synchronous() is refused up front, with its errcode');
	is(sql("SELECT value FROM pgrepl_admin.synchronous_setting"), 'ANY 1 (a)', 'nothing stored');
	is(slurp_file($auto), $bytes, 'nothing written');
	is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'allow_alter_system'"), 'warning',
		'check() warns that pgrepl_admin cannot write postgresql.auto.conf');
	# a standby that does not stream, added with synchronous => true, would
	# be deferred: the worker could never name it
	($ret, $out, $err) = $primary->psql('postgres',
		"SELECT pgrepl_admin.add_standby('late', '127.0.0.9/32', create_slot => false, synchronous => true)",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/0A000: a synchronous standby deferred until it streams needs ALTER SYSTEM/,
		'allow_alter_system off: add_standby(synchronous => true) of a standby that does not stream is refused up front');
	is(sql("SELECT count(*) FROM pgrepl_admin.standbys WHERE name = 'late'")
		  . '|' . sql('SELECT pending IS NULL FROM pgrepl_admin.synchronous_setting'),
		'0|t', 'nothing registered, nothing pending');
	$primary->adjust_conf('postgresql.conf', 'allow_alter_system', 'on');
	$primary->reload;
	$primary->poll_query_until('postgres', "SELECT current_setting('allow_alter_system') = 'on'")
	  or die 'allow_alter_system is not on';
	# a setting that names every standby: a new one is named anyway
	sql('SELECT pgrepl_admin.set_synchronous(num => 1)');
	ok(wait_setting('ANY 1 (a)'), 'every standby: ANY 1 (a) in force');
	$primary->adjust_conf('postgresql.conf', 'allow_alter_system', 'off');
	$primary->reload;
	$primary->poll_query_until('postgres', "SELECT current_setting('allow_alter_system') = 'off'")
	  or die 'allow_alter_system is not off';
	$bytes = slurp_file($auto);
	($ret, $out, $err) = $primary->psql('postgres',
		"SELECT pgrepl_admin.add_standby('late', '127.0.0.9/32', create_slot => false, synchronous => false)",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/0A000: changing the synchronous standbys needs ALTER SYSTEM/,
		'allow_alter_system off, a setting naming every standby: add_standby(synchronous => false) is refused up front');
	is(sql("SELECT count(*) FROM pgrepl_admin.standbys WHERE name = 'late'"), '0', 'nothing registered');
	is(slurp_file($auto), $bytes, 'nothing written');
	$primary->adjust_conf('postgresql.conf', 'allow_alter_system', 'on');
	$primary->reload;
}

done_testing();
