# The maintenance worker on a primary and a streaming standby: it waits
# quietly for the extension, runs its tasks, contains a failing task,
# survives its own crash, follows reloaded settings, and takes up
# primary-only tasks on a standby once it is promoted, without a restart.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

# --- a primary whose database has no extension yet: one LOG line, not more
my $primary = new_primary('primary', extension => 0,
	conf => "restart_after_crash = on\n");
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'")
  or die 'worker did not start';
sleep(12);    # more than two of the worker's re-checks for the extension
my $log = slurp_file($primary->logfile);
my @waiting = ($log =~ /waiting for CREATE EXTENSION pgrepl_admin in database "postgres"/g);
is(scalar @waiting, 1, 'worker says once that it waits for the extension');

$primary->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
wait_for_task($primary, 'lag_sample', "last_outcome = 'ok' AND state = 'scheduled'");
like(slurp_file($primary->logfile), qr/found the extension in database "postgres" and starts its tasks/,
	'worker logs that it starts once the extension exists');

# --- a streaming standby: the worker runs there too, holding back writes
my $standby = new_standby($primary, 'standby');
$standby->poll_query_until('postgres',
	"SELECT worker_pid IS NOT NULL AND state = 'waiting-promotion' FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'")
  or die 'worker on standby did not report';
is(task_status($standby, 'lag_sample', 'runs, last_outcome IS NULL'), '0|t',
	'standby worker has not run the primary-only task');
is($standby->safe_psql('postgres',
		"SELECT pg_is_in_recovery(), count(*) FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance' GROUP BY 1"),
	't|1', 'one maintenance worker runs on the standby');

# the primary's sampling sees the standby
$primary->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE standby_name = 'standby' AND state = 'streaming'")
  or die 'no lag sample of the standby';
is($primary->safe_psql('postgres',
		"SELECT replay_lag_bytes >= 0, client_addr IS NOT NULL OR client_addr IS NULL FROM pgrepl_admin.lag_history WHERE standby_name = 'standby' ORDER BY sampled_at DESC LIMIT 1"),
	't|t', 'lag sample has a numeric byte lag');

# --- a failing task is contained, logged and retried
my $pid = task_status($primary, 'lag_sample', 'worker_pid');
$primary->safe_psql('postgres', 'ALTER TABLE pgrepl_admin.lag_history RENAME TO lag_history_away');
wait_for_task($primary, 'lag_sample',
	"last_outcome = 'error' AND last_error LIKE '%lag_history%' AND failures >= 1");
like(slurp_file($primary->logfile), qr/WARNING:  pgrepl_admin task "lag_sample" failed: .*lag_history/,
	'the failure is logged');
my $offset = -s $primary->logfile;
$primary->safe_psql('postgres', 'ALTER TABLE pgrepl_admin.lag_history_away RENAME TO lag_history');
wait_for_task($primary, 'lag_sample', "last_outcome = 'ok' AND last_error IS NULL");
is(task_status($primary, 'lag_sample', 'worker_pid'), $pid, 'the worker survived the failing task');
unlike(slurp_file($primary->logfile, $offset), qr/terminated|restarting/,
	'no process was restarted');

# --- settings follow a reload
$primary->safe_psql('postgres', "ALTER SYSTEM SET pgrepl_admin.lag_sample_interval = 0");
$primary->reload;
wait_for_task($primary, 'lag_sample', "state = 'disabled' AND run_interval IS NULL");
$primary->safe_psql('postgres', "ALTER SYSTEM SET pgrepl_admin.lag_sample_interval = '1s'");
$primary->reload;
wait_for_task($primary, 'lag_sample', "state = 'scheduled' AND run_interval = '1 second'");
my $runs = task_status($primary, 'lag_sample', 'runs');
wait_for_task($primary, 'lag_sample', "runs >= $runs + 3");

# --- the worker survives the death of its own process
# SIGTERM ends it; the postmaster starts it again by itself
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
wait_for_task($primary, 'lag_sample', "worker_pid IS NOT NULL AND worker_pid <> $pid AND state = 'scheduled'");
# SIGKILL is a crash: the server restarts, and with it the worker
$pid = task_status($primary, 'lag_sample', 'worker_pid');
kill 'KILL', $pid;
$primary->poll_query_until('postgres',
	"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid AND last_outcome = 'ok' FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'")
  or die 'worker did not come back after SIGKILL';
pass('worker came back after SIGKILL and ran its task');
like(slurp_file($primary->logfile), qr/pgrepl_admin maintenance.*was terminated by signal 9/,
	'the crash was the worker\'s');

# --- promotion: the standby's worker takes up the primary-only task itself
$primary->wait_for_catchup($standby, 'replay');
my $standby_pid = task_status($standby, 'lag_sample', 'worker_pid');
$standby->promote;
wait_for_task($standby, 'lag_sample', "state = 'scheduled' AND last_outcome = 'ok' AND runs >= 1");
is(task_status($standby, 'lag_sample', 'worker_pid'), $standby_pid,
	'the same worker process took up the task after promotion');

# --- loaded without preloading: a clear error with a hint, the rest works
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
my ($rc, $out, $err) = $plain->psql('postgres', 'SELECT * FROM pgrepl_admin.worker_status');
isnt($rc, 0, 'worker_status fails without preloading');
like($err, qr/ERROR:  pgrepl_admin.worker_status requires pgrepl_admin to be loaded through shared_preload_libraries/,
	'the error says why');
like($err, qr/HINT:  Add pgrepl_admin to shared_preload_libraries/, 'and what to do');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.lag_history'), '0',
	'the rest of the extension works');

# --- the worker exits when the postmaster dies
my ($postmaster) = split /\n/, slurp_file($standby->data_dir . '/postmaster.pid');
kill 'KILL', $postmaster;
my $gone = 0;
for (1 .. 300)
{
	if (!kill(0, $standby_pid)) { $gone = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($gone, 'the worker exits when the postmaster dies');
# a postmaster killed this way leaves its pid file: let the framework forget it
$standby->_update_pid(-1);

$primary->stop;
$plain->stop;
done_testing();
