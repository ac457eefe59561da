# Standby provisioning on real servers: standbys made with add_standby()
# stream over verify-full TLS with scram and with cert authentication; an
# unprovisioned role or address is refused; a rolled-back transaction leaves
# pg_hba.conf byte for byte; the worker repairs drift and renders the rules
# on a standby, so that a promoted standby admits the others; pg_hba.conf
# outside the data directory (Debian layout); a slot taken by another reader
# between remove_standby and the commit is kept with a WARNING; a commit that
# fails after add_standby's pre-commit work (postgres_fdw's remote commit)
# leaves no slot; a password policy (passwordcheck) sees the password
# create_replication_role is given.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "pgrepl_admin.hba_check_interval = 0\n"
	  . "log_statement = 'all'\n");
# only local lines: over TCP, nothing but the managed rules admits anyone
set_hba($primary);
my $hba = $primary->data_dir . '/pg_hba.conf';
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

sub file_sha { return sha256_hex(slurp_file($_[0])); }

# managed rule ids in a pg_hba.conf, in file order
sub file_rule_ids
{
	my ($path) = @_;
	return join(',', slurp_file($path) =~ /# pgrepl_admin rule (\d+)/g);
}

sub table_rule_ids
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(rule_id::text, ',' ORDER BY rule_id), '') FROM pgrepl_admin.hba_rules");
}

# add_standby's result as a hash
sub add_standby
{
	my ($args) = @_;
	my $row = $primary->safe_psql('postgres',
		"SELECT concat_ws('\@\@', standby_name, coalesce(password, ''), slot_name, primary_conninfo,
		        coalesce(client_certificate, ''), coalesce(client_key, ''))
		 FROM pgrepl_admin.add_standby($args)");
	my %r;
	@r{qw(name password slot conninfo cert key)} = split /\@\@/, $row, -1;
	return \%r;
}

# a streaming standby set up with what add_standby returned
sub standby_with
{
	my ($name, $r, %ssl) = @_;
	my $conninfo = "$r->{conninfo} sslrootcert=$root";
	$conninfo .= " password=$r->{password}" if $r->{password} ne '';
	$conninfo .= " $_=$ssl{$_}" for sort keys %ssl;
	return provisioned_standby($primary, $name, $conninfo, $r->{slot},
		"pgrepl_admin.hba_check_interval = '1s'\n");
}

# --- scram: a standby provisioned in one call streams over verify-full TLS
my $scram = add_standby("'scram_standby', '127.0.0.1/32'");
like($scram->{password}, qr/^[A-Za-z0-9_-]{32}$/, 'add_standby generated a password');
like($scram->{conninfo}, qr/^host=127\.0\.0\.1 port=\d+ user=scram_standby application_name=scram_standby sslmode=verify-full keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 tcp_user_timeout=60000$/,
	'primary_conninfo names the host, port, role, application_name, verify-full and TCP keepalives');
is($primary->safe_psql('postgres',
		"SELECT restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'scram_standby'"),
	't', 'its slot reserves WAL from the start');
my $standby1 = standby_with('scram_standby', $scram);
pass('the scram standby streams over TLS from its slot');
unlike(slurp_file($primary->logfile), qr/\Q$scram->{password}\E/, 'the generated password is nowhere in the server log');
like(slurp_file($primary->logfile), qr/statement: SELECT concat_ws.*?add_standby/s, 'although statements are logged');

# the same call again changes nothing and returns no secret
my $again = add_standby("'scram_standby', '127.0.0.1/32'");
is($again->{password}, '', 'add_standby again returns no password');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots"), '1', 'and makes no slot');

# --- cert: a client certificate instead of a password
my $cert = add_standby("'cert_standby', '127.0.0.1/32', auth => 'cert'");
is($cert->{password}, '', 'cert authentication: no password');
write_private_file("$tmp/cert_standby.crt", "$cert->{cert}\n");
write_private_file("$tmp/cert_standby.key", "$cert->{key}\n");
my $standby2 = standby_with('cert_standby', $cert,
	sslcert => "$tmp/cert_standby.crt", sslkey => "$tmp/cert_standby.key");
pass('the cert standby streams over TLS with its client certificate');

# --- refused: a role without a rule, a rule for another address, a wrong password
my $replconn = 'host=127.0.0.1 port=' . $primary->port . " replication=true sslmode=verify-full sslrootcert=$root";
my $unprovisioned = $primary->safe_psql('postgres', "SELECT pgrepl_admin.create_replication_role('unprovisioned')");
$primary->connect_fails("$replconn user=unprovisioned password=$unprovisioned",
	'a replication role without a rule is refused',
	expected_stderr => qr/no pg_hba\.conf entry for replication connection from host "127\.0\.0\.1", user "unprovisioned"/);
my $far = add_standby("'far_standby', '203.0.113.210/32'");
$primary->connect_fails("$replconn user=far_standby password=$far->{password}",
	'a standby provisioned for another address is refused',
	expected_stderr => qr/no pg_hba\.conf entry for replication connection from host "127\.0\.0\.1", user "far_standby"/);
$primary->connect_ok("$replconn user=scram_standby password=$scram->{password} application_name=check",
	'the provisioned role and address are admitted', sql => 'IDENTIFY_SYSTEM');
$primary->connect_fails("$replconn user=scram_standby password=wrong",
	'with its password only', expected_stderr => qr/password authentication failed/);
$primary->connect_fails('host=127.0.0.1 port=' . $primary->port . " replication=true sslmode=disable user=scram_standby password=$scram->{password}",
	'and over TLS only', expected_stderr => qr/no pg_hba\.conf entry .* no encryption/);

# --- the verifier computed by the extension (OpenSSL's PBKDF2) has
# PostgreSQL's format and passes the server's own scram-sha-256 exchange,
# also for non-ASCII passwords: SASLprep normalizes a decomposed one, and
# one SASLprep refuses is used as it is, as the server and libpq do
my $secret_re = qr/^SCRAM-SHA-256\$4096:[A-Za-z0-9+\/=]{24}\$[A-Za-z0-9+\/=]{44}:[A-Za-z0-9+\/=]{44}$/;
like($primary->safe_psql('postgres', "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_standby'"),
	$secret_re, 'the stored secret is in the format of PostgreSQL');
# byte strings: "pässwörd" precomposed, then with combining diaeresis, then
# with a private-use character that SASLprep prohibits
my %pw = (
	umlaut_role => "p\xc3\xa4ssw\xc3\xb6rd",
	decomposed_role => "pa\xcc\x88sswo\xcc\x88rd",
	prohibited_role => "priv\xee\x80\x80ate");
$primary->safe_psql('postgres', join('', map {
	"SELECT pgrepl_admin.create_replication_role('$_', '$pw{$_}');
	 SELECT pgrepl_admin.hba_add('127.0.0.1/32', '$_', database => 'postgres', connection_type => 'host');\n"
} sort keys %pw));
my $dbconn = 'host=127.0.0.1 port=' . $primary->port . ' dbname=postgres sslmode=disable';
like($primary->safe_psql('postgres', "SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules
		WHERE 'umlaut_role' = ANY(user_name) AND type = 'host'"),
	qr/^scram-sha-256$/, 'the roles are admitted by a host rule with scram-sha-256');
$primary->connect_ok("$dbconn user=umlaut_role password='$pw{umlaut_role}'",
	'a non-ASCII password logs in over scram-sha-256', sql => 'SELECT 1');
$primary->connect_fails("$dbconn user=umlaut_role password='p\xc3\xa4ssword'",
	'a wrong password is refused', expected_stderr => qr/password authentication failed for user "umlaut_role"/);
$primary->connect_ok("$dbconn user=decomposed_role password='$pw{umlaut_role}'",
	'a decomposed password was normalized with SASLprep: its precomposed form logs in', sql => 'SELECT 1');
$primary->connect_ok("$dbconn user=prohibited_role password='$pw{prohibited_role}'",
	'a password SASLprep prohibits is used as it is and logs in', sql => 'SELECT 1');
$primary->connect_fails("$dbconn user=prohibited_role password='private'",
	'and another password is refused', expected_stderr => qr/password authentication failed for user "prohibited_role"/);

my ($ret, $out, $err);

# --- a rolled-back transaction leaves the file byte for byte, and no slot
my $before = file_sha($hba);
$primary->safe_psql('postgres', q{
	BEGIN;
	SELECT pgrepl_admin.add_standby('rolled_back', '10.0.0.9/32');
	SELECT pgrepl_admin.hba_add('10.0.0.0/8', 'scram_standby');
	DELETE FROM pgrepl_admin.hba_rules WHERE role_name = 'far_standby';
	ROLLBACK;
});
is(file_sha($hba), $before, 'a rolled-back migration leaves pg_hba.conf identical (SHA-256)');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'rolled_back'"),
	'0', 'and creates no slot');

# --- a commit that fails after add_standby's pre-commit work leaves no
# slot: here postgres_fdw's own pre-commit step, which runs after ours,
# commits the remote side, where a deferred constraint fails; the retry
# then works
failing_remote_commit($primary);
($ret, $out, $err) = $primary->psql('postgres', q{
	SELECT count(*) FROM fdw_remote;
	BEGIN;
	SELECT standby_name FROM pgrepl_admin.add_standby('fdw_standby', '10.0.0.12/32');
	INSERT INTO fdw_remote VALUES (1);
	COMMIT;
});
like($err, qr/ERROR:  duplicate key value violates unique constraint "fdw_target_k_key"/,
	'the remote commit fails after add_standby\'s pre-commit work');
is($primary->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fdw_standby') || '|' ||
	       (SELECT count(*) FROM pgrepl_admin.standbys WHERE name = 'fdw_standby') || '|' ||
	       (SELECT count(*) FROM pg_roles WHERE rolname = 'fdw_standby')}),
	'0|0|0', 'and leaves no slot, standby or role');
is($primary->safe_psql('postgres', q{
	SELECT slot_name FROM pgrepl_admin.add_standby('fdw_standby', '10.0.0.12/32');
	SELECT pgrepl_admin.remove_standby('fdw_standby');
	DROP SERVER loopback CASCADE; DROP TABLE fdw_target; DROP EXTENSION postgres_fdw}),
	"fdw_standby\nt", 'a retry provisions the standby');

# --- remove_standby refuses while the slot is active
($ret, $out, $err) = $primary->psql('postgres', "SELECT pgrepl_admin.remove_standby('scram_standby')");
like($err, qr/replication slot "scram_standby" of standby "scram_standby" is active/,
	'remove_standby refuses while the standby streams from its slot');
is($primary->safe_psql('postgres', "SELECT pgrepl_admin.remove_standby('far_standby')"), 't', 'an idle standby is removed');
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM pg_roles WHERE rolname = 'far_standby'") . '|' .
	$primary->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'far_standby'"),
	'0|0', 'with its role and its slot');
is(file_rule_ids($hba), table_rule_ids($primary), 'and its rule leaves pg_hba.conf');

# --- a slot that becomes active between remove_standby and the commit is
# kept, with a WARNING, and shown as orphaned once inactive; the removal
# still commits
$primary->safe_psql('postgres', "SELECT pgrepl_admin.add_standby('late_reader', '10.0.0.7/32')");
my $remover = $primary->background_psql('postgres');
$remover->query_safe("BEGIN; SELECT pgrepl_admin.remove_standby('late_reader')");
my $receiver = IPC::Run::start(
	[ 'pg_receivewal', '--no-loop', '--no-sync', '--slot' => 'late_reader',
		'--directory' => do { mkdir "$tmp/wal"; "$tmp/wal" },
		'--dbname' => $primary->connstr('postgres') ],
	'>', \my $receiver_out, '2>', \my $receiver_err);
$primary->poll_query_until('postgres',
	"SELECT active FROM pg_replication_slots WHERE slot_name = 'late_reader'")
  or die 'pg_receivewal did not take the slot';
$remover->{stderr} = '';
$remover->query('COMMIT');
like($remover->{stderr}, qr/WARNING:  replication slot "late_reader" of a removed standby was kept/,
	'a slot taken between remove_standby and the commit: the commit warns that it was kept');
$remover->quit;
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM pgrepl_admin.standbys WHERE name = 'late_reader'") . '|' .
	$primary->safe_psql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'late_reader'"),
	'0|0', 'the standby and its role are gone all the same');
$receiver->kill_kill;
$primary->poll_query_until('postgres',
	"SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'late_reader'")
  or die 'the slot stayed active';
is($primary->safe_psql('postgres',
		"SELECT status FROM pgrepl_admin.replication_lag WHERE slot_name = 'late_reader'"),
	'orphaned-slot', 'once its reader is gone, the slot it kept is shown as orphaned');
$primary->safe_psql('postgres', "SELECT pg_drop_replication_slot('late_reader')");

# --- a role for the rules below (t/098_concurrency.pl has 32 sessions
# adding and removing standbys and rules at once)
$primary->safe_psql('postgres', "SELECT pgrepl_admin.create_replication_role('rule_role')");

# --- the worker repairs drift, and logs it
my $good = slurp_file($hba);
(my $edited = $good) =~ s/(# END pgrepl_admin managed block)/host all all 0.0.0.0\/0 trust\n$1/;
open(my $fh, '>', $hba) or die;
print $fh $edited;
close($fh);
$primary->safe_psql('postgres', "ALTER SYSTEM SET pgrepl_admin.hba_check_interval = '1s'; SELECT pg_reload_conf()");
$primary->poll_query_until('postgres', "SELECT pg_read_file(current_setting('hba_file')) NOT LIKE '%0.0.0.0/0 trust%'")
  or die 'the worker did not repair the block';
is(slurp_file($hba), $good, 'the worker put back the managed block after an edit inside it');
like(slurp_file($primary->logfile), qr/pgrepl_admin rewrote the managed block of .*pg_hba\.conf/, 'and logged it');

# --- on a standby the worker renders the replicated table into its own file
my $late = $primary->safe_psql('postgres',
	"SELECT pgrepl_admin.hba_add('10.20.0.0/16', 'rule_role', comment => 'added after the standbys')");
$primary->wait_for_catchup($standby1, 'replay');
$standby1->poll_query_until('postgres',
	"SELECT pg_read_file(current_setting('hba_file')) LIKE '%# pgrepl_admin rule $late: added after the standbys%'")
  or die 'the standby did not render the new rule';
is(file_rule_ids($standby1->data_dir . '/pg_hba.conf'), table_rule_ids($primary),
	"the standby's pg_hba.conf holds the primary's rules");

# --- after promotion it admits the other standby
$standby1->promote;
$standby1->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die;
$standby1->connect_ok('host=127.0.0.1 port=' . $standby1->port
	  . " replication=true sslmode=verify-full sslrootcert=$root user=cert_standby"
	  . " sslcert=$tmp/cert_standby.crt sslkey=$tmp/cert_standby.key",
	'the promoted standby admits the cert standby with its certificate', sql => 'IDENTIFY_SYSTEM');
$standby1->connect_fails('host=127.0.0.1 port=' . $standby1->port
	  . " replication=true sslmode=verify-full sslrootcert=$root user=unprovisioned password=$unprovisioned",
	'and still refuses an unprovisioned role',
	expected_stderr => qr/no pg_hba\.conf entry/);

$standby1->stop;
$standby2->stop;
$primary->stop;

# --- Debian layout: pg_hba.conf outside the data directory
my $debian = PostgreSQL::Test::Cluster->new('debian');
$debian->init;
my $etc = "$tmp/etc/postgresql/15/main";
mkdir "$tmp/etc";
mkdir "$tmp/etc/postgresql";
mkdir "$tmp/etc/postgresql/15";
mkdir $etc;
open($fh, '>', "$etc/pg_hba.conf") or die;
print $fh "# Debian-style pg_hba.conf\nlocal all all trust\n# local administrators\nlocal replication all trust\n";
close($fh);
chmod(0640, "$etc/pg_hba.conf");
unlink($debian->data_dir . '/pg_hba.conf');
$debian->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pgrepl_admin'\nhba_file = '$etc/pg_hba.conf'\nlisten_addresses = '127.0.0.1'\n");
$debian->start;
$debian->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');
my $app_pw = $debian->safe_psql('postgres', "SELECT pgrepl_admin.create_replication_role('app')");
# (the worker, woken by CREATE EXTENSION, may have put in an empty block)
(my $outside = slurp_file("$etc/pg_hba.conf")) =~ s/# BEGIN pgrepl_admin.*# END pgrepl_admin managed block\n//s;
$debian->connect_fails('host=127.0.0.1 port=' . $debian->port . " dbname=postgres user=app password=$app_pw",
	'Debian layout: no rule, no connection', expected_stderr => qr/no pg_hba\.conf entry/);
$debian->safe_psql('postgres',
	"SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'app', database => 'postgres', connection_type => 'host')");
$debian->connect_ok('host=127.0.0.1 port=' . $debian->port . " dbname=postgres user=app password=$app_pw",
	'Debian layout: the rule written to the file outside the data directory admits the role');
my $written = slurp_file("$etc/pg_hba.conf");
(my $without = $written) =~ s/# BEGIN pgrepl_admin.*# END pgrepl_admin managed block\n//s;
is($without, $outside, 'every byte outside the managed block is as it was');
like($written, qr/\A# Debian-style pg_hba\.conf\n# BEGIN pgrepl_admin/, 'the block goes before the first rule');
is(sprintf('%04o', (stat("$etc/pg_hba.conf"))[2] & 07777), '0640', 'the file keeps its mode');
ok(!-e $debian->data_dir . '/pg_hba.conf', 'nothing is written into the data directory');
is(scalar(grep { /pgrepl_admin-/ } glob("$etc/*")), 0, 'no candidate file is left behind');

# A session parses only the block while the rest of the file is as it last
# accepted it; a line broken by hand outside the block since is still found.
my ($rc, $stdout, $stderr) = $debian->psql('postgres', qq{
	SELECT pgrepl_admin.hba_add('10.77.0.1/32', 'app', comment => 'before the edit');
	\\! printf 'host all all 10.78.0.0/16 no-such-method\\n' >> $etc/pg_hba.conf
	SELECT pgrepl_admin.hba_add('10.77.0.2/32', 'app', comment => 'after the edit');
});
like($stderr, qr/line \d+ of "\Q$etc\E\/pg_hba\.conf" is invalid: invalid authentication method "no-such-method"/,
	'the same session finds a line broken outside the block after its last check');
my $hba_after = slurp_file("$etc/pg_hba.conf");
like($hba_after, qr/before the edit/, 'the rule added before the edit is in the file');
unlike($hba_after, qr/after the edit/, 'the rule refused after the edit is not');
is($debian->safe_psql('postgres', "SELECT count(*) FROM pgrepl_admin.hba_rules WHERE comment = 'after the edit'"),
	'0', 'nor in the table');
$debian->stop;

# A password policy (check_password_hook) sees the plain-text password, as
# it does for CREATE ROLE ... PASSWORD, and the role still gets a SCRAM
# secret.
my $policy = new_primary('policy', streaming => 0,
	conf => "shared_preload_libraries = 'pgrepl_admin,passwordcheck'\n");
($rc, $stdout, $stderr) = $policy->psql('postgres', q{CREATE ROLE regress_weak PASSWORD 'abc'});
like($stderr, qr/password is too short/, 'passwordcheck refuses a short password to CREATE ROLE');
($rc, $stdout, $stderr) = $policy->psql('postgres', q{SELECT pgrepl_admin.create_replication_role('regress_weak', 'abc')});
like($stderr, qr/ERROR:  password is too short/, 'and to create_replication_role');
($rc, $stdout, $stderr) = $policy->psql('postgres',
	q{SELECT pgrepl_admin.create_replication_role('regress_weak', 'x9-regress_weak-y8')});
like($stderr, qr/ERROR:  password must not contain user name/, 'the policy sees the password as it was given');
is($policy->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'regress_weak'}), '0',
	'no role was made');
$policy->safe_psql('postgres', q{SELECT pgrepl_admin.create_replication_role('regress_strong', 'Long-enough-9-secret')});
is($policy->safe_psql('postgres', q{SELECT rolpassword LIKE 'SCRAM-SHA-256$4096:%' FROM pg_authid WHERE rolname = 'regress_strong'}),
	't', 'a password the policy accepts is stored as a SCRAM secret');
is($policy->safe_psql('postgres', q{
	SELECT length(password) FROM pgrepl_admin.add_standby('policy_sb', '10.44.0.1', create_slot => false)}),
	'32', 'generated passwords pass the policy');
unlike(slurp_file($policy->logfile), qr/ERROR:.*Long-enough-9-secret/, 'no error message carries a password');
$policy->stop;

done_testing();
