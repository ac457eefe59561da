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
#     itself.

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

# --- the DBA's choice after s2 was made (its base backup holds ANY 1
# (s1)): s2 first, then s3 (registered, not streaming)
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['s2', 's3'], 2, 'first')");
is(sql('SELECT value FROM pgrepl_admin.synchronous_setting'), 'FIRST 2 (s2, s3)', 'the primary stores FIRST 2 (s2, s3)');
$primary->wait_for_catchup($s2, 'replay');
is($s2->safe_psql('postgres', "SELECT current_setting('synchronous_standby_names')"), '',
	'the standby s2 runs with no synchronous standby');
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

done_testing();
