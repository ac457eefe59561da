# What PostgreSQL 19 changes for pgrepl_admin, each checked on a real
# server (the parts that apply to every version run everywhere):
#   all: check()'s password_expiry row names replication roles whose
#        password has expired or expires within the warning window;
#   19:  the window is password_expiration_warning_threshold; the md5 row
#        says that 19 logs a warning at every md5 login (and it does);
#        a radius line of pg_hba.conf is an error of the server's parser,
#        and hba_add names it; with ssl_sni on, a server certificate
#        rotation is refused before anything is made (pg_hosts.conf, not
#        ssl_cert_file, is what is served); a standby whose WAL receiver
#        waits on its primary's answer shows 'connecting' in
#        standby_status.

use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $node = new_primary('v19', conf => "listen_addresses = '127.0.0.1'\n");
my $version = $node->pg_version;
my $hba = $node->data_dir . '/pg_hba.conf';
note "PostgreSQL $version";

sub check_row
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT status || ' | ' || detail || ' | ' || COALESCE(hint, '') FROM pgrepl_admin.check() WHERE check_name = '$name'");
}

# --- every version: replication roles whose password expires
like(check_row('password_expiry'), qr/^ok \| No replication role's password expires within 7 days\./,
	'password_expiry: ok with no expiring replication role');
$node->safe_psql('postgres', q{
	CREATE ROLE regress_soon LOGIN REPLICATION PASSWORD 'not-a-secret-1';
	CREATE ROLE regress_notrepl LOGIN PASSWORD 'not-a-secret-2';
});
$node->safe_psql('postgres', q{
	DO $$ BEGIN
	  EXECUTE format('ALTER ROLE regress_soon VALID UNTIL %L', now() + interval '2 days');
	  EXECUTE format('ALTER ROLE regress_notrepl VALID UNTIL %L', now() + interval '2 days');
	END $$});
my $row = check_row('password_expiry');
like($row, qr/^warning \| .*regress_soon \(valid until /, 'a replication role expiring in 2 days is named');
unlike($row, qr/regress_notrepl/, 'a role without REPLICATION is not');
like($row, qr/ALTER ROLE \.\.\. PASSWORD/, 'and the hint says how to renew it');
$node->safe_psql('postgres', q{ALTER ROLE regress_soon VALID UNTIL '2000-01-01'});
like(check_row('password_expiry'), qr/^error \| .*regress_soon/, 'an expired one is an error');
$node->safe_psql('postgres', q{ALTER ROLE regress_soon VALID UNTIL 'infinity'});
like(check_row('password_expiry'), qr/^ok /, 'and VALID UNTIL infinity clears it');

SKIP:
{
	skip 'password_expiration_warning_threshold, the md5 login warning, RADIUS removal and SNI are from PostgreSQL 19', 13
	  if $version < 19;

	# the window is the server's own
	$node->safe_psql('postgres', q{
		DO $$ BEGIN
		  EXECUTE format('ALTER ROLE regress_soon VALID UNTIL %L', now() + interval '2 days');
		END $$});
	$node->safe_psql('postgres', q{ALTER SYSTEM SET password_expiration_warning_threshold = '1d'});
	$node->reload;
	$node->poll_query_until('postgres',
		q{SELECT current_setting('password_expiration_warning_threshold') <> '7d'})
	  or die 'threshold not reloaded';
	like(check_row('password_expiry'), qr/^ok \| No replication role's password expires within 1 day\./,
		'password_expiry follows password_expiration_warning_threshold');
	$node->safe_psql('postgres', q{ALTER SYSTEM SET password_expiration_warning_threshold = '3d'});
	$node->reload;
	$node->poll_query_until('postgres',
		q{SELECT current_setting('password_expiration_warning_threshold') = '3d'})
	  or die 'threshold not reloaded';
	like(check_row('password_expiry'), qr/^warning \| .*within 3 days: regress_soon/,
		'and names the role once the window reaches it');
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET password_expiration_warning_threshold; DROP ROLE regress_soon});
	$node->reload;

	# the md5 login warning
	$node->safe_psql('postgres', q{
		SET password_encryption = 'md5';
		CREATE ROLE regress_md5 LOGIN REPLICATION PASSWORD 'not-a-secret-md5';
	});
	my $text = slurp_file($hba);
	open(my $fh, '>', $hba) or die;
	print $fh "host postgres regress_md5 127.0.0.1/32 md5\n$text";
	close($fh);
	$node->reload;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT 1',
		connstr => 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres user=regress_md5 password=not-a-secret-md5');
	is($ret, 0, 'an md5 role logs in over an md5 line');
	like($stderr, qr/WARNING:.*MD5 password support is deprecated/, 'and 19 warns at the login');
	like(check_row('md5'), qr/^warning \| md5 is deprecated from PostgreSQL 18 on and this server \(19\) logs a warning at every md5 login: .*role regress_md5/,
		'check() says so in its md5 row');
	$text =~ s/^host postgres regress_md5 .*\n//m;
	open($fh, '>', $hba) or die;
	print $fh $text;
	close($fh);
	$node->reload;
	$node->safe_psql('postgres', 'DROP ROLE regress_md5');

	# RADIUS is gone from the parser
	$node->safe_psql('postgres', 'CREATE ROLE regress_rad LOGIN');
	$node->append_conf('pg_hba.conf', "host all all 10.91.0.0/16 radius radiusservers=10.91.0.1 radiussecrets=x\n");
	my ($rc, $out, $err) = $node->psql('postgres',
		q{SELECT pgrepl_admin.hba_add('10.92.0.1', 'regress_rad', database => 'postgres', connection_type => 'host')});
	like($err, qr/is invalid: invalid authentication method "radius"/,
		'a radius line of pg_hba.conf is an error of the server\'s parser, named by hba_add');
	unlike(slurp_file($hba), qr/10\.92\.0\.1/, 'and the rule is not written');
	$text = slurp_file($hba);
	$text =~ s/^host all all 10\.91\.0\.0\/16 radius.*\n//m;
	open($fh, '>', $hba) or die;
	print $fh $text;
	close($fh);
	$node->reload;

	# SNI: the managed pair would not be served
	$node->safe_psql('postgres', q{ALTER SYSTEM SET ssl_sni = on});
	$node->reload;
	$node->poll_query_until('postgres', q{SELECT current_setting('ssl_sni') = 'on'})
	  or die 'ssl_sni not reloaded';
	my $auto = $node->data_dir . '/postgresql.auto.conf';
	my $auto_before = slurp_file($auto);
	($rc, $out, $err) = $node->psql('postgres', 'SELECT pgrepl_admin.rotate_server_cert()');
	like($err, qr/ERROR:  server certificate rotation is not supported while ssl_sni is on/,
		'with ssl_sni on, a server certificate rotation is refused');
	like($err, qr/DETAIL:  With ssl_sni on, the server presents the certificates that ".*pg_hosts\.conf" lists/,
		'saying that pg_hosts.conf is what is served');
	like($err, qr/HINT:  Turn ssl_sni off and reload/, 'and what to do');
	is(slurp_file($auto), $auto_before, 'postgresql.auto.conf is unchanged');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pgrepl_admin.certificates}),
		'0', 'and no certificate, not even the CA, was made');
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET ssl_sni});
	$node->reload;
}

SKIP:
{
	skip "pg_stat_wal_receiver.status 'connecting' is from PostgreSQL 19", 1 if $version < 19;

	# a "primary" that takes the connection and never answers: the WAL
	# receiver waits in its connection attempt
	my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, Proto => 'tcp')
	  or die "no listening socket: $!";
	my $standby = new_standby($node, 'v19_standby');
	$standby->append_conf('postgresql.conf',
		"primary_conninfo = 'host=127.0.0.1 port=" . $silent->sockport . " sslmode=disable application_name=v19_standby'\n");
	$standby->reload;
	ok($standby->poll_query_until('postgres',
			q{SELECT wal_receiver_status = 'connecting' FROM pgrepl_admin.standby_status}),
		"standby_status shows the WAL receiver 'connecting' while its primary does not answer");
	close($silent);
	$standby->stop;
}

$node->stop;
done_testing();
