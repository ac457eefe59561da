# A primary whose synchronous standby is gone: ordinary commits wait for it,
# but pgrepl_admin's background work must not.  The worker keeps sampling
# lag (and shows the standby disconnected), and a backup starts and stops as
# pg_backup_start() and pg_backup_stop() would.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $node = new_primary('syncrep', conf => "pgrepl_admin.lag_sample_interval = '1s'\n");
$node->safe_psql('postgres',
	"SELECT standby_name FROM pgrepl_admin.add_standby('gone', '10.9.9.9/32')");

# from now on every synchronous commit waits for "gone", which never comes
$node->safe_psql('postgres',
	"ALTER SYSTEM SET synchronous_standby_names = 'gone'; SELECT pg_reload_conf()");
$node->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = 'gone'")
  or die 'synchronous_standby_names not reloaded';

# an ordinary commit waits for it (statement_timeout does not end that wait;
# a cancel does)
my ($out, $err) = ('', '');
my $waiting = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', 'CREATE TABLE waits (n int)' ],
	'>', \$out, '2>', \$err);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE 'CREATE TABLE waits%'"),
	'an ordinary commit waits for the synchronous standby');
$node->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CREATE TABLE waits%'");
$waiting->finish;

# the worker's lag samples still commit, and say the standby is gone
my $before = $node->safe_psql('postgres',
	"SELECT count(*) FROM pgrepl_admin.lag_history WHERE standby_name = 'gone'");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > $before + 2 FROM pgrepl_admin.lag_history WHERE standby_name = 'gone' AND status = 'disconnected'"),
	'the worker keeps writing lag samples');
is(task_status($node, 'lag_sample', 'last_outcome'), 'ok', 'the sampling task succeeds');

# a backup starts and stops; pg_backup_start/stop do not wait for standbys
my $timeout = "SET statement_timeout = '30s';";
my $rc;
($rc, $out, $err) = $node->psql('postgres',
	"$timeout SELECT pgrepl_admin.backup_start('syncrep') IS NOT NULL");
is($rc, 0, 'backup_start returns') or diag($err);
is($node->safe_psql('postgres', "SELECT state FROM pgrepl_admin.backups WHERE label = 'syncrep'"),
	'running', 'the backup runs');
($rc, $out, $err) = $node->psql('postgres',
	"$timeout SELECT labelfile LIKE '%LABEL: syncrep%' FROM pgrepl_admin.backup_stop('syncrep', false)");
is("$rc|$out", '0|t', 'backup_stop returns the backup label') or diag($err);
ok( $node->poll_query_until('postgres',
		"SELECT state = 'stopped' FROM pgrepl_admin.backup_history WHERE label = 'syncrep'"),
	'the backup is recorded as stopped');

done_testing();
