# The synchronous fallback under pressure (issue 22, items 3, 4, 5 and 7),
# on a primary with three real standbys sa, sb, sc and a stored
# ANY 2 (sa, sb, sc):
#
#   - a second lowering is computed from the stored setting's members: with
#     ANY 1 (sa) in force, sa stopping while sb is back lowers to ANY 1 (sb),
#     not '' (item 5), and the WARNING names what it lowered from (item 7:
#     that string was freed before it was printed);
#   - set_synchronous(num => 0) while the task is held up by a lock a
#     session holds on lag_history survives: '' stays in force and
#     fallback_state is idle (item 4);
#   - the waiting commits are released while a session holds ACCESS
#     EXCLUSIVE on lag_history, synchronous_setting and standbys in a
#     transaction whose own commit waits in SyncRep, and the fallback's
#     lag_history row is written once the lock is gone (item 3);
#   - the waiting commits are released while a certificate renewal is in
#     progress and held up (strace delays each of the maintenance worker's
#     connect(2) calls, among them the check that the new certificate is
#     served) (item 3).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $primary = new_primary('races_primary',
	conf => "pgrepl_admin.synchronous_fallback_after = '2s'\nwal_keep_size = '256MB'\n"
	  . "listen_addresses = '127.0.0.1'\npgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "pgrepl_admin.cert_auto_renew = off\npgrepl_admin.cert_check_interval = 1\n"
	  # no lag samples: only the fallback writes to lag_history
	  . "pgrepl_admin.lag_sample_interval = 0\n");
$primary->safe_psql('postgres', 'CREATE TABLE t (n int)');
my %node;
for my $name (qw(sa sb sc))
{
	$primary->safe_psql('postgres',
		"SELECT standby_name FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32', create_slot => false)");
	$node{$name} = new_standby($primary, $name);
}

sub sql { return $primary->safe_psql('postgres', $_[0]); }
sub in_force { return sql("SELECT current_setting('synchronous_standby_names')"); }

sub quote_sql
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# wait until new sessions run with $value
sub wait_in_force
{
	my ($value) = @_;
	return $primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') = " . quote_sql($value));
}

sub wait_streaming
{
	my (@names) = @_;
	my $list = join(',', map { "'$_'" } @names);
	return $primary->poll_query_until('postgres',
		"SELECT count(*) = " . scalar(@names)
		  . " FROM pg_stat_replication WHERE state = 'streaming' AND application_name IN ($list)");
}

# a statement in a psql of its own, named so that it can be found
sub start_session
{
	my ($appname, $sql) = @_;
	my %io = (out => '', err => '');
	$io{h} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres') . " application_name=$appname", '-c', $sql ],
		'>', \$io{out}, '2>', \$io{err});
	return \%io;
}

# an interactive psql that runs $sql and holds its transaction open
sub hold_open
{
	my ($sql) = @_;
	my %io = (in => "$sql\n\\echo held\n", out => '', err => '');
	$io{h} = IPC::Run::start([ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('postgres') ],
		'<', \$io{in}, '>', \$io{out}, '2>', \$io{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$io{h}->pump until $io{out} =~ /held/;
	return \%io;
}

sub waits_in_syncrep
{
	my ($appname) = @_;
	return $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = '$appname' AND wait_event = 'SyncRep'");
}

sub state { return sql('SELECT fallback_state FROM pgrepl_admin.synchronous_fallback()'); }

my $stored = sql("SELECT pgrepl_admin.set_synchronous(ARRAY['sa', 'sb', 'sc'], 2, 'any')");
ok(wait_in_force($stored), "the stored $stored is in force");
ok($primary->poll_query_until('postgres', "SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'all three stream: ok');

# --- items 5 and 7: the second lowering ------------------------------------
$node{$_}->stop for qw(sb sc);
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND value_in_force <> '' FROM pgrepl_admin.synchronous_fallback()"),
	'sb and sc stopped: the fallback lowers the setting');
my $first = in_force();
like($first, qr/^ANY 1 \("?sa"?\)$/, 'to ANY 1 (sa)');
# The fallback's delay, set and reloaded.  Commits that wait are looked at
# with the fallback held off (an hour's delay), then the delay is 2 s again:
# on a loaded machine the look could otherwise come after the fallback let
# them go.
sub hold_fallback
{
	my ($delay, $ms) = @_;
	sql("ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '$delay'; SELECT pg_reload_conf()");
	$primary->poll_query_until('postgres',
		"SELECT setting = '$ms' FROM pg_settings WHERE name = 'pgrepl_admin.synchronous_fallback_after'")
	  or die "the delay is not $delay";
}

# sa stops and sb comes back within the delay: the delay is lengthened
# while sb starts, then shortened again, so that sb surely streams before
# the second lowering
sub set_delay
{
	hold_fallback(@_);
	return $primary->poll_query_until('postgres',
		"SELECT fallback_state = 'active' FROM pgrepl_admin.synchronous_fallback()");
}
ok(set_delay('1h', '3600000'), 'the delay is an hour for now');
my $log_offset = -s $primary->logfile;
$node{sa}->stop;
ok($primary->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_replication WHERE state = 'streaming'"),
	'sa stopped: none streams');
my $seen = sql("SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'");
ok($primary->poll_query_until('postgres',
		"SELECT runs > $seen + 2 FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'"),
	'the task has seen it');
$node{sb}->start;
ok(wait_streaming('sb'), 'sb streams again');
is(in_force(), $first, 'within the delay: still the first lowering');
ok(set_delay('2s', '2000'), 'the delay is 2 s again');
ok($primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') ~ '^ANY 1 \\(\"?sb\"?\\)\$'"),
	'lowered to ANY 1 (sb), from the stored members, not to the empty string')
  or diag('in force: ' . in_force());
my $second = in_force();
is(sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'sb'"),
	'quorum', 'sb is a synchronous standby again');
$primary->wait_for_log(qr/WARNING:  synchronous standbys? .*missing/, $log_offset);
like(join('', grep { /DETAIL:  pgrepl_admin lowered/ } split /^/m, slurp_file($primary->logfile, $log_offset)),
	qr/DETAIL:  pgrepl_admin lowered synchronous_standby_names from '\Q$first\E' to '\Q$second\E'; the stored setting is '\Q$stored\E'/,
	'the WARNING says what it lowered from and to');
$node{$_}->start for qw(sa sc);
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'all back and caught up: the stored setting is back');
ok(wait_in_force($stored), 'in force');

# --- item 4: set_synchronous() racing the task -----------------------------
# a session holds lag_history: the old task read the stored setting, then
# waited for it to record the fallback, and wrote its lowering over the
# DBA's choice made meanwhile
my $holder = hold_open('BEGIN; LOCK TABLE pgrepl_admin.lag_history IN ACCESS EXCLUSIVE MODE;');
$node{$_}->stop for qw(sb sc);
ok($primary->poll_query_until('postgres', q{
		SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		               WHERE NOT l.granted AND a.backend_type LIKE 'pgrepl_admin%')
		    OR (SELECT fallback_state = 'active' FROM pgrepl_admin.synchronous_fallback())}),
	'the task saw sb and sc missing for the delay, with lag_history locked');
is(sql('SELECT pgrepl_admin.set_synchronous(num => 0)'), '', 'the DBA turns synchronous replication off');
$holder->{in} .= "COMMIT;\n\\q\n";
$holder->{h}->finish;
my $runs = sql("SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'");
ok($primary->poll_query_until('postgres',
		"SELECT runs > $runs + 5 FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'"),
	'the task ran again, several times');
is(in_force(), '', "the DBA's num => 0 stands: '' is in force");
is(sql('SELECT num FROM pgrepl_admin.synchronous_setting'), '0', 'and stored');
is(state(), 'idle', 'fallback_state is idle');
is(sql("SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE event = 'synchronous-fallback' AND event_detail LIKE '%to ''ANY 1 (%sa%)''%'"),
	't', 'the fallback to ANY 1 (sa) is in lag_history once the lock is gone');
$node{$_}->start for qw(sb sc);
$stored = sql("SELECT pgrepl_admin.set_synchronous(ARRAY['sa', 'sb', 'sc'], 2, 'any')");
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'ANY 2 again, all streaming: ok');
ok(wait_in_force($stored), 'in force');

# --- item 3: a session's locks do not hold the fallback up -----------------
hold_fallback('1h', '3600000');
$node{$_}->stop for qw(sa sb sc);
my $locker = start_session('locker',
	'BEGIN; LOCK TABLE pgrepl_admin.lag_history, pgrepl_admin.synchronous_setting, pgrepl_admin.standbys IN ACCESS EXCLUSIVE MODE; '
	  . 'TRUNCATE pgrepl_admin.lag_history; INSERT INTO t VALUES (100); COMMIT;');
ok(waits_in_syncrep('locker'), 'a TRUNCATE of lag_history, with the three tables locked, waits in SyncRep at commit');
my $waiter = start_session('waiter', 'INSERT INTO t VALUES (101)');
ok(waits_in_syncrep('waiter'), 'another commit waits too');
hold_fallback('2s', '2000');
my $released = $primary->poll_query_until('postgres', 'SELECT count(*) = 2 FROM t WHERE n IN (100, 101)');
ok($released, 'the fallback releases both, the locks notwithstanding');
# (else the standbys release them, for the test to go on)
$node{$_}->start for $released ? () : qw(sa sb sc);
ok($locker->{h}->finish, 'the locking transaction committed') or diag($locker->{err});
ok($waiter->{h}->finish, 'the other commit returned') or diag($waiter->{err});
is(in_force(), '', "lowered to ''");
ok($primary->poll_query_until('postgres',
		"SELECT count(*) = 3 FROM pgrepl_admin.lag_history WHERE event = 'synchronous-fallback' AND event_detail LIKE '%to ''''%'"),
	'the fallback is recorded in lag_history after the lock is gone, one row per standby');
$node{$_}->start for $released ? qw(sa sb sc) : ();
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'the standbys back: ok');

# --- errors do not back the fallback off (review of the sync work, defect 4)
# ALTER SYSTEM cannot write (postgresql.auto.conf.tmp is a directory, as a
# fault the DBA did not make would leave it: the task's lowering fails at
# every run); the task is retried at its next tick, not after the generic
# back-off (5 s doubling up to 10 min): its next run is due within one
# interval of its last, also after several failures in a row.
my $auto_tmp = $primary->data_dir . '/postgresql.auto.conf.tmp';
my $fb_failures = task_status($primary, 'sync_fallback', 'failures');
mkdir($auto_tmp) or die "mkdir $auto_tmp: $!";
$log_offset = -s $primary->logfile;
$node{$_}->stop for qw(sa sb sc);
ok($primary->poll_query_until('postgres', qq{
		SELECT failures >= $fb_failures + 4 AND last_outcome = 'error' AND next_run <= last_run + run_interval
		FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'}),
	'ALTER SYSTEM failing: the task fails at each run and is retried at its next tick, not backed off')
  or diag(task_status($primary, 'sync_fallback', '*'));
like(slurp_file($primary->logfile, $log_offset), qr/WARNING:  pgrepl_admin task "sync_fallback" failed: could not open file "postgresql.auto.conf.tmp"/,
	'the failure is logged');
# lag_history refuses the fallback's rows (a trigger of the DBA's that
# fails for them: not a lock time-out): the event is dropped with a
# WARNING, the task does not fail, and the fallback lowers and restores
# (committed without waiting for the synchronous standbys, which are gone
# while ALTER SYSTEM still fails)
sql(q{
	SET synchronous_commit = local;
	CREATE FUNCTION public.refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'no events here'; END $$;
	CREATE TRIGGER refuse_events BEFORE INSERT ON pgrepl_admin.lag_history
	FOR EACH ROW WHEN (NEW.event IS NOT NULL) EXECUTE FUNCTION public.refuse_events();
});
my $fb_events = sql("SELECT count(*) FROM pgrepl_admin.lag_history WHERE event IS NOT NULL");
rmdir($auto_tmp) or die "rmdir $auto_tmp: $!";
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'active' AND value_in_force = '' FROM pgrepl_admin.synchronous_fallback()"),
	'once ALTER SYSTEM can write again, the fallback lowers the setting');
$primary->wait_for_log(qr/WARNING:  pgrepl_admin could not record the event "synchronous-fallback" in lag_history: no events here/,
	$log_offset);
ok(1, 'the event lag_history refused is logged, and dropped');
my $fb_runs = task_status($primary, 'sync_fallback', 'runs');
ok($primary->poll_query_until('postgres', qq{
		SELECT runs > $fb_runs + 3 AND last_outcome = 'ok'
		FROM pgrepl_admin.worker_status WHERE task = 'sync_fallback'}),
	'the task does not fail for it: its later runs succeed')
  or diag(task_status($primary, 'sync_fallback', '*'));
$node{$_}->start for qw(sa sb sc);
ok($primary->poll_query_until('postgres',
		"SELECT fallback_state = 'ok' FROM pgrepl_admin.synchronous_fallback()"),
	'the standbys back: the stored setting is restored');
ok(wait_in_force($stored), 'in force');
$primary->wait_for_log(qr/WARNING:  pgrepl_admin could not record the event "synchronous-restore" in lag_history: no events here/,
	$log_offset);
ok(1, 'the restore event is dropped too, logged');
is(sql("SELECT count(*) FROM pgrepl_admin.lag_history WHERE event IS NOT NULL"), $fb_events,
	'nothing was recorded');
sql('SET synchronous_commit = local; DROP TRIGGER refuse_events ON pgrepl_admin.lag_history; DROP FUNCTION public.refuse_events()');

# --- item 3: a slow certificate renewal does not hold the fallback up ------
SKIP:
{
	sql("SELECT pgrepl_admin.rotate_server_cert(ARRAY['127.0.0.1'], '1 day')");
	my $worker = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'");
	my ($strace, $why) = strace_attach($worker, '-e', 'trace=connect', '-e', 'inject=connect:delay_exit=120s');
	skip("a renewal held up by strace: $why", 4) unless $strace;
	# one day of validity, renewed when less than 30 days are left: each check renews
	sql("ALTER SYSTEM SET pgrepl_admin.cert_auto_renew = on; SELECT pg_reload_conf()");
	wait_for_task($primary, 'cert_renew', "state = 'running'");
	my $renewals = sql("SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'cert_renew'");
	hold_fallback('1h', '3600000');
	$node{$_}->stop for qw(sa sb sc);
	$waiter = start_session('waiter2', 'INSERT INTO t VALUES (102)');
	ok(waits_in_syncrep('waiter2'), 'with the standbys stopped, a commit waits');
	hold_fallback('2s', '2000');
	ok($primary->poll_query_until('postgres', 'SELECT count(*) = 1 FROM t WHERE n = 102'),
		'the fallback releases it');
	ok($waiter->{h}->finish, 'the commit returned') or diag($waiter->{err});
	is(task_status($primary, 'cert_renew', "state || ' ' || runs"), "running $renewals",
		'while the renewal that was running then is still running');
	sql("ALTER SYSTEM SET pgrepl_admin.cert_auto_renew = off; SELECT pg_reload_conf()");
	$strace->signal('INT');
	$strace->finish;
	wait_for_task($primary, 'cert_renew', "state <> 'running'");
}

done_testing();
