# A backup's time-out counts from when the backup runs, not from the call
# (issue 22 item 14).  backup_start(fast => false) waits for a spread
# checkpoint, which takes checkpoint_completion_target x checkpoint_timeout
# when there are enough dirty buffers to spread (here 0.9 x 30 s); a
# time-out shorter than that must not have expired by the time the backup
# is reported started: backup_stop() right after it succeeds, and the
# expiry the backups view shows lies the time-out after the backup began to
# run.  While it starts, a backup has no expiry yet.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $timeout = 10;
my $node = new_primary('slow',
	conf => "shared_buffers = 64MB\ncheckpoint_timeout = 30s\ncheckpoint_completion_target = 0.9\nlog_checkpoints = on\n"
	  . "listen_addresses = '127.0.0.1'\npgrepl_admin.primary_host = '127.0.0.1'\n");

# dirty buffers enough for the checkpoint to spread over its whole target
# (it sleeps 0.1 s between writes while ahead of schedule): about 2000,
# written by an INSERT, which does not recycle a small ring of buffers as
# CREATE TABLE AS does
sub dirty_buffers
{
	$node->safe_psql('postgres', 'DROP TABLE IF EXISTS filler; CREATE TABLE filler (g int, pad text); CHECKPOINT');
	$node->safe_psql('postgres',
		"INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 16000) g");
}
dirty_buffers();

# the start in the background, so that its state can be seen meanwhile;
# the stop is asked for as soon as the start returns
my $starter = $node->background_psql('postgres', on_error_stop => 0);
$starter->query_until(qr/go/, qq{
\\echo go
SELECT pg_catalog.clock_timestamp() AS called \\gset
SELECT s IS NOT NULL AS started, pg_catalog.clock_timestamp() AS returned FROM pgrepl_admin.backup_start('slow', fast => false, timeout => '$timeout seconds') s \\gset
SELECT lsn IS NOT NULL AS stopped FROM pgrepl_admin.backup_stop('slow', wait_for_archive => false) \\gset
\\echo started=:started stopped=:stopped called=:called returned=:returned done
});
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin backup' AND wait_event = 'CheckpointDone'")
  or die 'the backup worker is not waiting for its start checkpoint';
is($node->safe_psql('postgres', "SELECT state, expires_at IS NULL FROM pgrepl_admin.backups WHERE label = 'slow'"),
	'starting|t', 'while its start checkpoint runs, the backup has no expiry yet');

my $out = $starter->query_until(qr/done/, '');
$starter->quit;
like($out, qr/started=t stopped=t/, 'backup_start returned started, and backup_stop succeeded right after it');
my ($called, $returned) = $out =~ /called=(.*) returned=(.*) done/
  or die "no times in: $out";

# the case under test: the start took longer than the time-out
is($node->safe_psql('postgres', "SELECT '$returned'::timestamptz - '$called'::timestamptz > interval '$timeout seconds'"),
	't', 'the start checkpoint took longer than the time-out (the case under test)');
is($node->safe_psql('postgres', "SELECT state, expires_at > '$returned'::timestamptz FROM pgrepl_admin.backups WHERE label = 'slow'"),
	'stopped|t', 'the backup ended stopped; its expiry lay after backup_start returned: it counted from the run');
is($node->safe_psql('postgres', "SELECT state, expires_at > '$returned'::timestamptz FROM pgrepl_admin.backup_history WHERE label = 'slow'"),
	'stopped|t', 'backup_history says the same');
my $log = slurp_file($node->logfile);
like($log, qr/pgrepl_admin backup "slow" stopped at/, 'the log says it stopped');
unlike($log, qr/pgrepl_admin backup "slow" aborted/, 'and not that it was aborted');

# --- the clone's lease: 3 x --io-timeout = 9 s, given by backup_start
# behind the same spread checkpoint (--no-fast), then renewed while rsync
# runs: the backup must still be held when the copy ends
set_hba($node, 'hostssl all all 127.0.0.1/32 trust');
$node->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
my $clone = PostgreSQL::Test::Cluster->new('clone');
dirty_buffers();
my ($clone_out, $clone_err) = ('', '');
my $clone_ok = IPC::Run::run(
	[
		"$FindBin::RealBin/../scripts/pgrepl_clone_standby",
		'--primary' => $node->connstr('postgres'),
		'--source' => $node->data_dir,
		'--target' => $clone->data_dir,
		'--name' => 'clone',
		'--address' => '127.0.0.1/32',
		'--set' => 'port=' . $clone->port,
		'--set' => 'unix_socket_directories=' . $clone->host,
		'--log' => $clone->logfile,
		'--no-fast',
		'--io-timeout' => 3,
	],
	'>', \$clone_out, '2>', \$clone_err);
note("pgrepl_clone_standby stdout:\n$clone_out\nstderr:\n$clone_err");
ok($clone_ok, 'a clone with --no-fast and a 9 s lease behind a slower start checkpoint succeeds');
is($node->safe_psql('postgres',
		"SELECT state || ' ' || (extract(epoch FROM stopped_at - started_at) > 9) FROM pgrepl_admin.backups WHERE label LIKE 'pgrepl_clone_standby clone %'"),
	'stopped true', 'its backup was stopped, later than a lease counted from the call would have allowed');

$node->stop;
done_testing();
