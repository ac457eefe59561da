# PgreplNetClone: a primary and a standby host of their own (network
# namespaces, t/PgreplNetns.pm), for the tests of pgrepl_clone_standby over
# ssh: the primary serves TLS with pgrepl_admin's certificates on
# 198.51.100.1 and admits its superuser from the standby host
# (198.51.100.2) only over TLS with a password, which the clone reads from
# a passfile (PGPASSFILE); a real sshd runs on the primary's host.
#
#	my $pair = PgreplNetClone->new('clone');
#	my $node = $pair->standby_node('s1');	# its data directory: the target
#	my $h = $pair->start_clone($node, \$out, \$err, '--start');	# on the standby host
#	my ($rc, $out, $err) = $pair->run_clone($node, '--start');

package PgreplNetClone;

use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgreplAdminTest;
use PgreplNetns;

our $SCRIPT = "$FindBin::RealBin/../scripts/pgrepl_clone_standby";

# new($network, %opts): the network, the primary (started, with the
# extension and a server certificate for 198.51.100.1) and its sshd.  $opts{conf}: more postgresql.conf lines
# for the primary.
sub new
{
	my ($class, $network, %opts) = @_;
	my $net = PgreplNetns->new($network);
	$net->add_host('primary', '198.51.100.1/24');
	$net->add_host('standby', '198.51.100.2/24');
	my $tmp = PostgreSQL::Test::Utils::tempdir;

	my $primary = $net->node('primary', 'primary');
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pgrepl_admin'\n"
		  . "listen_addresses = '198.51.100.1'\n"
		  . "pgrepl_admin.primary_host = '198.51.100.1'\n"
		  . "pgrepl_admin.hba_check_interval = 0\n"
		  . ($opts{conf} // ''));
	$primary->start;
	$primary->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
	# over TCP: the superuser from the standby host with its password, and
	# the rules add_standby writes
	set_hba($primary, 'hostssl postgres postgres 198.51.100.2/32 scram-sha-256');
	my $superuser_password = join('', map { ('a' .. 'z', 0 .. 9)[ rand 36 ] } 1 .. 24);
	$primary->safe_psql('postgres',
		"SET log_statement = 'none'; ALTER ROLE postgres PASSWORD '$superuser_password'");
	$primary->safe_psql('postgres',
		"SELECT pgrepl_admin.rotate_server_cert(ARRAY['198.51.100.1'], '1 day')");
	my $root = "$tmp/root.crt";
	write_private_file($root,
		$primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
	my $passfile = "$tmp/pgpass_superuser";
	write_private_file($passfile, "198.51.100.1:*:*:postgres:$superuser_password\n");

	return bless {
		net => $net,
		tmp => $tmp,
		primary => $primary,
		ssh => $net->start_sshd('primary'),
		passfile => $passfile,
		superuser_password => $superuser_password,
		primary_connstr => "host=198.51.100.1 port=" . $primary->port
		  . " dbname=postgres user=postgres sslmode=verify-full sslrootcert=$root",
	}, $class;
}

# standby_node($name): a node on the standby host, not initialized: the
# clone makes its data directory and starts it
sub standby_node
{
	my ($self, $name) = @_;
	return $self->{net}->node('standby', $name);
}

# clone_command($standby, @extra): pgrepl_clone_standby of a standby named
# as node $standby into its data directory, copied over ssh from the
# primary's host.
sub clone_command
{
	my ($self, $standby, @extra) = @_;
	return (
		$SCRIPT,
		'--primary' => $self->{primary_connstr},
		'--source' => 'postgres@198.51.100.1:' . $self->{primary}->data_dir,
		'--ssh' => $self->{ssh},
		'--target' => $standby->data_dir,
		'--name' => $standby->name,
		'--address' => '198.51.100.2/32',
		'--set' => 'port=' . $standby->port,
		'--set' => 'unix_socket_directories=' . $standby->host,
		'--set' => 'listen_addresses=198.51.100.2',
		'--log' => $standby->logfile,
		'--wait' => 180,
		@extra);
}

# start_clone($standby, \$out, \$err, @extra): the clone started on the
# standby's host; its password for the primary comes from PGPASSFILE.
# Returns its IPC::Run harness.
sub start_clone
{
	my ($self, $standby, $out, $err, @extra) = @_;
	local $ENV{PGPASSFILE} = $self->{passfile};
	return $self->{net}->start('standby', $out, $err, $self->clone_command($standby, @extra));
}

# run_clone($standby, @extra): the clone run on the standby's host and
# waited for; returns (exit status, stdout, stderr).
sub run_clone
{
	my ($self, $standby, @extra) = @_;
	my ($out, $err) = ('', '');
	my $h = $self->start_clone($standby, \$out, \$err, @extra);
	$h->finish;
	my $rc = $? >> 8;    # (finish sets $?)
	note("pgrepl_clone_standby exit status $rc; stdout:\n$out\nstderr:\n$err");
	return ($rc, $out, $err);
}

# streams_from_own_address($standby): a query on the primary, true when
# standby $standby streams over TLS from 198.51.100.2
sub streams_from_own_address
{
	my ($standby) = @_;
	return "SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
			WHERE r.application_name = '" . $standby->name . "' AND r.state = 'streaming' AND s.ssl
			  AND r.client_addr = '198.51.100.2'";
}

# digest($node, $table): row count and checksum of $table on $node
sub digest
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY id)) FROM $table t");
}

1;
