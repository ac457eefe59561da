# A failover on real hosts (issue 16, item 5): a primary and two standbys
# on hosts of their own (network namespaces, t/PgreplNetns.pm), with
# pgrepl_admin.hba_check_interval at 1 hour everywhere.  The second standby
# is provisioned on the primary after the first was cloned, so only the
# first standby's following of replayed rule changes puts its rule into the
# first standby's pg_hba.conf.  The primary's host then drops off the
# network; the first standby is promoted on its own host, and as soon as
# pg_promote() returns it admits the second standby from that standby's
# address; its maintenance worker starts the primary-only tasks; its
# managed block is the old primary's; and the second standby, re-pointed
# by primary_conninfo with the new primary's address, streams from it over
# verify-full with the certificate the new primary serves.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use PgreplNetns;

my $net = PgreplNetns->new('hbafover');
$net->add_host('primary', '198.51.100.1/24');
$net->add_host('s1', '198.51.100.2/24');
$net->add_host('s2', '198.51.100.3/24');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', node => $net->node('primary', 'primary'),
	conf => "listen_addresses = '198.51.100.1'\n"
	  . "pgrepl_admin.primary_host = '198.51.100.1'\n"
	  . "pgrepl_admin.hba_check_interval = '1h'\n");
set_hba($primary);    # over TCP only the managed rules admit anyone
# the certificate names the primary and the standby that may take over
$primary->safe_psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['198.51.100.1', '198.51.100.2'], '365 days')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

# a standby $name on its own host, provisioned with add_standby() and
# cloned from the primary, streaming from its address; returns the node and
# its primary_conninfo
sub standby_on_host
{
	my ($name) = @_;
	my $address = $net->address($name);
	my ($password, $conninfo) = split /\|/, $primary->safe_psql('postgres',
		"SELECT password, primary_conninfo FROM pgrepl_admin.add_standby('$name', '$address/32')");
	write_private_file("$tmp/pgpass_$name", "*:*:*:$name:$password\n");
	$conninfo .= " sslrootcert=$root passfile=$tmp/pgpass_$name";
	$primary->backup("${name}_base");
	my $node = $net->node($name, $name);
	$node->init_from_backup($primary, "${name}_base", has_streaming => 1);
	$node->append_conf('postgresql.conf',
		"primary_conninfo = '$conninfo'\nprimary_slot_name = '$name'\nlisten_addresses = '$address'\n");
	$node->start;
	ok( $primary->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
			 WHERE r.application_name = '$name' AND r.state = 'streaming' AND s.ssl
			   AND r.client_addr = '$address'"),
		"$name streams over TLS from $address");
	return ($node, $conninfo);
}

# the managed block of a node's pg_hba.conf
sub managed_block
{
	my ($node) = @_;
	my ($block) = slurp_file($node->data_dir . '/pg_hba.conf') =~
	  /(# BEGIN pgrepl_admin managed block.*# END pgrepl_admin managed block\n)/s;
	return $block // '';
}

my ($s1) = standby_on_host('s1');
my ($s2, $s2_conninfo) = standby_on_host('s2');
like(managed_block($primary), qr/"s2" "198\.51\.100\.3\/32"/, "the primary's block has s2's rule");

# s2's rule came to s1 by replay only: s1 was cloned before it existed
$primary->wait_for_catchup($s1, 'replay', $primary->lsn('insert'));
ok( $s1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_hba_file_rules
		 WHERE 's2' = ANY(user_name) AND address = '198.51.100.3' AND error IS NULL", 't'),
	"s1's own pg_hba.conf has s2's rule, replayed");

# --- the primary's host drops off the network; s1 is promoted on its host
$net->link('primary', 'down');
is($s1->safe_psql('postgres', 'SELECT pg_promote(wait => true)'), 't', 's1 is promoted');

# from s2's host, at once: admitted by s1's pg_hba.conf over verify-full
my ($rc, $out, $err) = do
{
	local $ENV{PGPASSFILE} = "$tmp/pgpass_s2";
	$net->psql('s2',
		'host=198.51.100.2 port=' . $s1->port . ' user=s2 dbname=replication replication=true'
		  . " sslmode=verify-full sslrootcert=$root connect_timeout=10",
		'IDENTIFY_SYSTEM');
};
is($rc, 0, 'right after pg_promote() returns, s1 admits s2 from 198.51.100.3 over verify-full')
  or diag $err;

# the worker there takes up the primary-only tasks, and renders the same rules
ok( $s1->poll_query_until('postgres',
		"SELECT bool_and(state = 'scheduled' AND runs > 0)
		 FROM pgrepl_admin.worker_status WHERE task IN ('lag_sample', 'cert_renew', 'backup_history_prune', 'hba_sync')"),
	"s1's worker runs the primary-only tasks");
is(managed_block($s1), managed_block($primary), "s1's managed block is the old primary's");

# --- s2 is re-pointed to s1's address; its slot is recreated as the runbook says
$s1->safe_psql('postgres', q{
	SELECT s.slot_name, pg_create_physical_replication_slot(s.slot_name, true)
	FROM pgrepl_admin.standbys s
	WHERE s.slot_name IS NOT NULL
	  AND NOT EXISTS (SELECT FROM pg_replication_slots r WHERE r.slot_name = s.slot_name)});
(my $to_s1 = $s2_conninfo) =~ s/host=198\.51\.100\.1 port=\d+/'host=198.51.100.2 port=' . $s1->port/e
  or die "unexpected conninfo $s2_conninfo";
$s2->safe_psql('postgres', "ALTER SYSTEM SET primary_conninfo = '$to_s1'");
$s2->reload;
ok( $s1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 JOIN pg_replication_slots sl ON sl.active_pid = r.pid
		 WHERE r.application_name = 's2' AND r.state = 'streaming' AND s.ssl
		   AND r.client_addr = '198.51.100.3' AND sl.slot_name = 's2'"),
	's2 streams from s1 over TLS, from 198.51.100.3, through its slot');
like($s2->safe_psql('postgres', 'SELECT conninfo FROM pg_stat_wal_receiver'),
	qr/host=198\.51\.100\.2 .*sslmode=verify-full/, "s2's walreceiver dials s1's address with verify-full");
is($s1->safe_psql('postgres',
		"SELECT served AND array_to_string(san, ',') LIKE '%198.51.100.2%' FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	't', 's1 serves the managed certificate, which names its address');
$s1->safe_psql('postgres', 'CREATE TABLE after_failover AS SELECT 42 AS answer');
$s1->wait_for_catchup($s2, 'replay', $s1->lsn('insert'));
is($s2->safe_psql('postgres', 'SELECT answer FROM after_failover'), '42', 'what s1 writes reaches s2');

done_testing();
