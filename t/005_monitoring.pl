# Monitoring against a real standby: lag bytes grow while replay is paused
# and return to zero after resume; a standby whose replay is stuck while the
# primary writes becomes stalled; a stopped standby shows as disconnected with
# its slot's retained WAL growing; the worker logs each change once, and a
# standby registered but never connected gets a LOG, not a WARNING;
# lag_history fills and is pruned; check() flags fsync=off; standby_status
# on the standby; pg_monitor reads every view and a plain role is refused.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $primary = new_primary('primary', conf => q{
pgrepl_admin.lag_sample_interval = '1s'
pgrepl_admin.lag_stall_after = '4s'
pgrepl_admin.lag_warn_bytes = '1MB'
pgrepl_admin.lag_warn_time = '1h'
});
$primary->safe_psql('postgres', q{
	SELECT pg_create_physical_replication_slot('standby1', true);
	INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth, slot_name)
	VALUES ('standby1', 'postgres', '127.0.0.1/32', 'scram-sha-256', 'standby1');
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby1');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby1'\n");
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

sub lag_row
{
	return $primary->safe_psql('postgres',
		"SELECT $_[0] FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'");
}

# --- caught up and idle: numbers, and zero (not NULL) time lag
$primary->poll_query_until('postgres',
	"SELECT status = 'streaming' AND replay_lag_bytes = 0 AND replay_lag = '0' AND slot_name = 'standby1'
	 FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'")
  or die 'standby1 not streaming';
pass('a caught-up standby streams with zero byte and time lag');
is(lag_row("pg_typeof(replay_lag_bytes)::text || ' ' || pg_typeof(replay_lag)::text || ' ' || (pid IS NOT NULL)"),
	'numeric interval true', 'lag columns are numbers and intervals');

# --- replay paused: byte lag grows, then lagging, then stalled
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$primary->safe_psql('postgres', 'CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 10) AS pad FROM generate_series(1, 20000) g');
$primary->poll_query_until('postgres',
	"SELECT replay_lag_bytes > 1048576 AND status IN ('lagging', 'stalled') FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'")
  or die 'lag did not grow';
pass('with replay paused the byte lag grows past lag_warn_bytes and the standby is lagging');
# the primary keeps writing while replay stays where it is
my $stalled = 0;
for (1 .. 60)
{
	$primary->safe_psql('postgres', 'INSERT INTO filler SELECT 0, md5(random()::text)');
	if (lag_row('status') eq 'stalled') { $stalled = 1; last; }
	sleep(1);
}
ok($stalled, 'replay unmoved for lag_stall_after while the primary writes: stalled');
$primary->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE standby_name = 'standby1' AND status = 'stalled'})
  or die 'no stalled sample';
like(slurp_file($primary->logfile), qr/WARNING:  standby "standby1" is stalled/, 'the worker warned that it is stalled');

# --- resume: back to zero, and one LOG line saying so
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby, 'replay');
$primary->poll_query_until('postgres',
	"SELECT status = 'streaming' AND replay_lag_bytes = 0 FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'")
  or die 'did not recover';
pass('after resume the lag returns to zero and the standby streams');
$primary->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE standby_name = 'standby1' AND status = 'streaming' AND sampled_at > now() - interval '2 seconds'})
  or die 'no recent streaming sample';
my $log = slurp_file($primary->logfile);
like($log, qr/LOG:  standby "standby1" is streaming again, no longer (stalled|lagging)/, 'the worker logged the recovery');
my @stalled_lines = ($log =~ /standby "standby1" is stalled/g);
is(scalar @stalled_lines, 1, 'one warning while the stall held, not one per sample');

# --- on the standby (the worker's lag samples keep WAL coming: received
# and not yet replayed for a moment each second, so wait for a caught-up
# moment)
ok($standby->poll_query_until('postgres',
		"SELECT in_recovery, wal_receiver_status, sender_port = " . $primary->port . ", slot_name, receive_replay_lag_bytes = 0, replay_delay = '0'
		 FROM pgrepl_admin.standby_status", 't|streaming|t|standby1|t|t'),
	'standby_status on the standby: in recovery, streaming from the primary through its slot, caught up');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.replication_lag'), '0',
	'replication_lag on a standby lists no standbys of the primary');
is($standby->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'standbys'"),
	'ok', 'check() on a standby points at standby_status');

# --- stopped: disconnected, its slot retaining more and more WAL
my $log_offset = -s $primary->logfile;
$standby->stop;
my $stopped_at = $primary->safe_psql('postgres', 'SELECT pg_catalog.now()');
$primary->poll_query_until('postgres',
	"SELECT status = 'disconnected' AND pid IS NULL AND slot_wal_status IS NOT NULL FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'")
  or die 'not disconnected';
pass('a stopped standby shows as disconnected');
my $retained = lag_row('slot_retained_bytes');
$primary->safe_psql('postgres', 'INSERT INTO filler SELECT g, md5(g::text) FROM generate_series(1, 20000) g');
cmp_ok(lag_row('slot_retained_bytes'), '>', $retained, 'its slot retains more WAL as the primary writes');
# (a sample taken after the stop: the first samples, before the standby
# first connected, were disconnected too)
$primary->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE standby_name = 'standby1' AND status = 'disconnected' AND sampled_at > '$stopped_at'})
  or die 'no disconnected sample';
like(slurp_file($primary->logfile, $log_offset), qr/WARNING:  standby "standby1" is disconnected/, 'the worker warned that it is disconnected');
is($primary->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'standbys'"),
	'warning', 'check() warns about the disconnected standby');
is($primary->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'inactive_slots'"),
	'warning', 'check() warns about its slot holding WAL without a cap');

# --- a standby registered with add_standby that has never streamed: one
# LOG that it has not connected yet, no "disconnected" WARNING (standby1
# above, which streamed before it was lost, got the WARNING)
my $offset = -s $primary->logfile;
$primary->safe_psql('postgres', q{SELECT pgrepl_admin.add_standby('never1', '127.0.0.5/32')});
$primary->poll_query_until('postgres', q{SELECT count(*) >= 3 FROM pgrepl_admin.lag_history WHERE standby_name = 'never1' AND status = 'disconnected'})
  or die 'no samples of never1';
my $log = slurp_file($primary->logfile, $offset);
my @not_yet = $log =~ /LOG:  standby "never1" has not connected yet/g;
is(scalar(@not_yet), 1, 'a registered standby that never streamed is logged once as not connected yet');
unlike($log, qr/WARNING:  standby "never1"/, 'and gets no WARNING before it has ever connected');
$primary->safe_psql('postgres', q{SELECT pgrepl_admin.remove_standby('never1', drop_slot => true)});

# --- lag_history fills and is pruned
cmp_ok($primary->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.lag_history'), '>', 5, 'lag_history fills');
$primary->safe_psql('postgres', q{
	INSERT INTO pgrepl_admin.lag_history (sampled_at, standby_name, status, wal_lsn)
	VALUES (now() - interval '2 days', 'standby1', 'streaming', '0/0');
	ALTER SYSTEM SET pgrepl_admin.lag_history_retention = '1d';
	SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pgrepl_admin.lag_history WHERE sampled_at < now() - interval '1 day'})
  or die 'old samples not pruned';
pass('samples older than lag_history_retention are pruned');
cmp_ok($primary->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.lag_history'), '>', 0, 'recent samples stay');

# --- check() flags fsync = off
$primary->safe_psql('postgres', 'ALTER SYSTEM SET fsync = off; SELECT pg_reload_conf()');
$primary->poll_query_until('postgres', q{SELECT status = 'error' AND hint LIKE '%fsync = on%' FROM pgrepl_admin.check() WHERE check_name = 'fsync'})
  or die 'fsync=off not flagged';
pass('check() flags fsync = off as an error');
$primary->safe_psql('postgres', 'ALTER SYSTEM RESET fsync; SELECT pg_reload_conf()');

# --- privileges
$primary->safe_psql('postgres', 'CREATE ROLE monitor LOGIN IN ROLE pg_monitor; CREATE ROLE plain LOGIN');
for my $object ('pgrepl_admin.replication_lag', 'pgrepl_admin.standby_status', 'pgrepl_admin.check()',
	'pgrepl_admin.lag_history', 'pgrepl_admin.worker_status', 'pgrepl_admin.certificates')
{
	my ($rc, $out, $err) = $primary->psql('postgres', "SELECT count(*) FROM $object",
		extra_params => [ '-U', 'monitor' ]);
	is($rc, 0, "a pg_monitor member reads $object") or diag($err);
	($rc, $out, $err) = $primary->psql('postgres', "SELECT count(*) FROM $object",
		extra_params => [ '-U', 'plain' ]);
	like($err, qr/permission denied/, "a plain role is refused $object");
}
is($primary->safe_psql('postgres', "SELECT replay_lag_bytes IS NOT NULL OR status = 'disconnected' FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby1'", extra_params => [ '-U', 'monitor' ]),
	't', 'pg_monitor sees the numbers, not NULLs');

$primary->stop;
done_testing();
