# Losing the synchronous standbys (issue 18): with
# pgrepl_admin.synchronous_fallback_after set, the maintenance worker lowers
# synchronous_standby_names to what is streaming once the stored setting has
# gone unmet that long, says so (WARNING, synchronous_fallback(), check(),
# lag_history), and puts the stored setting back when the standbys are back
# and caught up.  A restart during a fallback comes back with the stored
# setting in force; a standby runs with '' and never falls back; with the
# fallback off, commits keep waiting; a promoted standby keeps the stored
# members less itself as pending and waits for none of them.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $primary = new_primary('fb_primary',
	conf => "pgrepl_admin.synchronous_fallback_after = '2s'\nwal_keep_size = '256MB'\n");
$primary->safe_psql('postgres', 'CREATE TABLE t (n int)');
for my $name (qw(s1 s2 s3))
{
	$primary->safe_psql('postgres',
		"SELECT standby_name FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32', create_slot => false)");
}
my $s1 = new_standby($primary, 's1');
my $s2 = new_standby($primary, 's2');

# commits wait for any one of the three
my $stored = $primary->safe_psql('postgres',
	"SELECT pgrepl_admin.set_synchronous(num => 1, method => 'any')");
like($stored, qr/^ANY 1 \(.*s1.*s2.*s3.*\)$/, 'set_synchronous stores ANY 1 of the three');
(my $stored_sql = $stored) =~ s/'/''/g;
$primary->poll_query_until('postgres',
	"SELECT current_setting('synchronous_standby_names') = '$stored_sql'")
  or die 'the stored setting is not in force';

# s3 is cloned now: its postgresql.auto.conf has the stored setting too
my $s3 = new_standby($primary, 's3');

sub fallback
{
	my ($node, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM pgrepl_admin.synchronous_fallback()");
}

sub check_row
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT status || ': ' || detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous_fallback'");
}

# a commit in a session of its own, named so that it can be found
sub start_commit
{
	my ($node, $appname, $sql) = @_;
	my %io = (out => '', err => '');
	$io{h} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres') . " application_name=$appname", '-c', $sql ],
		'>', \$io{out}, '2>', \$io{err});
	return \%io;
}

sub waits_in_syncrep
{
	my ($node, $appname) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '$appname' AND wait_event = 'SyncRep'");
}

ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' AND missing_standbys = '{}' FROM pgrepl_admin.synchronous_fallback()"),
	'all three stream: the fallback is ok');
like(check_row($primary), qr/^ok: /, 'check() says ok');
$primary->safe_psql('postgres', 'INSERT INTO t VALUES (1)');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t'), '1', 'a commit returns while the standbys stream');

# --- a standby runs with '' and never falls back --------------------------
# s3's base backup holds the stored setting, which names s3 itself: the
# maintenance worker's sync_promotion task runs a standby with '' and leaves
# the marker that its promotion must compute the setting (t/030); the
# fallback task has nothing to do there.  Were it to run, it would lower the
# setting and write its own marker after 2 s.
ok($s3->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = ''"),
	"on a standby, synchronous_standby_names is ''");
ok(-e $s3->data_dir . '/pgrepl_admin/promotion_pending', 'with the marker for its promotion');
my $since = $s3->safe_psql('postgres', 'SELECT now()');
$s3->poll_query_until('postgres', "SELECT now() > '$since'::timestamptz + interval '5 s'")
  or die 'time does not pass';
is($s3->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	'', "five seconds later, still ''");
is(task_status($s3, 'sync_fallback', 'state || coalesce(last_outcome, \'-\')'),
	'waiting-promotion-', 'on a standby, the task never runs');
is(fallback($s3, 'fallback_state'), 'standby', 'synchronous_fallback() says standby');
ok(!-e $s3->data_dir . '/pgrepl_admin/synchronous_fallback', 'the standby has no fallback marker');

# --- the standbys are lost: a commit waits, then the fallback lets it go --
# The waiting commit is looked at with the fallback held off (an hour's
# delay): on a loaded machine the look can come more than 2 s after the
# last standby stopped, and by then the fallback has let the commit go.
# The delay goes back to 2 s once it has been seen, and the fallback acts
# at once: the standbys have been missing longer than that.
$primary->append_conf('postgresql.conf', "pgrepl_admin.synchronous_fallback_after = '1h'");
$primary->reload;
$primary->poll_query_until('postgres',
	"SELECT current_setting('pgrepl_admin.synchronous_fallback_after') = '1h'")
  or die 'the delay is not reloaded';
$_->stop for ($s1, $s2, $s3);
my $log_offset = -s $primary->logfile;
my $c = start_commit($primary, 'waiter1', 'INSERT INTO t VALUES (2)');
ok(waits_in_syncrep($primary, 'waiter1'), 'with every standby stopped, a commit waits in SyncRep');
ok($primary->poll_query_until('postgres',
		"SELECT bool_and(waiting_commits >= 1 AND NOT connected) FROM pgrepl_admin.synchronous_status"),
	'synchronous_status shows the commit waiting and the standbys gone');
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'missing' FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback sees the standbys missing and, its delay not over, waits');
$primary->append_conf('postgresql.conf', "pgrepl_admin.synchronous_fallback_after = '2s'");
$primary->reload;
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state IN ('missing', 'active') FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback sees the standbys missing');
ok($primary->poll_query_until('postgres', 'SELECT count(*) = 2 FROM t'),
	'the waiting commit returns once the fallback lowered the setting');
ok($c->{h}->finish, 'the commit succeeded') or diag($c->{err});
$primary->wait_for_log(
	qr/WARNING:  synchronous standbys "s1", "s2", "s3" have been missing for \d+\.\d+ s: commits no longer wait for them/,
	$log_offset);
ok(1, 'the log says which standbys are missing');
like(slurp_file($primary->logfile, $log_offset),
	qr/DETAIL:  pgrepl_admin lowered synchronous_standby_names from '\Q$stored\E' to ''; the stored setting is '\Q$stored\E'/,
	'the log says what the primary no longer waits for');
is($primary->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	'', 'synchronous_standby_names is empty: asynchronous');
is(fallback($primary, "fallback_state || '|' || missing_standbys::text || '|' || value_in_force || '|' || stored_value || '|' || (fallback_since IS NOT NULL)"),
	"active|{s1,s2,s3}||$stored|true", 'synchronous_fallback() shows the fallback');
is($primary->safe_psql('postgres',
		"SELECT DISTINCT setting || '|' || stored_setting || '|' || fallback_state || '|' || missing_standbys::text FROM pgrepl_admin.synchronous_status"),
	"|$stored|active|{s1,s2,s3}", 'synchronous_status shows the fallback: lowered setting, stored setting, missing standbys');
like(check_row($primary), qr/^warning: .*s1, s2, s3/, 'check() warns, naming the missing standbys');
is($primary->safe_psql('postgres',
		"SELECT string_agg(standby_name || ' ' || status, ',' ORDER BY standby_name) FROM pgrepl_admin.lag_history WHERE event = 'synchronous-fallback'"),
	's1 disconnected,s2 disconnected,s3 disconnected', 'lag_history records the fallback for each named standby');
like($primary->safe_psql('postgres',
		"SELECT min(event_detail) FROM pgrepl_admin.lag_history WHERE event = 'synchronous-fallback'"),
	qr/lowered from '\Q$stored\E' to ''/, 'with what was lowered');
ok(-e $primary->data_dir . '/pgrepl_admin/synchronous_fallback', 'the fallback marker is written');
is($primary->safe_psql('postgres', 'INSERT INTO t VALUES (3); SELECT count(*) FROM t'), '3',
	'new commits do not wait');

# --- a restart during the fallback comes back with the stored setting -----
$log_offset = -s $primary->logfile;
$primary->restart;
ok($primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') = '$stored_sql'"),
	'after a restart during the fallback, the stored setting is in force again');
$primary->wait_for_log(qr/LOG:  pgrepl_admin restored synchronous_standby_names to the stored setting '\Q$stored\E' after a restart during a synchronous fallback/,
	$log_offset);
ok(1, 'the log says so');
ok(!-e $primary->data_dir . '/pgrepl_admin/synchronous_fallback', 'the marker is gone');
# the standbys are still gone: the delay starts again, and the fallback with it
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND value_in_force = '' FROM pgrepl_admin.synchronous_fallback()"),
	'the standbys still missing, the fallback comes back after its delay');
ok($primary->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = ''"),
	'and the setting is lowered again');

# --- a crash during a lowering that replaces a lowering (review of issue
# 22's sync work, defect 3): the marker is written before ALTER SYSTEM, so
# a crash in between leaves the new marker and the value it was to replace
# in force.  The window between the two cannot be hit from outside without
# a failpoint (there is none): the postmaster is killed (a real crash, no
# shutdown checkpoint) and the marker is what lower_setting() writes first,
# here for a second lowering from '' (in force) to ANY 1 (s1) (its new
# value, then the value it replaces).  At the start the value in force is
# recognised as the task's own: the stored setting goes back in force.
$primary->stop('immediate');
my $fb_marker = $primary->data_dir . '/pgrepl_admin/synchronous_fallback';
ok(-e $fb_marker, 'after the crash the fallback marker is there');
open(my $mfh, '>', $fb_marker) or die $!;
print $mfh "ANY 1 (s1)\n";
close($mfh);
like(slurp_file($primary->data_dir . '/postgresql.auto.conf'), qr/^synchronous_standby_names = ''$/m,
	"postgresql.auto.conf still has the value the lowering replaces, ''");
$log_offset = -s $primary->logfile;
$primary->start;
ok($primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') = '$stored_sql'"),
	'after a crash during a second lowering, the stored setting is in force again')
  or diag(fallback($primary, '*'));
$primary->wait_for_log(qr/LOG:  pgrepl_admin restored synchronous_standby_names to the stored setting '\Q$stored\E' after a restart during a synchronous fallback/,
	$log_offset);
ok(1, 'the log says so');
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND value_in_force = '' FROM pgrepl_admin.synchronous_fallback()"),
	'the standbys still missing, the fallback comes back after its delay');

# --- the standbys come back: caught up, the stored setting returns --------
# WAL they have to catch up on
$primary->safe_psql('postgres', 'INSERT INTO t SELECT g FROM generate_series(10, 50009) g');
$log_offset = -s $primary->logfile;
$_->start for ($s1, $s2, $s3);
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'with the standbys back and caught up, the fallback ends');
is($primary->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	$stored, 'the stored setting is in force');
$primary->wait_for_log(qr/LOG:  pgrepl_admin restored synchronous_standby_names to the stored setting '\Q$stored\E'\n.*DETAIL:  The fallback to '' lasted [\d.]+ s; enough of its standbys stream and flushed WAL up to/,
	$log_offset);
ok(1, 'the log says the stored setting is back and why');
# caught up: the one that let it restore had flushed the primary's position at its return
my $restore = $primary->safe_psql('postgres',
	"SELECT event_detail FROM pgrepl_admin.lag_history WHERE event = 'synchronous-restore' ORDER BY sampled_at DESC LIMIT 1");
like($restore, qr/restored to '\Q$stored\E' from '' after [\d.]+ s of fallback: enough of its standbys stream and flushed WAL up to [0-9A-F]+\/[0-9A-F]+/,
	'lag_history records the restore');
ok($primary->safe_psql('postgres',
		"SELECT count(*) >= 1 FROM pgrepl_admin.lag_history WHERE event = 'synchronous-restore' AND status <> 'disconnected' AND status <> 'catchup'"),
	'with a named standby streaming');
like(check_row($primary), qr/^ok: /, 'check() is ok again');
$primary->safe_psql('postgres', 'INSERT INTO t VALUES (4)');
ok(1, 'a commit returns with the stored setting in force and the standbys back');

# --- with the fallback off, a commit keeps waiting ------------------------
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = 0; SELECT pg_reload_conf()");
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'off' FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback is off');
$_->stop for ($s1, $s2, $s3);
$c = start_commit($primary, 'waiter2', 'INSERT INTO t VALUES (5)');
ok(waits_in_syncrep($primary, 'waiter2'), 'a commit waits for the lost standbys');
$since = $primary->safe_psql('postgres', 'SELECT now()');
$primary->poll_query_until('postgres', "SELECT now() > '$since'::timestamptz + interval '6 s'")
  or die 'time does not pass';
ok($primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'waiter2' AND wait_event = 'SyncRep'"),
	'three times the old delay later, it still waits');
is($primary->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	$stored, 'and the stored setting is still in force');
$primary->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'waiter2'");
$c->{h}->finish;
like($c->{err}, qr/canceling wait for synchronous replication/, 'only a cancel ends the wait');

# --- after promotion, the new primary waits for no standby ---------------
# The stored setting less itself (t/030) is ANY 1 (s1, s2); neither streams
# from s3 (both are stopped, and follow the old primary anyway): they are
# kept as pending and '' is in force.  With the fallback off, a real commit
# returns (under the harness's timeout: 'timed out' if it waited).
$s3->start;
$s3->safe_psql('postgres',
	"ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = 0; SELECT pg_reload_conf()");
$primary->stop;
$s3->promote;
$s3->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'no promotion';
is($s3->safe_psql('postgres', 'SHOW pgrepl_admin.synchronous_fallback_after'), '0', 'the fallback is off on s3');
ok($s3->poll_query_until('postgres',
		"SELECT pending::text = '{s1,s2}' AND value = '' FROM pgrepl_admin.synchronous_setting"),
	'the promoted standby keeps the stored members less itself as pending, and stores no synchronous standby')
  or diag($s3->safe_psql('postgres', 'SELECT * FROM pgrepl_admin.synchronous_setting'));
is($s3->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	'', "its synchronous_standby_names is ''");
is(commit_or_timeout($s3, 'INSERT INTO t VALUES (6) RETURNING n'), '6',
	'a commit on the promoted standby returns with the fallback off: it waits for no standby that does not stream from it');

# the fallback on again, and a choice of standbys that do not stream
$s3->safe_psql('postgres',
	"ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '2s'; SELECT pg_reload_conf()");
my $promoted_sql = $s3->safe_psql('postgres',
	"SELECT pgrepl_admin.set_synchronous(standbys => ARRAY['s1', 's2'], num => 1)");
is($promoted_sql, 'ANY 1 (s1, s2)', 'set_synchronous() on the new primary: ANY 1 (s1, s2)');
ok($s3->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND value_in_force = '' AND stored_value = '$promoted_sql' FROM pgrepl_admin.synchronous_fallback()"),
	'with no standby of its own, it falls back after the delay');
is($s3->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"),
	'', 'and its synchronous_standby_names is lowered');

# --- a new choice during a fallback ends it -------------------------------
my $log3 = -s $s3->logfile;
my $new = $s3->safe_psql('postgres',
	"SELECT pgrepl_admin.set_synchronous(standbys => ARRAY['s1'], num => 1)");
$s3->wait_for_log(qr/LOG:  pgrepl_admin synchronous fallback ends: the stored synchronous setting changed to '\Q$new\E'/,
	$log3);
ok(1, 'set_synchronous() during a fallback ends it, and the log says so');
ok($s3->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND stored_value = '$new' AND missing_standbys = '{s1}' FROM pgrepl_admin.synchronous_fallback()"),
	'the new choice is watched: s1 missing, it falls back from it after the delay');
is($s3->safe_psql('postgres',
		"SELECT count(*) FROM pgrepl_admin.lag_history WHERE event = 'synchronous-fallback' AND event_detail LIKE '%from ''$new''%'"),
	'1', 'lag_history records that fallback for s1 alone');

done_testing();
