# kill -9 at random moments during repeated certificate rotations and CA
# replacements, of the backend doing the work or of the whole server (the
# postmaster and all its children): after each, the server starts, TLS is on,
# the managed key matches its certificate, and the server presents it.
#
# PGREPL_CRASH_ITERATIONS sets the number of injections (default 20; the long
# mode of the fault suite runs 200), PGREPL_CRASH_SEED the random seed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $iterations = $ENV{PGREPL_CRASH_ITERATIONS} // 20;
my $seed = $ENV{PGREPL_CRASH_SEED} // time();
srand($seed);
note("seed $seed, $iterations iterations");

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";
# the worker would renew these short-lived certificates at each start
my $primary = new_primary('primary',
	conf => "listen_addresses = '127.0.0.1'\npgrepl_admin.cert_auto_renew = off\n");
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');
$primary->safe_psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");

# every pid whose parent is $ppid
sub children
{
	my ($ppid) = @_;
	my @pids;
	opendir(my $dh, '/proc') or die;
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh>;
		close($fh);
		push @pids, $pid if $stat =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $ppid;
	}
	closedir($dh);
	return @pids;
}

sub postmaster_pid
{
	my ($pid) = split /\n/, slurp_file($primary->data_dir . '/postmaster.pid');
	return $pid;
}

my %landed = (before => 0, after => 0);
for my $i (1 .. $iterations)
{
	my $victim = $i % 2 ? 'backend' : 'server';
	my $work =
	  $i % 5 == 0
	  ? "SELECT pgrepl_admin.ca_init(replace => true, valid_for => '1 year')"
	  : "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day', '"
	  . ($i % 3 ? 'ec-p256' : 'rsa-2048') . "')";
	my $before = $primary->safe_psql('postgres',
		"SELECT string_agg(serial, ',' ORDER BY serial) FROM pgrepl_admin.certificates WHERE kind IN ('ca', 'server')");

	my $session = $primary->background_psql('postgres', on_error_stop => 0);
	my $backend = $session->query_safe('SELECT pg_backend_pid()');
	my $pm = postmaster_pid();
	$session->query_until(qr//, "$work;\n");
	usleep(int(rand()**2 * 150_000));    # most kills early, in the work itself

	if ($victim eq 'backend')
	{
		kill 'KILL', $backend;
	}
	else
	{
		kill 'KILL', $pm;
		kill 'KILL', children($pm);
	}
	eval { $session->quit };

	# the crash ends the server (restart_after_crash is off in the tests)
	for (1 .. 300)
	{
		last unless -e $primary->data_dir . '/postmaster.pid' && kill(0, $pm);
		usleep(100_000);
	}
	$primary->_update_pid(-1);
	$primary->start;

	my $after = $primary->safe_psql('postgres',
		"SELECT string_agg(serial, ',' ORDER BY serial) FROM pgrepl_admin.certificates WHERE kind IN ('ca', 'server')");
	$landed{ $before eq $after ? 'before' : 'after' }++;

	my $state = $primary->safe_psql('postgres',
		"SELECT current_setting('ssl') || '|' || bool_and(key_matches) FILTER (WHERE kind IN ('ca', 'server', 'server-previous'))
		        || '|' || bool_or(served) FILTER (WHERE kind = 'server')
		 FROM pgrepl_admin.certificates");
	is($state, 'on|true|true', "$victim killed during \"$work\" (iteration $i): TLS on, keys match, served");
	write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
	$primary->connect_ok(tls_connstr($primary, $root), "iteration $i: a verify-full connection succeeds");
}
note("the kill landed before the change took effect $landed{before} times, after it $landed{after} times");

$primary->stop;
done_testing();
