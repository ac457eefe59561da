# Partitions and slow links between hosts of their own (issue 16, item 4).
# On a link shaped to 16 Mbit/s, pgrepl_clone_standby over ssh still makes
# a streaming standby, and its copy took at least as long as the data
# needs at that rate.  That standby's link cut for longer than
# wal_sender_timeout: replication_lag calls it disconnected, its slot's
# retained bytes grow while the primary writes, lag_history records it,
# the maintenance worker logs one WARNING; the link back, the standby
# reconnects by itself and streams again with zero lag, and the worker logs
# one LOG line (and its first connection, after the clone, is not called a
# return).  A partition in the middle of a clone: the command fails within
# its --io-timeout instead of hanging, says the primary could not be
# reached to abort the backup, and leaves a target that says it is not
# usable and that PostgreSQL refuses to start; with the link still down,
# the backup's lease (3 x --io-timeout, which the command no longer
# extends) runs out and the primary ends and records the backup by itself;
# once the link is back, a re-run finishes the standby.

use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use PgreplNetClone;

# (full_page_writes = off makes backup mode visible: only a running backup
# then forces full-page images, which in_backup_mode looks for)
my $pair = PgreplNetClone->new('part',
	conf => "wal_sender_timeout = '5s'\npgrepl_admin.lag_sample_interval = 1\nfull_page_writes = off\n");
my ($net, $primary, $tmp) = @$pair{qw(net primary tmp)};
$primary->safe_psql('postgres', q{
	CREATE TABLE probe AS SELECT g AS n FROM generate_series(1, 2000) g;
	CREATE TABLE accounts (id bigserial PRIMARY KEY, val text NOT NULL);
	INSERT INTO accounts (val) SELECT md5(g::text) FROM generate_series(1, 10000) g;
	CHECKPOINT;
});
# what the standbys are started with: they notice a dead link within 5 s
# too, and report their position every second
my @standby_settings = ('--set' => 'wal_receiver_timeout=5s', '--set' => 'wal_receiver_status_interval=1s');

# bytes($dir): the size of the files under $dir
sub bytes
{
	my ($dir) = @_;
	my $total = 0;
	find({ wanted => sub { $total += -s $_ if -f $_ }, no_chdir => 1 }, $dir) if -d $dir;
	return $total;
}

# seconds_between($out, $from, $to): seconds from the clone's step $from to
# its step $to, by the times it prints for them
sub seconds_between
{
	my ($out, $from, $to) = @_;
	my @at = map
	{
		my ($h, $m, $s) = $out =~ /^\[(\d\d):(\d\d):(\d\d)\] $_\/6 /m or die "no step $_ in the output";
		$h * 3600 + $m * 60 + $s
	} ($from, $to);
	return ($at[1] - $at[0]) % 86400;
}

# --- a clone over a slow link
my $s1 = $pair->standby_node('s1');
$net->shape('standby', '16mbit');
my $base_bytes = bytes($primary->data_dir . '/base');
my ($rc, $out, $err) = $pair->run_clone($s1, '--start', @standby_settings);
is($rc, 0, 'a clone over a link shaped to 16 Mbit/s succeeds');
$s1->_update_pid(1);
ok($primary->poll_query_until('postgres', PgreplNetClone::streams_from_own_address($s1)),
	'and the standby streams over TLS from 198.51.100.2');
my $copy_seconds = seconds_between($out, 3, 4);
my $least = int($base_bytes * 8 / 16_000_000);
note("copy took ${copy_seconds}s for $base_bytes bytes of base/ alone; at 16 Mbit/s at least ${least}s");
# (the shaper cannot pass more than its rate: a lower bound, not a guess)
cmp_ok($copy_seconds + 1, '>=', $least, 'the copy took at least as long as 16 Mbit/s allow');
$net->shape('standby', 'off');
# a freshly cloned standby was registered (disconnected) before it ever
# connected: its first connection is no return
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pgrepl_admin.lag_history WHERE standby_name = 's1' AND status <> 'disconnected'"),
	'lag_history has seen s1 connected');
$primary->wait_for_log(qr/LOG:  standby "s1" is .*no longer disconnected/);
my @first = grep { /LOG:  standby "s1" .*no longer disconnected/ } split /\n/, slurp_file($primary->logfile);
note("the worker logged:\n" . join("\n", @first));
is(scalar(@first), 1, 'the worker logged s1\'s first connection once');
unlike($first[0] // '', qr/again/, 'and does not call it a return ("again")');

# --- the standby's link cut for longer than wal_sender_timeout
ok( $primary->poll_query_until('postgres',
		"SELECT status = 'streaming' AND replay_lag_bytes = 0 FROM pgrepl_admin.replication_lag WHERE standby_name = 's1'"),
	'before the partition: s1 streams with zero lag');
my $retained_before = $primary->safe_psql('postgres',
	"SELECT slot_retained_bytes FROM pgrepl_admin.replication_lag WHERE standby_name = 's1'");
my $log_offset = -s $primary->logfile;
my $history_before = $primary->safe_psql('postgres', 'SELECT max(sampled_at) FROM pgrepl_admin.lag_history');
$net->link('standby', 'down');
$primary->safe_psql('postgres',
	"INSERT INTO accounts (val) SELECT repeat(md5(g::text), 8) FROM generate_series(1, 5000) g");
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_replication WHERE application_name = 's1'"),
	'past wal_sender_timeout the primary has no walsender for s1');
ok( $primary->poll_query_until('postgres',
		"SELECT status = 'disconnected' AND slot_retained_bytes > $retained_before + 1000000
		 FROM pgrepl_admin.replication_lag WHERE standby_name = 's1'"),
	'replication_lag: s1 disconnected, its slot retaining the megabytes written meanwhile');
# the state held for a few samples, so that a line logged per sample shows
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) >= 3 FROM pgrepl_admin.lag_history
		 WHERE standby_name = 's1' AND status = 'disconnected' AND sampled_at > '$history_before'"),
	'lag_history records s1 disconnected, sample after sample');
$primary->wait_for_log(qr/WARNING:  standby "s1" is disconnected/, $log_offset);
is( $primary->safe_psql('postgres',
		"SELECT max(slot_retained_bytes) > $retained_before + 1000000 FROM pgrepl_admin.lag_history
		 WHERE standby_name = 's1' AND status = 'disconnected' AND sampled_at > '$history_before'"),
	't', 'lag_history has the growing retention of the disconnected slot');

# --- the link back: s1 reconnects by itself
$net->link('standby', 'up');
ok( $primary->poll_query_until('postgres', PgreplNetClone::streams_from_own_address($s1)),
	'link back: s1 reconnects by itself over TLS from 198.51.100.2');
my $back_at = $primary->safe_psql('postgres', 'SELECT now()');
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) >= 3 FROM pgrepl_admin.lag_history
		 WHERE standby_name = 's1' AND status = 'streaming' AND sampled_at > '$back_at'"),
	'lag_history records s1 streaming again, sample after sample');
$primary->wait_for_log(qr/LOG:  standby "s1" .*no longer disconnected/, $log_offset);
my @lines = grep { /standby "s1"/ } split /\n/, substr(slurp_file($primary->logfile), $log_offset);
note("the worker logged:\n" . join("\n", @lines));
is(scalar(grep { /WARNING:  standby "s1" is/ } @lines), 1, 'the worker logged one WARNING for the partition');
like((grep { /WARNING:  standby "s1" is/ } @lines)[0] // '', qr/is disconnected/, 'that it is disconnected');
is(scalar(grep { /LOG:  standby "s1" .*no longer/ } @lines), 1, 'and one LOG line for its return');
# samples write WAL every second: with them off, the standby's position
# reaches the primary's
$primary->append_conf('postgresql.conf', "pgrepl_admin.lag_sample_interval = 0\n");
$primary->reload;
ok( $primary->poll_query_until('postgres',
		"SELECT status = 'streaming' AND replay_lag_bytes = 0 FROM pgrepl_admin.replication_lag WHERE standby_name = 's1'"),
	'replication_lag: s1 streaming with zero lag');
is(PgreplNetClone::digest($s1, 'accounts'), PgreplNetClone::digest($primary, 'accounts'),
	's1 has what the primary wrote during the partition');

# --- a partition in the middle of a clone
my $s2 = $pair->standby_node('s2');
my $target = $s2->data_dir;
$net->shape('standby', '16mbit');
($out, $err) = ('', '');
my $h = do
{
	local $ENV{PGCONNECT_TIMEOUT} = 5;
	$pair->start_clone($s2, \$out, \$err, '--io-timeout' => 5, '--start', @standby_settings);
};
# the copy under way: a few megabytes in the target, and the backup's lease
# (15 s from backup_start) renewed at least once
my $renewed = "SELECT count(*) = 1 FROM pgrepl_admin.backups
	WHERE label LIKE 'pgrepl_clone_standby s2 %' AND state = 'running'
	  AND expires_at > started_at + interval '15 seconds'";
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while ($h->pumpable
	&& (bytes($target) < 4_000_000 || $primary->safe_psql('postgres', $renewed) ne 't')
	&& time < $deadline)
{
	$h->pump_nb;
	select(undef, undef, undef, 0.1);    # the next look
}
cmp_ok(bytes($target), '>=', 4_000_000, 'the clone of s2 is copying');
is($primary->safe_psql('postgres', $renewed), 't', 'and renews its backup\'s lease (3 x --io-timeout) meanwhile');
my $cut_at = $primary->safe_psql('postgres', 'SELECT now()');
$net->link('standby', 'down');
$h->finish;
$rc = $? >> 8;
note("pgrepl_clone_standby exit status $rc; stdout:\n$out\nstderr:\n$err");
is($rc, 1, 'a partition in the middle of the copy fails the clone (it does not hang)');
# rsync's own --timeout or ssh's ServerAliveInterval, whichever ends first
like($err,
	qr/rsync failed with exit code \d+: (no data moved for 5 s \(--io-timeout\)|the connection to the source broke)/,
	'it says the copy stopped');
like($err, qr/Timeout, server 198\.51\.100\.1 not responding|timeout in data send\/receive/i,
	'because the other end stopped answering');
like($err, qr/could not abort it \(the primary does not answer\)/,
	'it says the primary could not be reached to abort the backup');
like($err, qr/the standby in \S+ is not usable/, 'and that the target is not usable');
like(slurp_file("$target/pgrepl_clone_standby.incomplete"), qr/not a usable standby/,
	'the target says so itself');
ok(!-e "$target/PG_VERSION", 'it has no PG_VERSION');
my ($try_rc, $try_out, $try_err) =
  $net->run('standby', 'pg_ctl', '-D', $target, '-l', "$tmp/s2_try.log", '-w', '-t', '60', 'start');
isnt($try_rc, 0, 'pg_ctl refuses to start it');
like($try_out . $try_err, qr/is not a database cluster directory/, 'it is no database cluster directory');

# --- the link still down: the primary ends the backup by itself once its
# lease (3 x --io-timeout = 15 s after the last extension, at the latest
# when the link went down) runs out
ok( $primary->poll_query_until('postgres',
		"SELECT state <> 'running' FROM pgrepl_admin.backups WHERE label LIKE 'pgrepl_clone_standby s2 %'"),
	'with the link still down, the backup of the failed clone ends on the primary by itself');
like( $primary->safe_psql('postgres',
		"SELECT state || ': ' || error FROM pgrepl_admin.backups WHERE label LIKE 'pgrepl_clone_standby s2 %'"),
	qr/^aborted: not stopped before its time-out expired at /, 'the backups view says its lease expired');
is( $primary->safe_psql('postgres',
		"SELECT state FROM pgrepl_admin.backup_history WHERE label LIKE 'pgrepl_clone_standby s2 %'"),
	'aborted', 'backup_history records it aborted');
is( $primary->safe_psql('postgres',
		"SELECT stopped_at < '$cut_at'::timestamptz + interval '25 seconds' FROM pgrepl_admin.backups
		 WHERE label LIKE 'pgrepl_clone_standby s2 %'"),
	't', 'within 3 x --io-timeout of the cut (plus a few seconds), not at --backup-timeout');
is(in_backup_mode($primary), 0, 'the server left backup mode');

# --- the link back: a re-run finishes the standby
$net->link('standby', 'up');
$net->shape('standby', 'off');
($rc, $out, $err) = $pair->run_clone($s2, '--io-timeout' => 5, '--start', @standby_settings);
is($rc, 0, 'link back: the re-run succeeds');
unlike($out, qr/left running by an earlier run/, 'it found no backup left running to abort');
like($out, qr/keeping the password of the existing copy/,
	'with the password the failed run kept in the target');
like($out, qr/update of an existing copy/, 'it completed the partial copy');
$s2->_update_pid(1);
is( $primary->safe_psql('postgres',
		"SELECT string_agg(state, ',' ORDER BY id) FROM pgrepl_admin.backup_history WHERE label LIKE 'pgrepl_clone_standby s2 %'"),
	'aborted,stopped', 'backup_history records the failed run\'s backup aborted, the re-run\'s stopped');
ok($primary->poll_query_until('postgres', PgreplNetClone::streams_from_own_address($s2)),
	's2 streams over TLS from 198.51.100.2');
ok(!-e "$target/pgrepl_clone_standby.incomplete" && -f "$target/PG_VERSION",
	'the target no longer says it is incomplete, and has its PG_VERSION');
$primary->wait_for_catchup($s2, 'replay');
is(PgreplNetClone::digest($s2, 'accounts'), PgreplNetClone::digest($primary, 'accounts'),
	's2 has the primary\'s data');
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running', 'stopping')"),
	'0', 'no backup is left running on the primary');

done_testing();
