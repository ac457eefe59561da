# Certificates over real TLS: a standby streams with sslmode=verify-full
# against ca_certificate(); rotations while it streams and while a client
# keeps opening verify-full connections fail no connection; cert
# authentication with issue_client_cert; CA replacement, overlap and
# retirement; renewal by the worker, also under a CA that ends first.  No
# private key but the served server key is left under pgrepl_admin/.

use strict;
use warnings;

use IPC::Run;
use Socket ();
use Sys::Hostname ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n");
set_hba($primary,
	'hostssl replication replicator 127.0.0.1/32 scram-sha-256',
	'hostssl all certuser 127.0.0.1/32 cert',
	'hostssl all all 127.0.0.1/32 trust');

sub rotate
{
	return $primary->safe_psql('postgres',
		"SELECT serial, served, key_matches FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
}

sub write_bundle
{
	my ($path) = @_;
	write_private_file($path, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
}

# a client certificate and key for a role, written to files
sub client_cert
{
	my ($role, $name) = @_;
	my $out = $primary->safe_psql('postgres',
		"SELECT certificate || '\@\@' || private_key FROM pgrepl_admin.issue_client_cert('$role', '1 day')");
	my ($cert, $key) = split /\@\@/, $out;
	write_private_file("$tmp/$name.crt", "$cert\n");
	write_private_file("$tmp/$name.key", "$key\n");
	return (sslcert => "$tmp/$name.crt", sslkey => "$tmp/$name.key");
}

# --- the first rotation makes the CA, turns ssl on and is served
is($primary->safe_psql('postgres', 'SHOW ssl'), 'off', 'ssl is off before the first rotation');
my ($serial, $served, $matches) = split /\|/, rotate();
is("$served|$matches", 't|t', 'first rotation: the server presents the new certificate');
write_bundle($root);
$primary->connect_ok(tls_connstr($primary, $root), 'verify-full connection with ca_certificate() as root.crt',
	sql => 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
	expected_stdout => qr/^t$/);
$primary->connect_fails(tls_connstr($primary, $root, host => 'db.invalid', hostaddr => '127.0.0.1'),
	'verify-full refuses a host name the certificate does not cover',
	expected_stderr => qr/does not match host name "db\.invalid"/);
$primary->connect_fails('host=127.0.0.1 port=' . $primary->port . ' dbname=postgres sslmode=disable',
	'non-TLS connections are refused by pg_hba.conf',
	expected_stderr => qr/no pg_hba\.conf entry/);

# --- a standby streaming over TLS with verify-full
$primary->safe_psql('postgres', "CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'repl-secret'");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"primary_conninfo = '" . tls_connstr($primary, $root, user => 'replicator',
		password => 'repl-secret', application_name => 'standby') . "'\n");
$standby->start;
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
	 WHERE r.application_name = 'standby' AND r.state = 'streaming' AND s.ssl")
  or die 'standby does not stream over TLS';
pass('standby streams over TLS');
# the test framework copies the base backup without keeping file modes; the
# library restored them before the server loaded its key
like(slurp_file($standby->logfile), qr/made "pgrepl_admin\/server\.pem" readable by its owner only/,
	'the copied key file got its 0600 mode back at start');
like($standby->safe_psql('postgres', 'SELECT conninfo FROM pg_stat_wal_receiver'),
	qr/sslmode=verify-full/, 'its receiver uses sslmode=verify-full');
my $receiver = $standby->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver');

# --- three rotations while the standby streams and a client keeps connecting
my $stop = "$tmp/stop";
my $client_out = '';
my $connstr = tls_connstr($primary, $root);
my $client = IPC::Run::start(
	[
		'bash', '-c',
		qq{ok=0; fail=0; while [ ! -e '$stop' ]; do
		     if psql -XAtq -d '$connstr' -c 'SELECT 1' >/dev/null 2>>'$tmp/client.err';
		     then ok=\$((ok+1)); else fail=\$((fail+1)); fi; done; echo "\$ok \$fail"}
	],
	'>', \$client_out);
my %serials = ($serial => 1);
for my $i (1 .. 3)
{
	$primary->safe_psql('postgres', "CREATE TABLE rotation_$i AS SELECT generate_series(1, 1000) AS n");
	my ($s, $sv, $km) = split /\|/, rotate();
	is("$sv|$km", 't|t', "rotation $i is served with a matching key");
	$serials{$s} = 1;
	sleep(1);
}
open(my $fh, '>', $stop) or die;
close($fh);
$client->finish;
my ($ok, $failed) = split ' ', $client_out;
cmp_ok($ok, '>', 10, "the client connected $ok times during the rotations");
is($failed, 0, 'no verify-full connection failed during the rotations')
  or diag(slurp_file("$tmp/client.err"));
is(scalar keys %serials, 4, 'each rotation made a new certificate');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pgrepl_admin.certificates WHERE kind = 'server-previous'"),
	'0', 'a replaced server pair is destroyed once its successor is served');
is(store_key_files($primary->data_dir), 'server.pem',
	'the only private key under pgrepl_admin/ is the served server key (not the CA key, no retired key)');

$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM rotation_3'), '1000', 'the standby kept replaying');
is($standby->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver'), $receiver,
	'its streaming connection was never dropped');

# it reconnects after the rotations, verifying the new certificate
sub reconnect_standby
{
	my ($what) = @_;
	$primary->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'standby'");
	$primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 WHERE r.application_name = 'standby' AND r.state = 'streaming' AND s.ssl")
	  or die "standby did not reconnect ($what)";
	pass("standby reconnected with verify-full ($what)");
}
reconnect_standby('after rotations');

# --- cert authentication
$primary->safe_psql('postgres', 'CREATE ROLE certuser LOGIN; CREATE ROLE otheruser LOGIN');
my %old_ca_cert = client_cert('certuser', 'certuser-old-ca');
$primary->connect_ok(tls_connstr($primary, $root, user => 'certuser', %old_ca_cert),
	'cert authentication with issue_client_cert',
	sql => 'SELECT current_user', expected_stdout => qr/^certuser$/);
$primary->connect_fails(tls_connstr($primary, $root, user => 'certuser'),
	'cert authentication without a certificate is refused',
	expected_stderr => qr/certificate/);
my %other = client_cert('otheruser', 'otheruser');
$primary->connect_fails(tls_connstr($primary, $root, user => 'certuser', %other),
	'a certificate for another role is refused',
	expected_stderr => qr/certificate authentication failed for user "certuser"/);

# --- CA replacement: overlap, then retirement
my $old_ca = $primary->safe_psql('postgres', "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'");
my $old_root = "$tmp/root-old.crt";
write_bundle($old_root);
$primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_init(replace => true)');
write_bundle($root);    # the standby and the clients now trust both CAs
is($primary->safe_psql('postgres', "SELECT kind FROM pgrepl_admin.certificates WHERE serial = '$old_ca'"),
	'ca-retiring', 'the old CA is retiring');
my %new_ca_cert = client_cert('certuser', 'certuser-new-ca');
$primary->connect_ok(tls_connstr($primary, $root, user => 'certuser', %old_ca_cert),
	'overlap: a client certificate of the old CA is still accepted');
$primary->connect_ok(tls_connstr($primary, $root, user => 'certuser', %new_ca_cert),
	'a client certificate of the new CA is accepted');

rotate();
$primary->connect_ok(tls_connstr($primary, $root), 'the new bundle verifies the server certificate of the new CA');
$primary->connect_fails(tls_connstr($primary, $old_root), 'the old CA alone no longer verifies the server',
	expected_stderr => qr/certificate verify failed/);
reconnect_standby('after the server certificate moved to the new CA');

$primary->safe_psql('postgres', "SELECT pgrepl_admin.ca_retire('$old_ca')");
$primary->connect_fails(tls_connstr($primary, $root, user => 'certuser', %old_ca_cert),
	'after retirement a client certificate of the old CA is refused',
	expected_stderr => qr/unknown ca/);
$primary->connect_ok(tls_connstr($primary, $root, user => 'certuser', %new_ca_cert),
	'a client certificate of the new CA still is accepted');

# --- renewal by the worker
($serial) = split /\|/, rotate();
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET pgrepl_admin.cert_check_interval = '1s';
	ALTER SYSTEM SET pgrepl_admin.cert_renew_before = '2d';
	SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres',
	"SELECT serial <> '$serial' AND served AND key_matches FROM pgrepl_admin.certificates WHERE kind = 'server'")
  or die 'the worker did not renew the certificate';
pass('the worker renewed the server certificate');
# back to hourly checks (a 1-day certificate is always within the default
# 30 days), taken up by the worker before the next rotation
$primary->safe_psql('postgres', q{
	ALTER SYSTEM RESET pgrepl_admin.cert_renew_before;
	ALTER SYSTEM RESET pgrepl_admin.cert_check_interval;
	SELECT pg_reload_conf();
});
wait_for_task($primary, 'cert_renew', "next_run > now() + interval '10 minutes'");
like(slurp_file($primary->logfile), qr/pgrepl_admin renewed the server certificate/, 'and logged it');
is($primary->safe_psql('postgres',
		"SELECT expires_in BETWEEN '23 hours' AND '1 day' AND san = '{localhost,127.0.0.1}' FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	't', 'with the same names and validity period');
$primary->connect_ok(tls_connstr($primary, $root), 'the renewed certificate verifies');

# a renewal under a CA that ends before the certificate's usual lifetime:
# the certificate is renewed to end with the CA, and the CA's end is warned
# about loudly; the renewed one is not renewed again at every check, since
# no new one could last longer
($serial) = split /\|/, rotate();
$primary->safe_psql('postgres', "SELECT pgrepl_admin.ca_init(replace => true, valid_for => '20 minutes')");
my $log_offset = -s $primary->logfile;
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET pgrepl_admin.cert_check_interval = '1s';
	ALTER SYSTEM SET pgrepl_admin.cert_renew_before = '2d';
	SELECT pg_reload_conf();
});
ok( $primary->poll_query_until('postgres',
		"SELECT s.serial <> '$serial' AND s.served AND s.key_matches AND s.not_after <= a.not_after
		   AND s.issuer = a.subject
		 FROM pgrepl_admin.certificates s, pgrepl_admin.certificates a WHERE s.kind = 'server' AND a.kind = 'ca'"),
	'the worker renewed the certificate within the validity of the CA');
ok( eval {
		$primary->wait_for_log(
			qr/WARNING:  the pgrepl_admin certificate authority expires at [^\n]*, before the server certificate's usual lifetime ends/,
			$log_offset);
		1;
	},
	'and warned loudly that the CA ends it');
($serial) = split /\|/, $primary->safe_psql('postgres', "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'");
my $runs = task_status($primary, 'cert_renew', 'runs');
wait_for_task($primary, 'cert_renew', 'runs >= ' . ($runs + 3));
is($primary->safe_psql('postgres',
		"SELECT serial = '$serial' AND served FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	't', 'three checks later the certificate was not renewed again (a new one could not last longer)');
like(slurp_file($primary->logfile), qr/WARNING:  the pgrepl_admin certificate authority expires at/,
	'the worker warns that the CA has less than a third of its life left');
$primary->safe_psql('postgres', 'ALTER SYSTEM RESET pgrepl_admin.cert_renew_before; SELECT pg_reload_conf()');

# the default names: the machine's host name short and, when the machine
# has one, fully qualified (the host name itself when it has a dot, else
# its canonical name from the resolver, as "hostname -f"); no other
# dotted name
my $host = Sys::Hostname::hostname();
my ($short) = $host =~ /^([^.]+)/;
my $fqdn;
if ($host =~ /\./)
{
	$fqdn = $host;
}
else
{
	my ($err, @res) = Socket::getaddrinfo($host, undef,
		{ flags => Socket::AI_CANONNAME(), socktype => Socket::SOCK_STREAM() });
	my $canon = !$err && @res ? $res[0]{canonname} : undef;
	$fqdn = $canon if defined $canon && $canon =~ /^\Q$short\E\./i;
}
my %san = map { lc($_) => 1 } split /,/, $primary->safe_psql('postgres',
	"SELECT array_to_string(san, ',') FROM pgrepl_admin.rotate_server_cert(NULL, '5 minutes')");
ok($san{ lc $short }, "the default certificate covers the short host name $short");
if (defined $fqdn)
{
	ok($san{ lc $fqdn }, "and the fully qualified one, $fqdn");
}
else
{
	my @dotted = grep { /[a-z]/i && /\./ } keys %san;
	is("@dotted", '', 'the machine has no fully qualified name, and the certificate names none');
}

$standby->stop;
$primary->stop;
done_testing();
