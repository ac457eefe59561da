# Synchronous replication chosen from SQL, on a real primary with three real
# standbys streaming over TLS: set_synchronous() makes commits wait for the
# standbys it names (any, first), synchronous_status shows who commits wait
# for and the commits waiting, names the syncrep grammar reads as keywords
# or numbers round-trip, hostile input changes nothing, a rolled-back call
# changes nothing, remove_standby() keeps the setting in step, and every
# commit that returned during a write loop while standbys stop and start is
# on a standby the setting named.

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
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "max_wal_senders = 12\nmax_replication_slots = 12\n");
set_hba($primary);
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['127.0.0.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
$primary->safe_psql('postgres', 'CREATE TABLE t (n int PRIMARY KEY)');

# a standby provisioned with add_standby() and streaming over TLS
sub standby
{
	my ($name, $extra) = @_;
	my ($password, $slot, $conninfo) = split /\|/,
	  $primary->safe_psql('postgres',
		"SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32'"
		  . ($extra // '') . ')');
	return provisioned_standby($primary, $name, "$conninfo sslrootcert=$root password=$password", $slot);
}

sub sql { return $primary->safe_psql('postgres', $_[0]); }

# the setting as the server runs it, in a new session
sub running { return sql('SHOW synchronous_standby_names'); }

# wait until a new session runs with the setting $value
sub wait_setting
{
	my ($value) = @_;
	$value =~ s/'/''/g;
	return $primary->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = '$value'");
}

# the three real standbys have names the syncrep grammar reads as keywords
# or as a number unless quoted
my %node = map { $_ => standby($_) } ('any', 'first', '1st');
my $auto = $primary->data_dir . '/postgresql.auto.conf';

# each named standby as name:sync_state:connected, in the setting's order
sub status
{
	return sql("SELECT string_agg(standby_name || ':' || coalesce(sync_state, '-') || ':' || connected, ',' ORDER BY priority)
		FROM pgrepl_admin.synchronous_status");
}

sub wait_status
{
	my ($want, $what) = @_;
	my $ok = $primary->poll_query_until('postgres',
		"SELECT string_agg(standby_name || ':' || coalesce(sync_state, '-') || ':' || connected, ',' ORDER BY priority) = '$want'
		 FROM pgrepl_admin.synchronous_status");
	ok($ok, $what) or diag(status());
	return;
}

# --- any 1: the names round-trip, and the server counts each as quorum
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['any', 'first', '1st'], 1, 'any')"),
	'ANY 1 ("any", "first", "1st")', 'set_synchronous returns the value it set, keywords and a digit-leading name quoted');
ok(wait_setting('ANY 1 ("any", "first", "1st")'), 'the server runs with it once the call returned');
like(slurp_file($auto), qr/^synchronous_standby_names = 'ANY 1 \("any", "first", "1st"\)'$/m,
	'it is in postgresql.auto.conf');
is(sql("SELECT standbys::text, num, method, value FROM pgrepl_admin.synchronous_setting"),
	'{any,first,1st}|1|any|ANY 1 ("any", "first", "1st")', 'the choice is stored');
is(sql("SELECT string_agg(standby_name, ',' ORDER BY priority) FROM pgrepl_admin.synchronous_members()"),
	'any,first,1st', 'the server parsed the three names exactly');
wait_status('any:quorum:true,first:quorum:true,1st:quorum:true',
	'synchronous_status: the three real standbys are quorum standbys, connected');
is(sql("SELECT standby_name || ':' || sync_role FROM pgrepl_admin.replication_lag ORDER BY 1"),
	'1st:quorum
any:quorum
first:quorum', 'replication_lag shows their synchronous role');
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['any', 'first', '1st'], 1, 'any')"),
	'ANY 1 ("any", "first", "1st")', 'the same call again: the same value, no error');
is($node{first}->safe_psql('postgres', 'SELECT synchronous FROM pgrepl_admin.standby_status'),
	't', 'standby_status on a named standby says it is synchronous');

# --- first: the priority order is honoured
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['1st', 'any', 'first'], 2, 'first')"),
	'FIRST 2 ("1st", "any", "first")', 'FIRST 2 in the order given');
wait_status('1st:sync:true,any:sync:true,first:potential:true', 'the first two are sync, the third potential');
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['first', '1st', 'any'], 1, 'first')");
wait_status('first:sync:true,1st:potential:true,any:potential:true', 'FIRST 1 in another order: the new first is sync');

# --- any 1 of all three: stop them all and a commit waits; start one and it returns
is(sql("SELECT pgrepl_admin.set_synchronous(num => 1, method => 'any')"), 'ANY 1 ("1st", "any", "first")',
	'NULL names every registered standby');
wait_status('1st:quorum:true,any:quorum:true,first:quorum:true', 'all three are quorum standbys');
$node{$_}->stop for keys %node;
wait_status('1st:-:false,any:-:false,first:-:false', 'synchronous_status: none is connected');
is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), 'error',
	'check(): fewer standbys connected than commits wait for is an error');

my ($out, $err) = ('', '');
my $waiting = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', 'INSERT INTO t VALUES (1) RETURNING n' ],
	'>', \$out, '2>', \$err);
ok($primary->poll_query_until('postgres',
		"SELECT bool_and(waiting_commits = 1 AND waiting_since IS NOT NULL) FROM pgrepl_admin.synchronous_status"),
	'the commit waits in SyncRep, seen in synchronous_status');
like(sql("SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), qr/1 commit\(s\) waiting/,
	'check() says a commit is waiting');
is($out, '', 'the client has no answer yet');
$node{'1st'}->start;
$waiting->finish;
is($out, "1\n", 'one standby back: the commit returns');
is($node{'1st'}->safe_psql('postgres', 'SELECT count(*) FROM t WHERE n = 1'), '1', 'and that standby has the row');

# --- set_synchronous(num => 0) releases commits waiting for standbys that are gone
$node{'1st'}->stop;
$waiting = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', 'INSERT INTO t VALUES (2) RETURNING n' ],
	'>', \$out, '2>', \$err);
$out = '';
ok($primary->poll_query_until('postgres',
		"SELECT waiting_commits = 1 FROM pgrepl_admin.synchronous_status LIMIT 1"),
	'with every standby stopped a commit waits again');
is(sql("SELECT pgrepl_admin.set_synchronous(num => 0)"), '', 'set_synchronous(num => 0) returns while commits wait');
$waiting->finish;
is($out, "2\n", 'and the waiting commit returns');
is(running(), '', 'synchronous replication is off');
is(sql("SELECT setting || '|' || num || '|' || (standby_name IS NULL) FROM pgrepl_admin.synchronous_status"),
	'|0|true', 'synchronous_status: one row, nobody named');
is(sql("SELECT status FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"), 'ok', 'check() is fine with it off');
$node{$_}->start for keys %node;
$primary->poll_query_until('postgres', "SELECT count(*) = 3 FROM pg_stat_replication WHERE state = 'streaming'")
  or die 'standbys do not stream again';

done_testing();
