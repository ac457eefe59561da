# The traps a newcomer hit following the README (issue 17): the worker
# takes up its tasks as soon as CREATE EXTENSION commits; a rotation
# returns served = t even while the server reloads around it; the clone
# command says which host the standby dials (--primary-host) and whether the
# certificate covers it, and add_standby() records that host; a rotation
# whose names leave that host out is refused unless forced, and check()
# names the host a forced one left uncovered; NULL names take it in.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $script = "$FindBin::RealBin/../scripts/pgrepl_clone_standby";
my $tmp = PostgreSQL::Test::Utils::tempdir;

# --- CREATE EXTENSION wakes the worker.  After the worker looked for the
# extension and said it waits, it looks again only after its 5 s re-check
# interval (EXTENSION_RECHECK_MS), unless its latch is set: finding the
# extension less than 5 s after that look, by the server's own clock, is
# the commit's wake-up, whatever the load on the machine.  A try where the
# commit itself came too late to tell (the machine was slow) is made again.
{
	my $fresh = new_primary('fresh', extension => 0);
	my $epoch = sub {
		$fresh->safe_psql('postgres', "SELECT extract(epoch FROM '$_[0]'::timestamptz)");
	};
	my ($offset, $woken) = (0, 0);
	for my $try (1 .. 5)
	{
		$offset = $fresh->wait_for_log(
			qr/waiting for CREATE EXTENSION pgrepl_admin in database "postgres"/, $offset);
		# the log line's time is its first three fields; from 19 the test
		# clusters' log_line_prefix names the process type before its
		# [pid] ("%m %b[%p]"), before 19 it does not ("%m [%p]")
		my ($looked) = slurp_file($fresh->logfile) =~
		  /.*^(\S+ \S+ \S+) [^\[\n]*\[\d+\] LOG:  pgrepl_admin maintenance worker is waiting for CREATE EXTENSION/ms;
		defined $looked or die 'no line of the worker waiting for CREATE EXTENSION in the log';
		my $committed = $fresh->safe_psql('postgres',
			'CREATE EXTENSION pgrepl_admin; SELECT extract(epoch FROM clock_timestamp())');
		$offset = $fresh->wait_for_log(qr/found the extension in database "postgres" and starts its tasks/, $offset);
		my ($found) = slurp_file($fresh->logfile) =~
		  /.*^(\S+ \S+ \S+) [^\[\n]*\[\d+\] LOG:  pgrepl_admin maintenance worker found the extension/ms;
		defined $found or die 'no line of the worker finding the extension in the log';
		my $since_look = $epoch->($found) - $epoch->($looked);
		if ($since_look < 5.0)
		{
			$woken = 1;
			last;
		}
		diag(sprintf('try %d: the commit came %.2f s after the look, the tasks %.2f s after it',
			$try, $committed - $epoch->($looked), $since_look));
		$fresh->safe_psql('postgres', 'DROP EXTENSION pgrepl_admin');
	}
	ok($woken, 'the commit of CREATE EXTENSION wakes the worker, before its next re-check could have');
	$fresh->poll_query_until('postgres',
		"SELECT bool_and(state <> 'waiting-extension') FROM pgrepl_admin.worker_status")
	  or die 'the worker never took up its tasks';
	pass('and worker_status shows its tasks taken up');
	$fresh->stop;
}

# pgrepl_admin.primary_host is left empty: the host comes from the clone's
# --primary-host
my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n");
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');

# --- the first rotation (ssl off -> on), and more, while other sessions make
# the server reload: each returns served = t, what it checked.  (The row
# used to come from a second handshake, which a reload in between could
# fail: served was NULL although the certificate was served.)
my $connstr = $primary->connstr('postgres');
my $storm = IPC::Run::start(
	[ 'bash', '-c', qq{while :; do psql -XAtq -d '$connstr' -c 'SELECT pg_reload_conf()' >/dev/null || exit 1; done} ]);
is($primary->safe_psql('postgres', 'SHOW ssl'), 'off', 'ssl is off before the first rotation');
my @served;
push @served, $primary->safe_psql('postgres',
	"SELECT COALESCE(served::text, 'NULL') FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'])")
  for 1 .. 10;
$storm->kill_kill;
is("@served", join(' ', ('true') x 10), 'ten rotations under reloads, the first turning ssl on, each return served = t');

# --- the clone writes the host it was told, and says the certificate covers it
my $clone = PostgreSQL::Test::Cluster->new('clone');
my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[
		$script,
		'--primary' => $connstr,
		'--source' => $primary->data_dir,
		'--target' => $clone->data_dir,
		'--name' => 'clone',
		'--primary-host' => '127.0.0.1',
		'--set' => 'port=' . $clone->port,
		'--set' => 'unix_socket_directories=' . $clone->host,
		'--log' => $clone->logfile,
		'--wait' => 180,
		'--start'
	],
	'>', \$out, '2>', \$err);
note("pgrepl_clone_standby stdout:\n$out\nstderr:\n$err");
ok($ok, 'the clone with --primary-host succeeds');
like($out, qr/the standby dials host "127\.0\.0\.1" \(primary_conninfo\); the server certificate covers it/,
	'the clone prints the host it wrote and that the certificate covers it');
like(slurp_file($clone->data_dir . '/postgresql.auto.conf'), qr/^primary_conninfo = 'host=127\.0\.0\.1 /m,
	'that host is in primary_conninfo');
is($primary->safe_psql('postgres', "SELECT primary_host FROM pgrepl_admin.standbys WHERE name = 'clone'"),
	'127.0.0.1', 'add_standby() recorded the host the standby dials');
$clone->_update_pid(1);

# --- a rotation that would strand the standby is refused, and changes nothing
my $serial = $primary->safe_psql('postgres', "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'");
my ($rc, $stdout, $stderr) = $primary->psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['db1.example.com'])",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:  22023: hostnames leave out a host the standbys dial/, 'a rotation leaving out the dialed host is refused');
like($stderr, qr/DETAIL:  The new certificate would not cover 127\.0\.0\.1 \(standby clone\)/, 'the error names the host and the standby');
is($primary->safe_psql('postgres', "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	$serial, 'the served certificate is unchanged');
is($primary->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'server_certificate'"),
	'ok', 'check() is ok while the certificate covers the dialed host');

# --- forced, it takes effect, and check() names the host it does not cover
is($primary->safe_psql('postgres',
		"SELECT served FROM pgrepl_admin.rotate_server_cert(ARRAY['db1.example.com'], force => true)"),
	't', 'force => true rotates anyway');
like($primary->safe_psql('postgres',
		"SELECT status || ': ' || detail FROM pgrepl_admin.check() WHERE check_name = 'server_certificate'"),
	qr/^warning: .*; it does not cover 127\.0\.0\.1 \(standby clone\)\.$/, 'check() names the uncovered host and who dials it');

# --- NULL hostnames take the dialed hosts in: the setting of this session too
my $san = $primary->safe_psql('postgres', q{
	SET pgrepl_admin.primary_host = 'DB2.example.com';
	SELECT san FROM pgrepl_admin.rotate_server_cert();
});
like($san, qr/\b127\.0\.0\.1\b/, 'a rotation with the default names covers the standby\'s host');
like($san, qr/\bdb2\.example\.com\b/, '... and pgrepl_admin.primary_host');
is($primary->safe_psql('postgres', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'server_certificate'"),
	'ok', 'check() is ok again');
# a socket directory as the host (no TLS there) is no name to certify
is($primary->safe_psql('postgres', q{
	SET pgrepl_admin.primary_host = '/var/run/postgresql';
	SELECT served FROM pgrepl_admin.rotate_server_cert();
	SELECT status FROM pgrepl_admin.check() WHERE check_name = 'server_certificate';
}), "t\nok", 'a socket directory in pgrepl_admin.primary_host is left out');
# --- a role granted rotate_server_cert reads standbys as itself for the check
$primary->safe_psql('postgres', q{
	CREATE ROLE regress_rotator LOGIN;
	GRANT EXECUTE ON FUNCTION pgrepl_admin.rotate_server_cert(text[], interval, text, boolean) TO regress_rotator;
	GRANT USAGE ON SCHEMA pgrepl_admin TO regress_rotator;
});
($rc, $stdout, $stderr) = $primary->psql('postgres',
	"SET ROLE regress_rotator; SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'])");
like($stderr, qr/permission denied for table standbys/, 'a granted role without SELECT on standbys is refused');
$primary->safe_psql('postgres', 'GRANT pg_monitor TO regress_rotator');
is($primary->safe_psql('postgres',
		"SET ROLE regress_rotator; SELECT served FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'])"),
	't', 'with pg_monitor it rotates');

$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'clone' AND state = 'streaming'")
  or die 'the clone does not stream';
pass('the clone streams');

$clone->stop;
$primary->stop;
done_testing();
