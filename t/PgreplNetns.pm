# PgreplNetns: private networks of real hosts for pgrepl_admin's TAP tests.
#
# Each host is a Linux network namespace with its own address from two
# documentation ranges, 198.51.100.0/24 and 203.0.113.0/24, never
# 192.0.2.0/24 (on the machines we test on, the host's real network) nor a
# range the machine has an interface on (the root helper refuses both),
# joined to the others through a bridge that lives in a namespace of its
# own: no default route, no link to the machine's interfaces.  Servers are
# PostgreSQL::Test::Cluster nodes whose pg_ctl runs inside their host's
# namespace, so the postmaster and everything it starts (walsenders,
# walreceivers, the maintenance worker) see only that host's network, while
# the test still reaches them through their Unix-domain sockets.
#
# The namespaces need root: this module calls t/netns/pgrepl-test-netns
# through "sudo -n", which scripts/test-version.sh installs as
# /usr/local/sbin/pgrepl-test-netns with a sudoers rule for the postgres
# user.  Where that cannot work the test is skipped with the reason, unless
# PGREPL_NETNS_REQUIRED is set (the test matrix sets it): then it fails.
#
#	my $net = PgreplNetns->new('addr');		# network "addr", or skip_all
#	$net->add_host('primary', '198.51.100.1/24');
#	my $node = $net->node('primary', 'main');	# a Cluster on that host
#	my ($rc, $out, $err) = $net->run('standby', 'psql', '-c', 'SELECT 1');
#	$net->link('standby', 'down');			# partition the standby
#	$net->shape('standby', '2mbit');		# slow its link (tc tbf)
#	$net->add_hosts_entry('standby', '198.51.100.1', 'primary.test');
#	my $ssh = $net->start_sshd('primary');		# --ssh options for the clone
#
# Everything (servers, sshd, namespaces, veths) is removed when the test
# ends, also when it fails; a leftover of a killed run of the same test is
# removed when it next starts, and the matrix removes every pgrt-* namespace
# before and after the suites.

package PgreplNetns;

use strict;
use warnings;

use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our $HELPER = $ENV{PGREPL_NETNS} // '/usr/local/sbin/pgrepl-test-netns';

# Environment variables a command run on a host keeps (sudo resets the
# environment).  Only names, never passwords: whatever is passed shows on
# the command line of sudo and env.
my $KEEP_ENV =
  qr/^(PATH|LD_LIBRARY_PATH|LANG|LC_[A-Z]+|TZ|PGTZ|TMPDIR|PGHOST|PGPORT|PGDATA|PGUSER|PGDATABASE|PGPASSFILE|PGSSL[A-Z]+|PGSERVICEFILE|PGAPPNAME|PGCONNECT_TIMEOUT)$/;

my @networks;    # every network made by this test, for the END block

sub _helper
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'sudo', '-n', $HELPER, @args ],
		'<', \undef, '>', \$out, '2>', \$err);
	return ($ok, $out, $err);
}

sub _helper_or_die
{
	my ($ok, $out, $err) = _helper(@_);
	die "pgrepl-test-netns @_: $err" unless $ok;
	return $out;
}

# new($name): network $name (1 to 10 lower-case letters and digits, unique
# per test file), with no hosts yet.  Skips the whole test when namespaces
# cannot be made here, or fails it if PGREPL_NETNS_REQUIRED is set.
sub new
{
	my ($class, $name) = @_;
	my $why;

	if (!-x $HELPER)
	{
		$why = "$HELPER is not installed (scripts/test-version.sh installs it as root)";
	}
	else
	{
		my ($ok, $out, $err) = _helper('check');
		$why = "network namespaces cannot be made here: $err" unless $ok;
	}
	if (defined $why)
	{
		BAIL_OUT("PGREPL_NETNS_REQUIRED is set but $why")
		  if $ENV{PGREPL_NETNS_REQUIRED};
		plan skip_all => $why;
	}

	_helper_or_die('net', $name);
	my $self = bless {
		name => $name,
		hosts => {},
		nodes => [],
		dir => PostgreSQL::Test::Utils::tempdir("netns_$name"),
	}, $class;
	push @networks, $self;
	return $self;
}

# add_host($host, @addresses): a host with these addresses (each with its
# prefix length, e.g. '198.51.100.1/24') on its one interface, eth0; with
# none, a host whose only address is the loopback's (eth0 is up, with at
# most an IPv6 link-local address).
sub add_host
{
	my ($self, $host, @addresses) = @_;
	_helper_or_die('host', $self->{name}, $host, @addresses);
	$self->{hosts}{$host} = [ map { (split m{/})[0] } @addresses ];
	return;
}

# address($host): the host's first address, without prefix length.
sub address
{
	my ($self, $host) = @_;
	die "no host $host" unless $self->{hosts}{$host};
	return $self->{hosts}{$host}[0];
}

# add_hosts_entry($host, $address, $name): "$address $name" in the host's
# own /etc/hosts (ip netns exec mounts /etc/netns/NS/hosts over /etc/hosts
# for everything started on that host, the servers' libpq included).
sub add_hosts_entry
{
	my ($self, $host, $address, $name) = @_;
	_helper_or_die('hosts', $self->{name}, $host, $address, $name);
	return;
}

# link($host, 'up' | 'down'): connect or cut the host's link to the bridge.
sub link
{
	my ($self, $host, $state) = @_;
	_helper_or_die('link', $self->{name}, $host, $state);
	return;
}

# shape($host, $rate): limit the host's link to $rate ('2mbit', '500kbit')
# in both directions with a token bucket filter; 'off' removes the limit.
sub shape
{
	my ($self, $host, $rate) = @_;
	_helper_or_die('shape', $self->{name}, $host, $rate);
	return;
}

# command($host, @cmd): the argument list that runs @cmd on $host as the
# test's own user, with the environment variables $KEEP_ENV allows.
sub command
{
	my ($self, $host, @cmd) = @_;
	my @env = map { "$_=$ENV{$_}" } grep { $_ =~ $KEEP_ENV } sort keys %ENV;
	return ('sudo', '-n', $HELPER, 'exec', $self->{name}, $host,
		'/usr/bin/env', @env, @cmd);
}

# run($host, @cmd): run @cmd on $host and wait; returns (exit status,
# stdout, stderr).
sub run
{
	my ($self, $host, @cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $self->command($host, @cmd) ], '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# start($host, \$out, \$err, @cmd): start @cmd on $host in the background;
# returns its IPC::Run harness.
sub start
{
	my ($self, $host, $out, $err, @cmd) = @_;
	return IPC::Run::start([ $self->command($host, @cmd) ],
		'<', \undef, '>', $out, '2>', $err);
}

# psql($host, $connstr, $sql): run psql on $host; returns (exit status,
# stdout, stderr).  $connstr says where to connect, e.g.
# "host=198.51.100.1 port=5432 dbname=postgres sslmode=verify-full ...".
sub psql
{
	my ($self, $host, $connstr, $sql) = @_;
	my ($rc, $out, $err) =
	  $self->run($host, 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', $sql);
	chomp $out;
	return ($rc, $out, $err);
}

# install_path($host): a directory that looks like a PostgreSQL
# installation to PostgreSQL::Test::Cluster: its bin/ links to the real
# programs, except pg_ctl, which runs the real one on $host.
sub install_path
{
	my ($self, $host) = @_;
	my $dir = "$self->{dir}/install_$host";
	return $dir if -d $dir;

	my $bindir = `pg_config --bindir`;
	chomp $bindir;
	die "pg_config --bindir failed" if $? || !$bindir;
	make_path("$dir/bin", "$dir/lib");
	opendir(my $dh, $bindir) or die "opendir $bindir: $!";
	for my $prog (grep { !/^\./ && $_ ne 'pg_ctl' } readdir $dh)
	{
		symlink("$bindir/$prog", "$dir/bin/$prog") or die "symlink $prog: $!";
	}
	closedir $dh;

	my @prefix = map { "'$_'" } ('sudo', '-n', $HELPER, 'exec', $self->{name}, $host, '/usr/bin/env');
	open(my $fh, '>', "$dir/bin/pg_ctl") or die "pg_ctl wrapper: $!";
	print $fh <<"EOF";
#!/usr/bin/perl
# pg_ctl of a node on network host $host: the real one, in that namespace
my \$keep = qr/$KEEP_ENV/;
my \@env = map { "\$_=\$ENV{\$_}" } grep { \$_ =~ \$keep } sort keys %ENV;
exec(@{[ join(', ', @prefix) ]}, \@env, '$bindir/pg_ctl', \@ARGV)
  or die "exec sudo: \$!";
EOF
	close $fh;
	chmod 0755, "$dir/bin/pg_ctl";
	return $dir;
}

# node($host, $name, %params): a new PostgreSQL::Test::Cluster node (not
# yet initialized) whose server will run on $host.  Give its
# listen_addresses with $net->address($host) after init.
sub node
{
	my ($self, $host, $name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		install_path => $self->install_path($host), %params);
	push @{ $self->{nodes} }, $node;
	return $node;
}

# start_sshd($host): a real sshd (Debian's openssh-server) on $host, port
# 2222 of its first address, run as the test's user with a throwaway host
# key and an authorized key made here.  Returns the ssh options that reach
# it from another host ("-p 2222 -i KEY -o UserKnownHostsFile=..."), e.g.
# for pgrepl_clone_standby --ssh.
sub start_sshd
{
	my ($self, $host) = @_;
	my $dir = "$self->{dir}/sshd_$host";
	my $addr = $self->address($host);

	die "sshd is not installed (Debian's openssh-server)" unless -x '/usr/sbin/sshd';
	make_path($dir);
	for my $key ('host_key', 'client_key')
	{
		system('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', "pgrepl-test-$key",
			'-f', "$dir/$key") == 0
		  or die "ssh-keygen failed";
	}
	PostgreSQL::Test::Utils::append_to_file("$dir/authorized_keys",
		PostgreSQL::Test::Utils::slurp_file("$dir/client_key.pub"));
	PostgreSQL::Test::Utils::append_to_file("$dir/known_hosts",
		"[$addr]:2222 " . PostgreSQL::Test::Utils::slurp_file("$dir/host_key.pub"));
	PostgreSQL::Test::Utils::append_to_file("$dir/sshd_config", <<"EOF");
Port 2222
ListenAddress $addr
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
EOF
	my ($rc, $out, $err) =
	  $self->run($host, '/usr/sbin/sshd', '-f', "$dir/sshd_config", '-E', "$dir/sshd.log");
	die "sshd did not start: $err" if $rc;
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		last if -s "$dir/sshd.pid";
		select(undef, undef, undef, 0.1);
	}
	die "sshd wrote no pid file" unless -s "$dir/sshd.pid";
	return "-p 2222 -i $dir/client_key -o UserKnownHostsFile=$dir/known_hosts "
	  . "-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10";
}

# teardown: stop this network's servers, then remove its namespaces (which
# ends every process left in them: sshd, a clone's rsync).
sub teardown
{
	my ($self) = @_;
	return if $self->{torn_down};
	for my $node (@{ $self->{nodes} })
	{
		# a stopped node is left alone, and PostgreSQL::Test::Cluster's
		# own END block then has nothing to stop in a namespace gone
		eval { $node->stop('immediate') if defined $node->{_pid}; 1 }
		  or diag("stopping " . $node->name . ": $@");
		$node->{_pid} = undef;
	}
	my ($ok, $out, $err) = _helper('teardown', $self->{name});
	diag("removing network $self->{name}: $err") unless $ok;
	$self->{torn_down} = 1;
	return;
}

END
{
	my $exit = $?;
	$_->teardown for @networks;
	$? = $exit;
}

1;
