# A promoted standby starts from the stored synchronous setting and never
# waits for itself, nor for a standby the setting names that is not
# registered (issue 27 item 1, issue 22 item 8):
#   - a standby keeps synchronous_standby_names at '' in its
#     postgresql.auto.conf, whatever its base backup copied;
#   - s1, cloned while the primary stored ANY 1 (s1), promoted: a commit on
#     it returns at once (a statement that would hang otherwise, under the
#     harness's timeout), the stored setting without s1 is '' and check()
#     says s1 is this server itself;
#   - s2, made before set_synchronous(ARRAY['s2', 's3'], 2, 'first') on
#     the primary, promoted: its setting comes from that stored value, less
#     itself; s3, the one member left, does not stream from s2 (nothing
#     does yet), so it is kept as pending (named once it streams) and ''
#     is in force: a real commit on s2, with the fallback off, returns;
#   - check() calls it an error when the value in force names the server
#     itself, and set_synchronous() refuses to name it;
#   - a marker that s2's promotion could not remove (its directory
#     read-only) holds nothing up: the fallback runs, the worker warns once
#     and removes it once it can;
#   - s4, promoted before its worker ever ran (no marker: the library
#     loaded only after the promotion), with the copied value naming
#     itself: its worker's first run on the primary computes the setting
#     all the same, before the fallback may act.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = tls_primary('primary', $root, "max_wal_senders = 12\nmax_replication_slots = 12\n");
$primary->safe_psql('postgres', 'CREATE TABLE t (n int PRIMARY KEY)');

sub sql { return $primary->safe_psql('postgres', $_[0]); }

# a standby provisioned with add_standby() and streaming over TLS
sub standby
{
	my ($name, $extra) = @_;
	my ($password, $slot, $conninfo) = split /\|/,
	  sql("SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32'"
		  . ($extra // '') . ')');
	return provisioned_standby($primary, $name,
		"$conninfo sslrootcert=$root password=$password application_name=$name", $slot);
}

# the synchronous row of check() on $node, as status|detail
sub check_sync
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT status || '|' || detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous'");
}

# a commit on $node: its value, or 'timed out' when it waits for ever
sub commit_on
{
	my ($node, $n) = @_;
	return commit_or_timeout($node, "INSERT INTO t VALUES ($n) RETURNING n");
}

# --- s1 is made while the primary stores ANY 1 (s1): its base backup holds
# that value in postgresql.auto.conf (set_synchronous() names a registered
# standby that does not stream yet: the DBA's explicit choice)
my ($password, $slot, $conninfo) = split /\|/,
  sql("SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('s1', '127.0.0.1/32')");
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['s1'], 1, 'any')");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'ANY 1 (s1)', 'the primary stores ANY 1 (s1)');
my $s1 = provisioned_standby($primary, 's1',
	"$conninfo sslrootcert=$root password=$password application_name=s1", $slot);
like(slurp_file($primary->backup_dir . '/s1_base/postgresql.auto.conf'),
	qr/^synchronous_standby_names = 'ANY 1 \(s1\)'$/m, "s1's base backup holds ANY 1 (s1)");
my $s2 = standby('s2');
sql("SELECT pgrepl_admin.add_standby('s3', '127.0.0.3/32')");
is(commit_on($primary, 1), '1', 'a commit on the primary returns: s1 streams');

ok($s1->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = ''"),
	'the standby keeps synchronous_standby_names at the empty string');
unlike(slurp_file($s1->data_dir . '/postgresql.auto.conf'), qr/^synchronous_standby_names = '.+'$/m,
	'and its postgresql.auto.conf holds no other value');
like(check_sync($s1), qr/^ok\|This server is a standby/, 'check() on the standby: ok');

# --- promote s1 while the primary stores ANY 1 (s1): a commit returns
$primary->wait_for_catchup($s1, 'replay');
$s1->promote;
is(commit_on($s1, 2), '2', 'promoted s1: a commit returns (it would wait for ever for s1 itself)');
ok($s1->poll_query_until('postgres', "SELECT num = 0 AND value = '' FROM pgrepl_admin.synchronous_setting"),
	"the promoted server's stored setting: ANY 1 (s1) less s1, nothing: off");
is(commit_on($s1, 3), '3', 'and commits keep returning');
like(check_sync($s1), qr/^warning\|.*set at promotion.*s1 is this server itself/,
	'check() says the setting was set at promotion, and why s1 was left out');
like(slurp_file($s1->logfile),
	qr/WARNING: .*synchronous_standby_names set to '' at promotion/,
	'the promotion logged the value it put in force');

# a value in force that names the server itself is an error in check()
$s1->safe_psql('postgres', "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (s1)'; SELECT pg_reload_conf()");
ok($s1->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') <> ''"), 'set by hand');
like(check_sync($s1), qr/^error\|.*s1 is this server itself/, 'check(): the value in force names this server: error');
$s1->safe_psql('postgres', "ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()");
my ($ret, $out, $err) = $s1->psql('postgres', "SELECT pgrepl_admin.set_synchronous(ARRAY['s1'], 1, 'any')");
isnt($ret, 0, 'set_synchronous() naming the server itself is refused');
like($err, qr/ERROR:  standby "s1" is this server itself\n.*DETAIL:  This server streamed as "s1"/s,
	'saying that it is this server, and why');
is($s1->safe_psql('postgres', 'SELECT num FROM pgrepl_admin.synchronous_setting'), '0', 'nothing stored');

# --- the DBA's choice after s2 was made (its base backup holds ANY 1
# (s1)): s2 first, then s3 (registered, not streaming)
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['s2', 's3'], 2, 'first')");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'FIRST 2 (s2, s3)', 'the primary stores FIRST 2 (s2, s3)');
$primary->wait_for_catchup($s2, 'replay');
is($s2->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"), '',
	'the standby s2 runs with no synchronous standby');
# the marker cannot be removed at the promotion's commit (its directory
# read-only for a while)
my $marker_dir = $s2->data_dir . '/pgrepl_admin';
ok(-e "$marker_dir/promotion_pending", 's2, a standby, has the promotion marker');
chmod(0500, $marker_dir) or die "chmod: $!";
my $s2_log = -s $s2->logfile;
$s2->promote;
$s2->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'no promotion';
# s3 does not stream from s2 (nothing does yet): the promoted server must not
# wait for it.  A real commit, with the fallback off (the default), under
# the harness's timeout: 'timed out' if it waited.
is($s2->safe_psql('postgres', "SHOW pgrepl_admin.synchronous_fallback_after"), '0', 'the fallback is off on s2');
ok($s2->poll_query_until('postgres',
		"SELECT pending::text = '{s3}' FROM pgrepl_admin.synchronous_setting"),
	'promoted s2 keeps s3, the member left, as pending: named once it streams from s2')
  or diag($s2->safe_psql('postgres', 'SELECT * FROM pgrepl_admin.synchronous_setting'));
is($s2->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"), '',
	'and runs with no synchronous standby until then');
is(commit_on($s2, 4), '4', 'a commit on promoted s2 returns: it does not wait for s3, which does not stream from it');
is($s2->safe_psql('postgres', 'SELECT standbys::text, num, value FROM pgrepl_admin.synchronous_setting'),
	'{}|0|', 'the stored setting is off until s3 streams');
like(check_sync($s2), qr/set at promotion.*s2 is this server itself.*s3.*pending/,
	'check() names what was dropped and why, and what is pending');
ok(-e "$marker_dir/promotion_pending", 'the marker could not be removed at the commit');
ok($s2->poll_query_until('postgres', "SELECT fallback_state = 'off' FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback worker does not wait for that marker: it runs (off here)')
  or diag($s2->safe_psql('postgres', 'SELECT fallback_state FROM pgrepl_admin.synchronous_fallback()'));
$s2->wait_for_log(qr/WARNING:  could not remove file ".*promotion_pending"/, $s2_log);
ok(1, 'the failed removal is a WARNING');
my $runs = $s2->safe_psql('postgres', "SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'sync_promotion'");
$s2->poll_query_until('postgres', "SELECT runs > $runs + 3 FROM pgrepl_admin.worker_status WHERE task = 'sync_promotion'")
  or die 'the task does not run';
my @warnings = slurp_file($s2->logfile, $s2_log) =~ /could not remove file/g;
is(scalar @warnings, 1, 'said once, not at each run of the task');
chmod(0700, $marker_dir) or die "chmod: $!";
$s2->wait_for_log(qr/LOG:  pgrepl_admin removed the marker of this server's promotion/, $s2_log);
ok(!-e "$marker_dir/promotion_pending", 'the worker removes the marker once it can, and says so');
# a restart of the worker on the promoted server changes nothing
my $note = $s2->safe_psql('postgres', 'SELECT note FROM pgrepl_admin.synchronous_setting');
$s2->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'");
$s2->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'")
  or die 'no worker';
$runs = $s2->safe_psql('postgres', "SELECT runs FROM pgrepl_admin.worker_status WHERE task = 'sync_promotion'");
$s2->poll_query_until('postgres', "SELECT runs > $runs + 2 FROM pgrepl_admin.worker_status WHERE task = 'sync_promotion'")
  or die 'the task does not run';
is($s2->safe_psql('postgres', 'SELECT note FROM pgrepl_admin.synchronous_setting'), $note,
	'a new worker on the promoted server leaves the stored setting alone');

# --- s4, promoted before its worker ever ran (pgrepl_admin loaded only
# after the promotion): no marker, and the value its base backup copied,
# ANY 1 (s4), in force on the primary it now is.  Its worker's first run
# computes the promotion's setting all the same, and the fallback (on, 1 s)
# waits for it.  (The primary's commits here are local: it still stores
# FIRST 2 (s2, s3), which are gone.)
my ($p4, $slot4, $ci4) = split /\|/,
  sql("SET synchronous_commit = local; SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('s4', '127.0.0.1/32')");
sql("SET synchronous_commit = local; SELECT pgrepl_admin.set_synchronous(ARRAY['s4'], 1, 'any')");
$primary->backup('s4_base');
my $s4 = PostgreSQL::Test::Cluster->new('s4');
$s4->init_from_backup($primary, 's4_base', has_streaming => 1);
$s4->append_conf('postgresql.conf',
	"primary_conninfo = '$ci4 sslrootcert=$root password=$p4 application_name=s4'\n"
	  . "primary_slot_name = '$slot4'\nshared_preload_libraries = ''\n"
	  . "pgrepl_admin.synchronous_fallback_after = '1s'\n");
# (the mode pgrepl_admin puts back at start, the copy having loosened it)
chmod(0600, $s4->data_dir . '/pgrepl_admin/server.pem') or die "chmod: $!";
$s4->start;
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 's4' AND state = 'streaming'")
  or die 's4 does not stream';
$primary->wait_for_catchup($s4, 'replay');
is($s4->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"), 'ANY 1 (s4)',
	's4, without its worker, runs with the value its base backup copied');
ok(!-e $s4->data_dir . '/pgrepl_admin/promotion_pending', 'and has no promotion marker');
$s4->promote;
$s4->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'no promotion';
$s4->append_conf('postgresql.conf', "shared_preload_libraries = 'pgrepl_admin'\n");
my $s4_log = -s $s4->logfile;
$s4->restart;
is(commit_on($s4, 6), '6', 'promoted s4, its worker started after the promotion: a commit returns (it named itself)');
ok($s4->poll_query_until('postgres', "SELECT num = 0 FROM pgrepl_admin.synchronous_setting"),
	'the stored setting less s4: off');
is($s4->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"), '',
	'no synchronous standby in force');
like(check_sync($s4), qr/set at promotion.*s4 is this server itself/,
	'check() says the setting was set at promotion, and why s4 was left out');
$s4->wait_for_log(qr/WARNING:  pgrepl_admin: synchronous_standby_names set to '' at promotion/, $s4_log);
ok(1, 'the log says so');
ok($s4->poll_query_until('postgres', "SELECT fallback_state = 'idle' FROM pgrepl_admin.synchronous_fallback()"),
	'the fallback runs after it, and finds nothing to watch');
unlike(slurp_file($s4->logfile, $s4_log), qr/have been missing|has been missing/,
	'the fallback never lowered the copied value itself');

done_testing();
