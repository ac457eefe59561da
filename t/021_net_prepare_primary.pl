# prepare_primary picks the right addresses (issue 16, item 2): a primary
# on a host of its own (network namespaces, t/PgreplNetns.pm) with two
# addresses on eth0 and, as the kernel gives it, an IPv6 link-local one.
# Started listening on localhost only, prepare_primary() recommends and
# applies listen_addresses with the host's addresses (never fe80::), and
# rotate_server_cert() with its defaults certifies them; a standby on
# another host then streams over verify-full dialing the primary by its
# address, and by a host name from the standby's own hosts file
# (/etc/netns/NS/hosts, which ip netns exec mounts over /etc/hosts), which
# the certificate names through pgrepl_admin.primary_host.  A host name the
# certificate does not name fails verify-full.  What the administrator set
# is never narrowed ('*', a chosen address), and on a host with nothing
# but loopback nothing changes.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Sys::Hostname;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use PgreplNetns;

my $net = PgreplNetns->new('prepaddr');
$net->add_host('primary', '198.51.100.1/24', '203.0.113.1/24');
$net->add_host('standby', '198.51.100.2/24');
$net->add_host('lonely');    # loopback only
$net->add_hosts_entry('standby', '198.51.100.1', 'primary.example');
$net->add_hosts_entry('standby', '198.51.100.1', 'other.example');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

# the kernel gives eth0 an IPv6 link-local address when IPv6 is on: then
# the checks that fe80:: is left out mean something
my (undef, $eth0_v6) = $net->run('primary', 'ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0');
my $link_local = $eth0_v6 =~ /inet6 fe80::/;
note($link_local ? 'eth0 has an IPv6 link-local address' : 'IPv6 is off: no link-local address to leave out');

# prepare_primary's listen_addresses row on $node, called with $args:
# ("current|recommended|needs_restart|applied", reason)
sub listen_row
{
	my ($node, $args) = @_;
	return split /\t/, $node->safe_psql('postgres',
		"SELECT concat_ws('|', current_value, recommended_value, needs_restart, applied) || E'\\t' || reason
		 FROM pgrepl_admin.prepare_primary($args) WHERE setting = 'listen_addresses'");
}

my $primary = $net->node('primary', 'primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pgrepl_admin'\n"
	  . "listen_addresses = 'localhost'\n"
	  . "pgrepl_admin.primary_host = 'primary.example'\n"
	  . "pgrepl_admin.hba_check_interval = 0\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
set_hba($primary);    # over TCP only the managed rules admit anyone

# --- the dry run recommends localhost and the host's addresses
my ($row, $reason) = listen_row($primary, '');
is($row, 'localhost|localhost,198.51.100.1,203.0.113.1|t|f',
	'dry run: listen on localhost and both addresses of eth0');
like($reason, qr/only on localhost.*other hosts cannot reach it/,
	'dry run: the reason says why');
SKIP:
{
	skip 'no IPv6 link-local address on eth0', 1 unless $link_local;
	unlike($row, qr/fe80/i, 'dry run: the link-local address is left out');
}

# --- the default certificate names them, and the host standbys dial
my $san = $primary->safe_psql('postgres', 'SELECT san FROM pgrepl_admin.rotate_server_cert()');
for my $name ('198.51.100.1', '203.0.113.1', 'primary.example', 'localhost', '127.0.0.1')
{
	like($san, qr/[{,]\Q$name\E[,}]/, "default certificate names $name");
}
unlike($san, qr/fe80/i, 'default certificate: no link-local address');
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

# --- apply writes it; after the restart the server listens there
is( $primary->safe_psql('postgres',
		"SELECT concat_ws('|', applied, needs_restart) FROM pgrepl_admin.prepare_primary(apply => true)
		 WHERE setting = 'listen_addresses'"),
	't|t', 'apply: listen_addresses written, for the next restart');
$primary->restart;
is($primary->safe_psql('postgres', 'SHOW listen_addresses'), 'localhost,198.51.100.1,203.0.113.1',
	'after the restart: the server runs with it');
($row, $reason) = listen_row($primary, 'apply => true');
is($row, 'localhost,198.51.100.1,203.0.113.1|localhost,198.51.100.1,203.0.113.1|f|f',
	'a second apply keeps it');

# --- a standby on its own host connects by the address, over verify-full
my ($password, $conninfo) = split /\|/, $primary->safe_psql('postgres',
	"SELECT password, primary_conninfo FROM pgrepl_admin.add_standby('standby', '198.51.100.2/32')");
like($conninfo, qr/^host=primary\.example port=\d+ user=standby .*sslmode=verify-full/,
	'add_standby: the standby dials primary_host');
my $passfile = "$tmp/pgpass";
write_private_file($passfile, "*:*:*:standby:$password\n");

# a replication connection from the standby's host to $host
sub replication_to
{
	my ($host) = @_;
	local $ENV{PGPASSFILE} = $passfile;
	return $net->psql('standby',
		"host=$host port=" . $primary->port . " user=standby dbname=replication replication=true"
		  . " sslmode=verify-full sslrootcert=$root connect_timeout=10",
		'IDENTIFY_SYSTEM');
}
my ($rc, $out, $err) = replication_to('198.51.100.1');
is($rc, 0, 'verify-full by address from 198.51.100.2') or diag $err;

$primary->backup('base');
my $standby = $net->node('standby', 'standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
(my $by_address = $conninfo) =~ s/host=primary\.example/host=198.51.100.1/;
$standby->append_conf('postgresql.conf',
	"primary_conninfo = '$by_address sslrootcert=$root passfile=$passfile'\n"
	  . "primary_slot_name = 'standby'\n");
# the primary's listen_addresses came with the backup (postgresql.auto.conf)
$standby->append_conf('postgresql.auto.conf', "listen_addresses = 'localhost'\n");
$standby->start;
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 WHERE r.application_name = 'standby' AND r.state = 'streaming' AND s.ssl
		   AND r.client_addr = '198.51.100.2'"),
	'the standby streams over TLS from 198.51.100.2');
is($standby->safe_psql('postgres', 'SELECT sender_host FROM pg_stat_wal_receiver'),
	'198.51.100.1', 'the standby dials 198.51.100.1');

# --- and by the host name its hosts file gives, as add_standby wrote it
($rc, $out, $err) = replication_to('primary.example');
is($rc, 0, 'verify-full by the name primary.example') or diag $err;
$standby->safe_psql('postgres',
	"ALTER SYSTEM SET primary_conninfo = '$conninfo sslrootcert=$root passfile=$passfile'");
$standby->reload;
ok( $standby->poll_query_until('postgres',
		"SELECT sender_host = 'primary.example' AND status = 'streaming' FROM pg_stat_wal_receiver"),
	'the standby streams from primary.example');
$primary->safe_psql('postgres', 'CREATE TABLE t AS SELECT 21 AS x');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT x FROM t'), '21', 'what the primary wrote is on the standby');

# --- a name the certificate does not hold fails verify-full
($rc, $out, $err) = replication_to('other.example');
isnt($rc, 0, 'verify-full by other.example fails');
like($err, qr/server certificate for "[^"]+" \(and \d+ other names?\) does not match host name "other\.example"/,
	'... because the certificate does not name it');

# --- what the administrator set is never narrowed
$primary->safe_psql('postgres', "ALTER SYSTEM SET listen_addresses = '198.51.100.1'");
$primary->restart;
($row, $reason) = listen_row($primary, 'apply => true');
is($row, '198.51.100.1|198.51.100.1|f|f', 'an address the administrator chose is kept');
like($reason, qr/203\.0\.113\.1/, '... and the reason names the address left out');
$primary->safe_psql('postgres', "ALTER SYSTEM SET listen_addresses = '*'");
$primary->restart;
($row, $reason) = listen_row($primary, 'apply => true');
is($row, '*|*|f|f', '* is kept');
like($reason, qr/every interface/, '... because it covers every interface');
($rc, $out, $err) = replication_to('198.51.100.1');
is($rc, 0, 'with *, verify-full by address still works') or diag $err;

# --- a host with loopback only: nothing to add, as before
my $lonely = $net->node('lonely', 'lonely');
$lonely->init;
$lonely->append_conf('postgresql.conf', "shared_preload_libraries = 'pgrepl_admin'\n"
	  . "listen_addresses = ''\n");
$lonely->start;
$lonely->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
($row, $reason) = listen_row($lonely, 'apply => true');
is($row, '||f|f', 'loopback only: listen_addresses kept empty, nothing written');
like($reason, qr/no network address but loopback/, '... and the reason says why');
is( $lonely->safe_psql('postgres',
		"SELECT count(*) FROM pg_file_settings WHERE name = 'listen_addresses' AND sourcefile LIKE '%auto.conf'"),
	'0', 'loopback only: postgresql.auto.conf has no listen_addresses');
my $host = hostname();
$san = $lonely->safe_psql('postgres',
	"SELECT array_to_string(array(SELECT n FROM unnest(san) n WHERE n <> '$host' ORDER BY n COLLATE \"C\"), ' ')
	 FROM pgrepl_admin.rotate_server_cert()");
like($san, qr/^127\.0\.0\.1 (::1 )?localhost$/, 'loopback only: the certificate names localhost and its addresses');
is( $lonely->safe_psql('postgres',
		"SELECT '$host' = ANY (san) FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	't', '... and the machine\'s host name');

done_testing();
