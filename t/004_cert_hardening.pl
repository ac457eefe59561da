# Certificate hardening: the CA private key lives outside the data
# directory (pgrepl_admin.ca_key_directory), so that neither pg_basebackup
# nor a standby made from it carries the key; a promoted standby says that
# it has no CA key, and takes it over by a file copy; a store of version 1.0
# (the key in ca.pem) is migrated by ALTER EXTENSION UPDATE, and a crash
# between the migration's steps leaves a usable key; a directory inside the
# data directory is refused; an administrator's own ssl_ca_file is left
# alone.  A rotation that fails leaves no CA behind; a host name longer than
# a CN allows is certified; a rotation whose reload fails probes the server
# with back-off, not every 5 ms.  Two clusters sharing one key directory:
# replacing one's CA removes only that cluster's replaced keys.

use strict;
use warnings;

use File::Basename qw(basename dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\nlog_connections = on\n");
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust', 'hostssl replication all 127.0.0.1/32 trust');
my $pgdata = $primary->data_dir;

# a query's output, or its error (so that a failure is a failed test, not an end)
sub query
{
	my ($node, $sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	return $rc == 0 ? $out : "ERROR: $err";
}

# the default CA key directory of a node: a sibling of its data directory
sub key_dir
{
	my ($node) = @_;
	return dirname($node->data_dir) . '/pgrepl_admin_ca_' . basename($node->data_dir);
}

sub ca_serial { return query($_[0], "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'"); }

# --- a rotation that fails makes no CA; a long host name is certified
my ($rc, $out, $err) = $primary->psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'], '20 years')");
like($err, qr/valid_for reaches past the expiry of the CA/, 'a rotation the default CA cannot sign fails');
is(query($primary, 'SELECT count(*) FROM pgrepl_admin.certificates'), '0',
	'and leaves no CA behind (the CA it made first is not installed)');
ok(!-e "$pgdata/pgrepl_admin/ca.pem", 'no ca.pem was written');

my $long = ('a' x 58) . '.example.com';    # 70 characters
is( query($primary,
		"SELECT served AND key_matches, san, subject
		 FROM pgrepl_admin.rotate_server_cert(ARRAY['$long', 'localhost', '127.0.0.1'], '1 day')"),
	"t|{$long,localhost,127.0.0.1}|CN=localhost",
	'a 70-character host name: certified in the subjectAltName, the CN is the first name that fits');

# --- where the CA key is
my $keydir = key_dir($primary);
my $serial = ca_serial($primary);
is(query($primary, 'SHOW pgrepl_admin.ca_key_directory'), $keydir,
	'the CA key directory is a sibling of the data directory by default');
is((stat $keydir)[2] & 07777, 0700, 'it has mode 0700');
is((stat "$keydir/ca-$serial.key")[2] & 07777, 0600, 'the CA key is in it, named by serial, mode 0600');
# (the key as it is found: in the key directory, or in ca.pem)
my ($ca_key) = (-f "$keydir/ca-$serial.key" ? slurp_file("$keydir/ca-$serial.key") : '')
  || slurp_file("$pgdata/pgrepl_admin/ca.pem") =~ /(-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n)/s;
like($ca_key, qr/^-----BEGIN PRIVATE KEY-----\n/, 'as a PEM private key');
is(store_key_files($pgdata), 'server.pem', 'no private key but the server\'s under pgrepl_admin/ (ca.pem is the certificate alone)');
is(query($primary, "SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't',
	'the certificates view finds the CA key and sees that it matches');

# --- a real pg_basebackup holds no CA key
$primary->backup('base');
my $backup = $primary->backup_dir . '/base';
is(store_key_files($backup), 'server.pem', 'pg_basebackup: no private key under pgrepl_admin/ but the server key');
is(files_holding_key($backup, $ca_key), '', 'pg_basebackup: no file of the copy holds the CA key');

# --- a standby made from it, then promoted: no CA key here, said clearly
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');
is(query($standby, "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'ca_certificate'"), 'ok',
	'check() on a standby: a CA key is not expected there');
my $offset = -s $standby->logfile;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'not promoted';
like(query($standby, "SELECT status || ': ' || detail FROM pgrepl_admin.check() WHERE check_name = 'ca_certificate'"),
	qr/^warning: .*CA key not available here/, 'check() on the promoted standby flags "CA key not available here"');
ok(eval { $standby->wait_for_log(qr/WARNING:  the private key of the pgrepl_admin certificate authority is not available here/,
			$offset); 1 },
	'the worker of the promoted standby warns that the CA key is not available here');
($rc, $out, $err) = $standby->psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
like($err, qr/ERROR:  the private key of the pgrepl_admin certificate authority is not available here.*HINT:  .*ca-$serial\.key/s,
	'a rotation on it fails, naming the file to copy');

# the hand-over: the operator copies the key file
my $standby_keydir = key_dir($standby);
mkdir($standby_keydir, 0700);
write_private_file("$standby_keydir/ca-$serial.key", $ca_key);
is( query($standby,
		"SELECT served AND key_matches FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')"),
	't', 'after the key file is copied, the promoted standby rotates its certificate');
is(query($standby, "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'ca_certificate'"), 'ok',
	'and check() is content');
$standby->stop;

# --- a reload that fails: the rotation probes with back-off
is(query($primary, "SELECT served FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')"),
	't', 'a served certificate to start from');
$offset = -s $primary->logfile;
query($primary, "ALTER SYSTEM SET ssl_ciphers = 'NO-SUCH-CIPHER'; SELECT pg_reload_conf()");
$primary->wait_for_log(qr/SSL configuration was not reloaded/, $offset);
my $before = () = slurp_file($primary->logfile) =~ /connection received: host=127\.0\.0\.1/g;
($rc, $out, $err) = $primary->psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
like($err, qr/the server does not present the new certificate/, 'a rotation whose reload fails ends in an error');
my $probes = (() = slurp_file($primary->logfile) =~ /connection received: host=127\.0\.0\.1/g) - $before;
cmp_ok($probes, '<', 100, "over its 30 s it opened $probes TLS connections to the server, not thousands");
cmp_ok($probes, '>', 5, 'the first probes come quickly');
query($primary, 'ALTER SYSTEM RESET ssl_ciphers; SELECT pg_reload_conf()');
$primary->poll_query_until('postgres', "SELECT served FROM pgrepl_admin.certificates WHERE kind = 'server'")
  or die 'the new certificate is not served after the reload';

# --- a store of version 1.0: migrated by ALTER EXTENSION UPDATE
# (no renewal by the worker, which would renew its 1-day certificate at
# each start, while the store is looked at)
my $legacy = new_primary('legacy', extension => 0,
	conf => "listen_addresses = '127.0.0.1'\npgrepl_admin.cert_auto_renew = off\n");
set_hba($legacy, 'hostssl all all 127.0.0.1/32 trust');
my $legacy_data = $legacy->data_dir;
my $legacy_keydir = key_dir($legacy);
$legacy->safe_psql('postgres', "CREATE EXTENSION pgrepl_admin VERSION '1.0'");

# a CA as 1.0 kept it: certificate and key in ca.pem; and an
# administrator's own CA for client certificates as ssl_ca_file
sub openssl_ca
{
	my ($name, $cn) = @_;
	my ($o, $e) = ('', '');
	IPC::Run::run(
		[
			'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
			'-days', '3650', '-subj', "/CN=$cn", '-keyout', "$tmp/$name.key", '-out', "$tmp/$name.crt",
			'-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
			'-addext', 'keyUsage=critical,keyCertSign,cRLSign'
		],
		'>', \$o, '2>', \$e)
	  or die "openssl: $e";
	return (slurp_file("$tmp/$name.crt"), slurp_file("$tmp/$name.key"));
}
my ($legacy_cert, $legacy_key) = openssl_ca('legacy', 'legacy CA');
mkdir("$legacy_data/pgrepl_admin", 0700) or die $!;
write_private_file("$legacy_data/pgrepl_admin/ca.pem", $legacy_cert . $legacy_key);
openssl_ca('own', 'own client CA');
$legacy->safe_psql('postgres', "ALTER SYSTEM SET ssl_ca_file = '$tmp/own.crt'; SELECT pg_reload_conf()");

query($legacy, 'ALTER EXTENSION pgrepl_admin UPDATE');
my $legacy_serial = ca_serial($legacy);
is(store_key_files($legacy_data), '', 'ALTER EXTENSION UPDATE: ca.pem no longer holds the CA key');
is(files_holding_key("$legacy_data/pgrepl_admin", $legacy_key), '', 'no file of the store holds it');
is(files_holding_key($legacy_keydir, $legacy_key), "ca-$legacy_serial.key",
	'the key is in the CA key directory, named by serial');
is(query($legacy, "SELECT subject || ' ' || key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"),
	'CN=legacy CA true', 'the same CA, and its key matches');

# the rotation leaves the administrator's ssl_ca_file alone and says so
($rc, $out, $err) = $legacy->psql('postgres',
	"SELECT issuer, served FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
is($out, 'CN=legacy CA|t', 'a rotation after the update is signed by the migrated CA and served');
like($err, qr/NOTICE:  ssl_ca_file is left as it is/, 'the rotation says that it left ssl_ca_file');
is(query($legacy, 'SHOW ssl_ca_file'), "$tmp/own.crt", 'an administrator\'s own ssl_ca_file is not replaced');
is(query($legacy, 'SHOW ssl_cert_file') . ' ' . query($legacy, 'SHOW ssl_key_file'),
	'pgrepl_admin/server.pem pgrepl_admin/server.pem', 'the server certificate and key are the managed ones');

# the state a crash between the migration's two steps leaves: the key both
# in the key directory and in ca.pem; usable, and migrated at the next start
write_private_file("$legacy_data/pgrepl_admin/ca.pem", $legacy_cert . $legacy_key);
is(query($legacy, "SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't',
	'a crash between the two steps leaves a usable key');
$legacy->restart;
is(store_key_files($legacy_data), 'server.pem', 'the migration is finished at the next start');
is(query($legacy, "SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't', 'and the key still matches');

# --- a key directory inside the data directory is refused: the setting
# keeps its default, as for any invalid value of a custom setting
($rc, $out, $err) = $legacy->psql('postgres', "ALTER SYSTEM SET pgrepl_admin.ca_key_directory = '$legacy_data/ca_keys'");
like($err, qr/invalid value for parameter "pgrepl_admin\.ca_key_directory".*DETAIL:  It must not be inside the data directory/s,
	'ALTER SYSTEM refuses a CA key directory inside the data directory');
$legacy->append_conf('postgresql.conf', "pgrepl_admin.ca_key_directory = '$legacy_data/ca_keys'\n");
$offset = -s $legacy->logfile;
$legacy->restart;
$legacy->wait_for_log(qr/invalid value for parameter "pgrepl_admin\.ca_key_directory"/, $offset);
is(query($legacy, 'SHOW pgrepl_admin.ca_key_directory'), $legacy_keydir,
	'in postgresql.conf it is refused at start, with the default kept');
$legacy->append_conf('postgresql.conf', "pgrepl_admin.ca_key_directory = '$tmp/ca_keys'\n");
$legacy->restart;
is(query($legacy, 'SHOW pgrepl_admin.ca_key_directory'), "$tmp/ca_keys", 'a directory outside is taken');
like(query($legacy, "SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'ca_certificate'"),
	qr/CA key not available here/, 'the key is not there yet, and check() says so');
mkdir("$tmp/ca_keys", 0700) or die $!;
write_private_file("$tmp/ca_keys/ca-$legacy_serial.key", $legacy_key);
is(query($legacy, "SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't',
	'once moved there, it is found');

# --- a key directory shared by two clusters (issue 22 item 13): a CA
# replaced in one removes that cluster's replaced key, never the other's
my $neighbour = new_primary('neighbour', streaming => 0,
	conf => "pgrepl_admin.ca_key_directory = '$tmp/ca_keys'\npgrepl_admin.cert_auto_renew = off\n");
$neighbour->safe_psql('postgres', 'SELECT pgrepl_admin.ca_init()');
my $neighbour_first = ca_serial($neighbour);
ok(-f "$tmp/ca_keys/ca-$neighbour_first.key", "the neighbour's key is in the shared directory");
$neighbour->safe_psql('postgres', 'SELECT pgrepl_admin.ca_init(replace => true)');
my $neighbour_second = ca_serial($neighbour);
$neighbour->safe_psql('postgres', 'SELECT pgrepl_admin.ca_init(replace => true)');
my $neighbour_third = ca_serial($neighbour);
ok(-f "$tmp/ca_keys/ca-$legacy_serial.key", "replacing the neighbour's CA left the other cluster's key");
is(query($legacy, "SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't',
	'and the other cluster still signs with it');
like(query($legacy, "SELECT count(*) FROM pgrepl_admin.issue_client_cert('after_neighbour', force => true)"), qr/^1$/,
	'a client certificate is issued there');
is(join(' ', sort map { basename($_) } glob("$tmp/ca_keys/*.key")),
	join(' ', sort("ca-$legacy_serial.key", "ca-$neighbour_third.key")),
	"the neighbour's replaced keys are gone, its current one and the other cluster's are kept");

$neighbour->stop;
$legacy->stop;
$primary->stop;
done_testing();
