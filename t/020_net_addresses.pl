# Addresses checked for real (issue 16, item 1): a primary and its standbys
# on hosts of their own (network namespaces, t/PgreplNetns.pm).  A standby
# provisioned for 198.51.100.2/32 streams over verify-full TLS; the same
# role from 198.51.100.3 is refused by pg_hba.conf; a standby provisioned
# for a /29 admits the hosts of that range and no other; hba_remove cuts
# off new connections from that address while a running walsender goes on
# until the DBA ends it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use PgreplNetns;

my $net = PgreplNetns->new('addr');
$net->add_host('primary', '198.51.100.1/24');
$net->add_host('s2', '198.51.100.2/24');
$net->add_host('s3', '198.51.100.3/24');
$net->add_host('r9', '198.51.100.9/24');
$net->add_host('r14', '198.51.100.14/24');
$net->add_host('r17', '198.51.100.17/24');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = $net->node('primary', 'primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pgrepl_admin'\n"
	  . "listen_addresses = '198.51.100.1'\n"
	  . "pgrepl_admin.primary_host = '198.51.100.1'\n"
	  . "pgrepl_admin.hba_check_interval = 0\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
set_hba($primary);    # over TCP only the managed rules admit anyone
$primary->safe_psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['198.51.100.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

# add_standby's password and conninfo for standby $name at $address
sub provision
{
	my ($name, $address) = @_;
	my ($password, $conninfo) = split /\|/, $primary->safe_psql('postgres',
		"SELECT password, primary_conninfo FROM pgrepl_admin.add_standby('$name', '$address')");
	return ($password, $conninfo);
}

# a replication connection made from $host as $role; returns (exit status,
# stderr)
sub replication_from
{
	my ($host, $role, $password) = @_;
	my $passfile = "$tmp/pgpass_$role";
	write_private_file($passfile, "*:*:*:$role:$password\n");
	local $ENV{PGPASSFILE} = $passfile;
	my ($rc, $out, $err) = $net->psql($host,
		"host=198.51.100.1 port=" . $primary->port . " user=$role dbname=replication replication=true"
		  . " sslmode=verify-full sslrootcert=$root connect_timeout=10",
		'IDENTIFY_SYSTEM');
	return ($rc, $err);
}

# --- a standby on its own host streams over verify-full from its address
my ($pw2, $conninfo2) = provision('s2', '198.51.100.2/32');
like($conninfo2, qr/^host=198\.51\.100\.1 port=\d+ user=s2 .*sslmode=verify-full/,
	'the conninfo dials the primary by its address');
$primary->backup('s2_base');
my $s2 = $net->node('s2', 's2');
$s2->init_from_backup($primary, 's2_base', has_streaming => 1);
write_private_file("$tmp/pgpass_s2_standby", "*:*:*:s2:$pw2\n");
$s2->append_conf('postgresql.conf',
	"primary_conninfo = '$conninfo2 sslrootcert=$root passfile=$tmp/pgpass_s2_standby'\n"
	  . "primary_slot_name = 's2'\nlisten_addresses = '198.51.100.2'\n");
$s2->start;
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 WHERE r.application_name = 's2' AND r.state = 'streaming' AND s.ssl
		   AND r.client_addr = '198.51.100.2'"),
	's2 streams over TLS from 198.51.100.2');
$primary->safe_psql('postgres', 'CREATE TABLE t AS SELECT 1 AS x');
$primary->wait_for_catchup($s2, 'replay', $primary->lsn('insert'));
is($s2->safe_psql('postgres', 'SELECT x FROM t'), '1', 'what the primary wrote is on s2');
is( $primary->safe_psql('postgres',
		"SELECT client_addr, state FROM pgrepl_admin.replication_lag WHERE standby_name = 's2'"),
	'198.51.100.2|streaming',
	'replication_lag shows s2 at its own address');

# --- the same role from another host is refused by pg_hba.conf
my ($rc, $err) = replication_from('s2', 's2', $pw2);
is($rc, 0, 's2 admitted from 198.51.100.2') or diag $err;
($rc, $err) = replication_from('s3', 's2', $pw2);
isnt($rc, 0, 's2 refused from 198.51.100.3');
like($err, qr/no pg_hba\.conf entry for replication connection from host "198\.51\.100\.3", user "s2"/,
	'refused by pg_hba.conf, not by the password');

# --- a /29 admits its hosts and no other
my ($pw8) = provision('range8', '198.51.100.8/29');
for my $host ('r9', 'r14')
{
	($rc, $err) = replication_from($host, 'range8', $pw8);
	is($rc, 0, "range8 admitted from " . $net->address($host) . " (in 198.51.100.8/29)") or diag $err;
}
for my $host ('r17', 'primary')
{
	($rc, $err) = replication_from($host, 'range8', $pw8);
	like($err, qr/no pg_hba\.conf entry/, "range8 refused from " . $net->address($host));
}

# --- hba_remove cuts off new connections from 198.51.100.3; a walsender
# started before goes on until the DBA ends it
my $pw_carol = $primary->safe_psql('postgres', "SELECT pgrepl_admin.create_replication_role('carol')");
my $rule = $primary->safe_psql('postgres', "SELECT pgrepl_admin.hba_add('198.51.100.3/32', 'carol')");
write_private_file("$tmp/pgpass_carol", "*:*:*:carol:$pw_carol\n");
my $waldir = "$tmp/carol_wal";
mkdir $waldir or die $!;
my ($rx_out, $rx_err) = ('', '');
my $receiver = do
{
	local $ENV{PGPASSFILE} = "$tmp/pgpass_carol";
	$net->start('s3', \$rx_out, \$rx_err, 'pg_receivewal', '--no-loop', '-D', $waldir, '-d',
		"host=198.51.100.1 port=" . $primary->port
		  . " user=carol sslmode=verify-full sslrootcert=$root application_name=carol");
};
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication
		 WHERE application_name = 'carol' AND client_addr = '198.51.100.3' AND state = 'streaming'"),
	'a WAL receiver streams as carol from 198.51.100.3');
$primary->safe_psql('postgres', "SELECT pgrepl_admin.hba_remove($rule)");
($rc, $err) = replication_from('s3', 'carol', $pw_carol);
like($err, qr/no pg_hba\.conf entry for replication connection from host "198\.51\.100\.3", user "carol"/,
	'after hba_remove a new connection from 198.51.100.3 is refused');
is( $primary->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_replication WHERE application_name = 'carol' AND state = 'streaming'"),
	'1', 'the walsender started before hba_remove still streams');
$primary->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'carol'");
$receiver->finish;
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_replication WHERE application_name = 'carol'"),
	'once the DBA ends it, carol is gone');
($rc, $err) = replication_from('s3', 'carol', $pw_carol);
isnt($rc, 0, 'and cannot come back');

# nothing here reaches beyond the network: the hosts have no default route
my ($route_rc, $routes) = $net->run('s2', 'ip', 'route', 'show', 'default');
is($routes, '', 'the hosts have no default route');

done_testing();
