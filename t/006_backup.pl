# Backups held by background workers, on real servers: a backup started in
# one psql session and stopped from another, with the data directory copied
# in between while rows are written; a standby made from that copy reaches
# consistency, streams and has the primary's data.  Then every other ending:
# the time-out (and a lease: the expiry moved with backup_extend), the
# worker terminated and killed, the server stopped; each
# leaves no backup running in the server (backup mode forces full-page
# images even with full_page_writes = off, which is how the tests see it)
# and a truthful state in the backups view.  Also: a standby refuses to
# start one, and old backup_history rows are pruned.

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

# full_page_writes = off makes backup mode visible: only a running backup
# then forces full-page images into the WAL
my $primary = new_primary('primary', conf => "full_page_writes = off\nrestart_after_crash = on\n");
$primary->safe_psql('postgres', q{
	CREATE TABLE probe AS SELECT g AS n FROM generate_series(1, 2000) g;
	CREATE TABLE accounts (id bigserial PRIMARY KEY, batch text NOT NULL, val text NOT NULL);
	INSERT INTO accounts (batch, val) SELECT 'before', md5(g::text) FROM generate_series(1, 20000) g;
});

sub backup_row
{
	my ($node, $label, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM pgrepl_admin.backups WHERE label = '$label' ORDER BY started_at DESC LIMIT 1");
}

sub table_digest
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*), count(*) FILTER (WHERE batch = 'during'), md5(string_agg(id || ':' || batch || ':' || val, ',' ORDER BY id)) FROM accounts");
}

is(in_backup_mode($primary), 0, 'no backup mode before any backup');

# --- start in one session, which then ends
$primary->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('restored', true)");
my $session1 = $primary->background_psql('postgres');
my $start_lsn = $session1->query_safe("SELECT pgrepl_admin.backup_start('tap_copy')");
like($start_lsn, qr{^[0-9A-F]+/[0-9A-F]+$}, 'backup_start returns the start LSN');
my $session1_pid = $session1->query_safe('SELECT pg_backend_pid()');
$session1->quit;
$primary->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $session1_pid")
  or die 'session 1 did not end';
is(backup_row($primary, 'tap_copy', 'state, start_lsn'), "running|$start_lsn",
	'the backup outlives the session that started it');
is(in_backup_mode($primary), 1, 'and the server is in backup mode');

# --- copy the data directory while a writer inserts and updates rows
my $stop_writer = "$tmp/stop_writer";
my $writer_out = '';
my $connstr = $primary->connstr('postgres');
my $writer = IPC::Run::start(
	[
		'bash', '-c',
		qq{n=0; while [ ! -e '$stop_writer' ] || [ \$n -lt 20 ]; do
		     psql -XAtq -d '$connstr' -v ON_ERROR_STOP=1 -c "INSERT INTO accounts (batch, val) SELECT 'during', md5(random()::text) FROM generate_series(1, 200); UPDATE accounts SET val = md5(val) WHERE id % 97 = \$n % 97" || exit 1;
		     n=\$((n+1)); done; echo \$n}
	],
	'>', \$writer_out);
my $copy = $primary->backup_dir . '/copy';
my ($rc, $rsync_out, $rsync_err);
my @rsync = ('rsync', '-a', '--exclude=/pg_wal/*', '--exclude=/postmaster.pid',
	'--exclude=/postmaster.opts', '--exclude=/pg_replslot/*', '--exclude=/pg_stat_tmp/*',
	'--exclude=/pg_dynshmem/*', '--exclude=/pg_notify/*', '--exclude=/pg_serial/*',
	'--exclude=/pg_snapshots/*', '--exclude=/pg_subtrans/*', '--exclude=pgsql_tmp*',
	'--exclude=pg_internal.init', $primary->data_dir . '/', "$copy/");
IPC::Run::run(\@rsync, '>', \$rsync_out, '2>', \$rsync_err);
# 24: some files vanished during the copy, which a copy in backup mode allows
ok($? == 0 || $? >> 8 == 24, 'the data directory was copied') or diag($rsync_err);
open(my $fh, '>', $stop_writer) or die;
close($fh);
$writer->finish;
cmp_ok($writer_out, '>=', 20, "the writer ran $writer_out transactions during the copy");

# --- stop from another session
my $stopped = $primary->safe_psql('postgres',
	"SELECT lsn || '|' || encode(convert_to(labelfile, 'UTF8'), 'base64') || '|' || (spcmapfile = '') FROM pgrepl_admin.backup_stop('tap_copy')");
my ($stop_lsn, $labelfile_b64, $no_map) = split /\|/, $stopped;
$labelfile_b64 =~ s/\s//g;
require MIME::Base64;
my $labelfile = MIME::Base64::decode_base64($labelfile_b64);
like($labelfile, qr/^START WAL LOCATION: \Q$start_lsn\E /, 'the label file starts at the start LSN');
like($labelfile, qr/^LABEL: tap_copy$/m, 'and carries the label');
is($no_map, 'true', 'no tablespace map without tablespaces');
is(backup_row($primary, 'tap_copy', 'state, stop_lsn'), "stopped|$stop_lsn", 'the view shows it stopped');
is(in_backup_mode($primary), 0, 'the server left backup mode');
$primary->safe_psql('postgres',
	"INSERT INTO accounts (batch, val) SELECT 'after', md5(g::text) FROM generate_series(1, 1000) g");

# --- restore: backup_label from backup_stop, then a streaming standby
open($fh, '>', "$copy/backup_label") or die;
print $fh $labelfile;
close($fh);
my $standby = PostgreSQL::Test::Cluster->new('restored');
$standby->init_from_backup($primary, 'copy', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'restored'\n");
$standby->start;
$standby->poll_query_until('postgres', 'SELECT pg_is_in_recovery()')
  or die 'the restored standby does not accept connections';
like(slurp_file($standby->logfile), qr/consistent recovery state reached/,
	'the restored standby reached consistency');
like(slurp_file($standby->logfile), qr/starting backup recovery with redo LSN \Q$start_lsn\E/,
	'it recovered from the backup\'s start, as backup_label says');
$primary->poll_query_until('postgres',
	"SELECT state = 'streaming' FROM pg_stat_replication WHERE application_name = 'restored'")
  or die 'the restored standby does not stream';
pass('the restored standby streams');
$primary->wait_for_catchup($standby, 'replay');
my $digest = table_digest($primary);
my ($rows, $during) = split /\|/, $digest;
cmp_ok($during, '>=', 20 * 200, "$during rows were written during the copy");
is($rows, 20000 + $during + 1000, 'and the others before and after it');
is(table_digest($standby), $digest, 'the standby has the same rows (count, written during the copy, checksum)');

# --- a standby refuses to start a backup, at once
my ($out, $err);
$rc = $standby->psql('postgres', "SELECT pgrepl_admin.backup_start('tap_standby')",
	stdout => \$out, stderr => \$err, timeout => 60);
isnt($rc, 0, 'backup_start fails on a standby');
like($err, qr/ERROR:  pgrepl_admin cannot start a backup on a standby/, 'with a clear error');
$standby->stop;

# --- the time-out aborts an abandoned backup
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_timeout', timeout => '3 seconds')");
is(in_backup_mode($primary), 1, 'the abandoned backup runs');
$primary->poll_query_until('postgres',
	"SELECT state = 'aborted' FROM pgrepl_admin.backups WHERE label = 'tap_timeout'")
  or die 'the time-out did not abort the backup';
like(backup_row($primary, 'tap_timeout', 'error'), qr/not stopped before its time-out expired at/,
	'the view says it timed out');
like(slurp_file($primary->logfile),
	qr/WARNING:  pgrepl_admin backup "tap_timeout" aborted: not stopped before its time-out/,
	'the worker logged why');
is(in_backup_mode($primary), 0, 'the server left backup mode');
is($primary->safe_psql('postgres', "SELECT state FROM pgrepl_admin.backup_history WHERE label = 'tap_timeout'"),
	'aborted', 'backup_history says aborted');
$rc = $primary->psql('postgres', "SELECT * FROM pgrepl_admin.backup_stop('tap_timeout')", stderr => \$err);
like($err, qr/backup "tap_timeout" is not in progress/, 'it can no longer be stopped');

# --- a lease: backup_extend moves a running backup's expiry
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_lease', timeout => '3 seconds')");
my $first_expiry = backup_row($primary, 'tap_lease', 'expires_at');
my $extended = $primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_extend('tap_lease', '1 hour')");
is(backup_row($primary, 'tap_lease', 'expires_at'), $extended, 'backup_extend returns the expiry the backups view shows');
is( $primary->safe_psql('postgres',
		"SELECT '$extended'::timestamptz BETWEEN clock_timestamp() + interval '59 minutes' AND clock_timestamp() + interval '1 hour'"),
	't', 'an hour from now');
# past the expiry backup_start gave it (and a second for the worker), it runs
$primary->poll_query_until('postgres', "SELECT clock_timestamp() > '$first_expiry'::timestamptz + interval '2 seconds'")
  or die 'the clock did not pass the first expiry';
is(backup_row($primary, 'tap_lease', 'state'), 'running', 'the extended backup outlives its first time-out');
is(in_backup_mode($primary), 1, 'and the server is still in backup mode');
# refused: unknown label, bad interval; the expiry stays
$rc = $primary->psql('postgres', "SELECT pgrepl_admin.backup_extend('tap_nosuch', '1 hour')", stderr => \$err);
like($err, qr/ERROR:  no backup with label "tap_nosuch" is in progress/, 'an unknown label is refused');
$rc = $primary->psql('postgres', "SELECT pgrepl_admin.backup_extend('tap_timeout', '1 hour')", stderr => \$err);
like($err, qr/ERROR:  backup "tap_timeout" is not in progress
DETAIL:  It ended as aborted at /,
	'so is a backup that ended, saying how');
for my $bad ('0', '-5 minutes', '0.5 seconds', '101 years')
{
	$rc = $primary->psql('postgres', "SELECT pgrepl_admin.backup_extend('tap_lease', '$bad')", stderr => \$err);
	like($err, qr/ERROR:  timeout must be between 1 second and 100 years/, "a timeout of '$bad' is refused");
}
is(backup_row($primary, 'tap_lease', 'expires_at'), $extended, 'the refused calls left the expiry as it was');
# shortened to a lease nobody renews: it expires, and is recorded so
my $short = $primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_extend('tap_lease', '2 seconds')");
$primary->poll_query_until('postgres', "SELECT state = 'aborted' FROM pgrepl_admin.backups WHERE label = 'tap_lease'")
  or die 'the lease did not expire';
like(backup_row($primary, 'tap_lease', "(expires_at = '$short') || ' ' || error"),
	qr/^true not stopped before its time-out expired at /,
	'a lease not renewed expires: the view says so, with the extended expiry');
like(slurp_file($primary->logfile),
	qr/WARNING:  pgrepl_admin backup "tap_lease" aborted: not stopped before its time-out/,
	'the worker logged why');
is( $primary->safe_psql('postgres',
		"SELECT state || ' ' || (expires_at = '$short') FROM pgrepl_admin.backup_history WHERE label = 'tap_lease'"),
	'aborted true', 'backup_history records it aborted, with the extended expiry');
is(in_backup_mode($primary), 0, 'the server left backup mode');

# --- the worker terminated (SIGTERM)
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_term')");
my $pid = backup_row($primary, 'tap_term', 'worker_pid');
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$primary->poll_query_until('postgres', "SELECT state = 'aborted' FROM pgrepl_admin.backups WHERE label = 'tap_term'")
  or die 'the terminated worker did not record an end';
like(backup_row($primary, 'tap_term', 'error'), qr/terminated/, 'a terminated worker: aborted, and why');
is(in_backup_mode($primary), 0, 'the server left backup mode');

# --- a backup being started, held there: the checkpointer is stopped
# (SIGSTOP), so the worker's pg_backup_start waits for its checkpoint
my $checkpointer = $primary->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
my $checkpointer_stopped = 0;
sub stop_checkpointer { kill 'STOP', $checkpointer; $checkpointer_stopped = 1; }
sub resume_checkpointer { kill 'CONT', $checkpointer; $checkpointer_stopped = 0; }
END { kill 'CONT', $checkpointer if $checkpointer_stopped; }

# until the worker of the backup with this label waits for the checkpoint
sub wait_for_start_checkpoint
{
	my ($label) = @_;
	$primary->poll_query_until('postgres', qq{
		SELECT a.wait_event = 'CheckpointStart'
		FROM pgrepl_admin.backups b JOIN pg_stat_activity a ON a.pid = b.worker_pid
		WHERE b.label = '$label' AND b.state = 'starting'})
	  or die "the worker of $label does not wait for the checkpoint";
}

stop_checkpointer();
my $starter = $primary->background_psql('postgres');
$starter->query_until(qr/sent/, qq{\\echo sent
SELECT pgrepl_admin.backup_start('tap_starting') IS NOT NULL AS started;
SELECT a.query FROM pg_stat_activity a JOIN pgrepl_admin.backups b ON a.pid = b.worker_pid
WHERE b.label = 'tap_starting';
\\echo done
});
wait_for_start_checkpoint('tap_starting');
is($primary->safe_psql('postgres', q{
	SELECT string_agg(b.state || ' ' || (h.id IS NOT NULL), ',')
	FROM pgrepl_admin.backups b LEFT JOIN pgrepl_admin.backup_history h ON h.label = b.label
	WHERE b.label = 'tap_starting'}),
	'starting true', 'a starting backup, its row written, is listed once, as starting');

# What pg_stat_activity shows once backup_start returns is true, even for
# a worker that is slow after it said the backup runs: strace holds it for
# 5 s after each kill(2) it makes, among them the one that wakes the
# session when it publishes "running".
my $worker = backup_row($primary, 'tap_starting', 'worker_pid');
my ($strace_err, $strace_out) = ('', '');
my $strace = IPC::Run::start(
	[ 'strace', '-p', $worker, '-e', 'trace=kill', '-e', 'inject=kill:delay_exit=5s', '-o', '/dev/null' ],
	'>', \$strace_out, '2>', \$strace_err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$strace->pump until $strace_err =~ /attached/;
resume_checkpointer();
my $seen = $starter->query_until(qr/done/, '');
$strace->signal('INT');
$strace->finish;
like($seen, qr/^t\n\Qholding backup "tap_starting"\E\n/m,
	'right after backup_start returns, pg_stat_activity shows the worker holding the backup');
$starter->quit;
ok($primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_abort('tap_starting')"), 'it is aborted');

# --- the session terminated while it waits in backup_start (a FATAL): the
# backup it was starting is aborted at once (the checkpointer still
# stopped: the worker's wait for it is cut short) and recorded
stop_checkpointer();
$starter = $primary->background_psql('postgres');
my $starter_pid = $starter->query_safe('SELECT pg_backend_pid()');
$starter->query_until(qr/sent/, "\\echo sent\nSELECT pgrepl_admin.backup_start('tap_abandoned');\n");
wait_for_start_checkpoint('tap_abandoned');
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($starter_pid)");
ok( $primary->poll_query_until('postgres', q{
		SELECT state = 'aborted' FROM pgrepl_admin.backup_history WHERE label = 'tap_abandoned'}),
	'the backup of a terminated backup_start is aborted and recorded, without waiting for its start');
like(backup_row($primary, 'tap_abandoned', 'state || \': \' || error'),
	qr/^aborted: the session that called pgrepl_admin.backup_start\(\) was cancelled, terminated or failed before the backup ran$/,
	'the view says why');
resume_checkpointer();
$starter->{run}->kill_kill;    # its psql lost its connection
is(in_backup_mode($primary), 0, 'the server is not in backup mode');

# --- the worker terminated while it starts the backup (a FATAL in the
# wait for the checkpoint): its end is recorded all the same, and
# backup_start says so
stop_checkpointer();
$starter = $primary->background_psql('postgres', on_error_stop => 0);
$starter->query_until(qr/sent/, "\\echo sent\nSELECT pgrepl_admin.backup_start('tap_term_starting');\n\\echo done\n");
wait_for_start_checkpoint('tap_term_starting');
$pid = backup_row($primary, 'tap_term_starting', 'worker_pid');
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$primary->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
  or die 'the terminated worker did not exit';
is($primary->safe_psql('postgres', "SELECT state || ': ' || coalesce(error, '') FROM pgrepl_admin.backup_history WHERE label = 'tap_term_starting'"),
	'failed: the backup worker exited while the backup was starting (see the server log); the server ended the backup',
	'a worker terminated while it starts the backup: failed, recorded in backup_history, and why');
$starter->query_until(qr/done/, '');
like($starter->{stderr}, qr/could not start backup "tap_term_starting"/, 'backup_start fails');
resume_checkpointer();
$starter->quit;
is(in_backup_mode($primary), 0, 'the server is not in backup mode');

# --- the worker cancelled (pg_cancel_backend): aborted, and recorded
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_cancel')");
$pid = backup_row($primary, 'tap_cancel', 'worker_pid');
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$primary->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
  or die 'the cancelled worker did not exit';
is($primary->safe_psql('postgres', "SELECT state || ': ' || coalesce(error, '') FROM pgrepl_admin.backup_history WHERE label = 'tap_cancel'"),
	'aborted: the backup worker was cancelled (pg_cancel_backend())',
	'a cancelled worker: aborted, recorded in backup_history, and why');
is(in_backup_mode($primary), 0, 'the server left backup mode');

# --- a backup that cannot be recorded is not started (the row waits 10 s
# for the lock)
my $locker = $primary->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK pgrepl_admin.backup_history IN ACCESS EXCLUSIVE MODE');
$rc = $primary->psql('postgres', "SELECT pgrepl_admin.backup_start('tap_unrecorded')", stderr => \$err);
$locker->query_safe('ROLLBACK');
$locker->quit;
isnt($rc, 0, 'backup_start fails when the backup cannot be recorded in backup_history');
like($err, qr/could not start backup "tap_unrecorded"\n.*could not record the backup in pgrepl_admin\.backup_history: canceling statement due to lock timeout/,
	'and says why');
is(in_backup_mode($primary), 0, 'no backup was started');

# --- the worker killed (SIGKILL): the server restarts; the view says failed
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_kill')");
$pid = backup_row($primary, 'tap_kill', 'worker_pid');
is(in_backup_mode($primary), 1, 'the backup to kill runs');
kill 'KILL', $pid;
$primary->poll_query_until('postgres', "SELECT state = 'failed' FROM pgrepl_admin.backups WHERE label = 'tap_kill'")
  or die 'no failed state after the kill';
like(slurp_file($primary->logfile), qr/pgrepl_admin backup.*was terminated by signal 9/, 'the worker was killed');
like(backup_row($primary, 'tap_kill', 'error'), qr/the server stopped or crashed while the backup was running/,
	'the view says the killed backup failed, and why');
is(in_backup_mode($primary), 0, 'no backup mode after the crash');
$rc = $primary->psql('postgres', "SELECT * FROM pgrepl_admin.backup_stop('tap_kill')", stderr => \$err);
like($err, qr/no backup with label "tap_kill" is in progress/, 'the killed backup cannot be stopped');
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_kill')");
$primary->safe_psql('postgres', "SELECT lsn FROM pgrepl_admin.backup_stop('tap_kill')");
is($primary->safe_psql('postgres', "SELECT string_agg(state, ',' ORDER BY started_at) FROM pgrepl_admin.backups WHERE label = 'tap_kill'"),
	'failed,stopped', 'its label can be used again');

# --- the server stopped during a backup (fast shutdown)
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_shutdown')");
$primary->stop('fast');
like(slurp_file($primary->logfile), qr/pgrepl_admin backup "tap_shutdown" aborted: the backup worker was terminated/,
	'the worker ended the backup at shutdown and said so');
$primary->start;
is(backup_row($primary, 'tap_shutdown', 'state'), 'aborted', 'after the restart the view says aborted');
is(in_backup_mode($primary), 0, 'no backup mode after the restart');

# --- and an immediate shutdown, which the worker cannot record
$primary->safe_psql('postgres', "SELECT pgrepl_admin.backup_start('tap_immediate')");
$primary->stop('immediate');
$primary->start;
is(backup_row($primary, 'tap_immediate', 'state'), 'failed', 'after an immediate shutdown the view says failed');
is(in_backup_mode($primary), 0, 'no backup mode after it');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.backups WHERE state IN (\'starting\', \'running\', \'stopping\')'),
	'0', 'no backup is left in progress');

# --- old backup_history rows are pruned by the maintenance worker
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET pgrepl_admin.backup_history_retention = '1h';
	SELECT pg_reload_conf();
	UPDATE pgrepl_admin.backup_history SET stopped_at = now() - interval '2 hours', started_at = now() - interval '3 hours'
	WHERE label = 'tap_timeout';
	-- left running by the immediate shutdown: its start counts
	UPDATE pgrepl_admin.backup_history SET started_at = now() - interval '3 hours'
	WHERE label = 'tap_immediate';
});
my $before = $primary->safe_psql('postgres', 'SELECT now()');
my $maint = task_status($primary, 'backup_history_prune', 'worker_pid');
$primary->safe_psql('postgres', "SELECT pg_terminate_backend($maint)");
wait_for_task($primary, 'backup_history_prune', "last_run > '$before' AND last_outcome = 'ok'");
is($primary->safe_psql('postgres', "SELECT string_agg(DISTINCT label, ',' ORDER BY label) FROM pgrepl_admin.backup_history"),
	'tap_abandoned,tap_cancel,tap_copy,tap_kill,tap_lease,tap_shutdown,tap_starting,tap_term,tap_term_starting', 'rows older than the retention are pruned, the others kept');

$primary->stop;
done_testing();
