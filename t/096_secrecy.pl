# Secrecy: with every statement, debug1 messages and verbose errors logged
# (stderr, csvlog and jsonlog), the whole API runs on a TLS primary and on a
# standby that streams with the client key add_standby() returned.  No
# generated password and no private key (those the API returned, and those
# held in $PGDATA/pgrepl_admin, replaced ones included) may appear in any
# log file of either server, in any row of any table or view of any
# database, in pg_dump or pg_dumpall output, or in any message sent to a
# client: errors provoked with secret-bearing arguments, calls that fail
# after a password or key was generated, a corrupt CA key.  Controls show
# that the same search finds a password and a key line planted on purpose
# in each of those places.

use strict;
use warnings;

use IPC::Run;
use MIME::Base64 qw(decode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = new_primary('primary', conf => <<'EOC');
listen_addresses = '127.0.0.1'
pgrepl_admin.primary_host = '127.0.0.1'
pgrepl_admin.lag_sample_interval = '1s'
log_statement = 'all'
log_min_messages = debug1
log_min_error_statement = debug1
log_error_verbosity = verbose
log_connections = on
log_disconnections = on
log_replication_commands = on
logging_collector = on
log_destination = 'stderr,csvlog,jsonlog'
log_directory = 'log'
EOC
set_hba($primary);
my $store = $primary->data_dir . '/pgrepl_admin';
my $key_dir = $primary->safe_psql('postgres', 'SHOW pgrepl_admin.ca_key_directory');

# --- the secrets, and what the test sends to clients' stderr
my %passwords;        # label => password
my %keys;             # label => PEM of a private key
my %seen_key;         # PEM => label, so that a key read twice counts once
my $client_messages = '';

# sql($query, %opts): run $query with psql on the primary (or opts{node},
# database opts{db}) with verbose errors and context, keep everything the
# server sent to stderr, and return stdout; dies on error unless opts{errors}.
sub sql
{
	my ($query, %opts) = @_;
	my $node = $opts{node} // $primary;
	my ($ret, $out, $err) = $node->psql($opts{db} // 'postgres',
		"\\set VERBOSITY verbose\n\\set SHOW_CONTEXT always\n$query",
		on_error_stop => $opts{errors} ? 0 : 1);
	$client_messages .= $err;
	die "psql failed ($ret): $err" if $ret != 0;
	return $out;
}

sub add_key
{
	my ($label, $pem) = @_;
	return if $seen_key{$pem};
	$seen_key{$pem} = $label;
	$keys{$label} = $pem;
}

# every private key in the managed files as they are now: the store in the
# data directory and the CA key directory outside it
sub collect_file_keys
{
	my ($when) = @_;
	for my $dir ($store, $key_dir)
	{
		my $where = $dir eq $store ? 'pgrepl_admin' : 'the CA key directory';
		opendir(my $dh, $dir) or die "could not open $dir: $!";
		for my $f (sort grep { -f "$dir/$_" } readdir($dh))
		{
			my $text = slurp_file("$dir/$f");
			while ($text =~ /(-----BEGIN ([A-Z ]*)PRIVATE KEY-----\n.*?\n-----END \2PRIVATE KEY-----)/sg)
			{
				add_key("key in $where/$f ($when)", $1);
			}
		}
		closedir($dh);
	}
}

# add_standby's result as a hash
sub add_standby
{
	my ($args) = @_;
	my $row = sql("SELECT concat_ws('\@\@', coalesce(password, ''), primary_conninfo,
	                 coalesce(client_certificate, ''), coalesce(client_key, ''))
	               FROM pgrepl_admin.add_standby($args)");
	my %r;
	@r{qw(password conninfo cert key)} = split /\@\@/, $row, -1;
	return \%r;
}

sub issue_client_cert
{
	my ($role, $key_type) = @_;
	my ($cert, $key) = split /\@\@/,
	  sql("SELECT certificate || '\@\@' || private_key
	       FROM pgrepl_admin.issue_client_cert('$role', '1 day', '$key_type')");
	return ($cert, $key);
}

sub rotate
{
	my ($key_type) = @_;
	return sql("SELECT serial FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day', '$key_type')");
}

sub random_text
{
	my ($n) = @_;
	my @c = ('a' .. 'z', 'A' .. 'Z', 0 .. 9);
	return join('', map { $c[ int(rand(@c)) ] } 1 .. $n);
}

# an SQL expression for a text, so that the statement carries it only in hex
sub hex_literal
{
	return "convert_from('\\x" . unpack('H*', $_[0]) . "'::bytea, 'UTF8')";
}

# --- certificates: a CA, a served server certificate, client certificates
sql("SELECT pgrepl_admin.ca_init(key_type => 'rsa-2048')");
collect_file_keys('after ca_init');
rotate('ec-p256');
collect_file_keys('after the first rotation');
write_private_file($root, sql('SELECT pgrepl_admin.ca_certificate()') . "\n");
sql('CREATE ROLE certuser LOGIN');
for my $type (qw(ec-p256 ec-p384 rsa-2048 ed25519))
{
	my ($cert, $key) = issue_client_cert('certuser', $type);
	add_key("issue_client_cert $type key", $key);
	if ($type eq 'ec-p256')
	{
		write_private_file("$tmp/certuser.crt", "$cert\n");
		write_private_file("$tmp/certuser.key", "$key\n");
	}
}
sql("SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'certuser', database => 'postgres', method => 'cert')");
$primary->connect_ok(tls_connstr($primary, $root, user => 'certuser',
		sslcert => "$tmp/certuser.crt", sslkey => "$tmp/certuser.key"),
	'a returned client key is real: cert authentication admits certuser',
	sql => 'SELECT current_user', expected_stdout => qr/^certuser$/);

# --- prepare_primary, roles and rules
sql("SELECT * FROM pgrepl_admin.prepare_primary()");
sql("SELECT * FROM pgrepl_admin.prepare_primary(listen_addresses => '127.0.0.1', apply => true)");
$passwords{'create_replication_role password'} =
  sql("SELECT pgrepl_admin.create_replication_role('gen_role')");
my $gen_rule = sql("SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'gen_role', database => 'postgres')");
$primary->connect_ok(tls_connstr($primary, $root, user => 'gen_role',
		password => $passwords{'create_replication_role password'}),
	'the generated password is real: gen_role logs in with it over scram-sha-256',
	sql => 'SELECT current_user', expected_stdout => qr/^gen_role$/);

# a password typed by the user: kept out of the log by this session's own
# settings (log_statement would log it, as any statement), then errors
# provoked with secret-bearing arguments, including one raised after the
# verifier was computed from the password
my $typed = 'Typed-' . random_text(26);
my $typed_again = 'Typed-' . random_text(26);
$passwords{'typed password'} = $typed;
$passwords{'typed password of failed calls'} = $typed_again;
my $before = length($client_messages);
sql(qq{
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT pgrepl_admin.create_replication_role('typed_role', '$typed');
SELECT pgrepl_admin.create_replication_role('typed_role', '$typed_again');
SELECT pgrepl_admin.create_replication_role('pg_typed_role', '$typed_again');
SELECT pgrepl_admin.create_replication_role(E'typed\\nrole', '$typed_again');
SELECT pgrepl_admin.create_replication_role('typed_role2', '$typed_again', if_not_exists => NULL);
}, errors => 1);
my $typed_errors = substr($client_messages, $before);
like($typed_errors, qr/role "typed_role" already exists/, 'provoked: an existing role with a typed password');
like($typed_errors, qr/role name "pg_typed_role" is reserved/,
	'provoked: CREATE ROLE refuses the name after the verifier was computed');
like($typed_errors, qr/role_name must not contain control characters/, 'provoked: a bad role name');
like($typed_errors, qr/if_not_exists must not be NULL/, 'provoked: a NULL argument');
sql("SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'typed_role', database => 'postgres')");
$primary->connect_ok(tls_connstr($primary, $root, user => 'typed_role', password => $typed),
	'the typed password logs in', sql => 'SELECT current_user', expected_stdout => qr/^typed_role$/);

# --- standbys: scram and cert, one of them real
my $scram = add_standby("'scram_standby', '127.0.0.1/32'");
$passwords{'add_standby password'} = $scram->{password};
$primary->connect_ok('host=127.0.0.1 port=' . $primary->port
	  . " replication=true sslmode=verify-full sslrootcert=$root user=scram_standby"
	  . " password=$scram->{password}",
	'the password add_standby returned admits a replication connection', sql => 'IDENTIFY_SYSTEM');
my $spare = add_standby("'cert_spare', '203.0.113.205/32', auth => 'cert', create_slot => false");
add_key('add_standby client_key (cert_spare)', $spare->{key});
sql("SELECT pgrepl_admin.remove_standby('cert_spare')");

my $certsb = add_standby("'cert_standby', '127.0.0.1/32', auth => 'cert'");
add_key('add_standby client_key (cert_standby)', $certsb->{key});
write_private_file("$tmp/cert_standby.crt", "$certsb->{cert}\n");
write_private_file("$tmp/cert_standby.key", "$certsb->{key}\n");
my $standby = provisioned_standby($primary, 'cert_standby',
	"$certsb->{conninfo} sslrootcert=$root sslcert=$tmp/cert_standby.crt sslkey=$tmp/cert_standby.key",
	'cert_standby');
pass('a standby streams with the client key add_standby returned');

# --- CA replacement, rotation, retirement
my $old_ca = sql("SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'");
sql("SELECT pgrepl_admin.ca_init(replace => true, key_type => 'ec-p384')");
collect_file_keys('after the CA replacement');
rotate('rsa-2048');
my (undef, $key) = issue_client_cert('certuser', 'ec-p256');
add_key('issue_client_cert key of the new CA', $key);
sql("SELECT pgrepl_admin.ca_retire('$old_ca')");
collect_file_keys('after the CA retirement');

# --- backups
sql("SELECT pgrepl_admin.backup_start('secrecy')");
sql("SELECT * FROM pgrepl_admin.backup_stop('secrecy')");
sql("SELECT pgrepl_admin.backup_start('secrecy_abort')");
sql("SELECT pgrepl_admin.backup_abort('secrecy_abort')");

# --- renewal by the worker
my $serial = rotate('ec-p256');
collect_file_keys('before the renewal');
sql(q{ALTER SYSTEM SET pgrepl_admin.cert_check_interval = '1s';
	ALTER SYSTEM SET pgrepl_admin.cert_renew_before = '2d';
	SELECT pg_reload_conf();});
$primary->poll_query_until('postgres',
	"SELECT serial <> '$serial' AND served FROM pgrepl_admin.certificates WHERE kind = 'server'")
  or die 'the worker did not renew the certificate';
sql('ALTER SYSTEM RESET pgrepl_admin.cert_renew_before; SELECT pg_reload_conf()');
pass('the worker renewed the server certificate');
collect_file_keys('after the renewal');

# --- calls that fail after a secret was made, and a corrupt CA key
$before = length($client_messages);
mkdir("$store/server.pem.tmp") or die;
sql(q{
SELECT * FROM pgrepl_admin.add_standby('refused_standby', '0.0.0.0/0');
SELECT (client_key IS NOT NULL)::int / 0 FROM pgrepl_admin.add_standby('late_failure', '127.0.0.1/32', auth => 'cert');
SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day');
SELECT pgrepl_admin.issue_client_cert('certuser', '1000 years');
SELECT pgrepl_admin.ca_retire('not-a-serial');
}, errors => 1);
rmdir("$store/server.pem.tmp") or die;
my $ca_key_file = "$key_dir/ca-" . sql("SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'") . '.key';
my $ca_pem = slurp_file($ca_key_file);
(my $corrupt = $ca_pem) =~ s/(-----BEGIN PRIVATE KEY-----\n)[^\n]+/$1 . ('A' x 64)/e;
write_private_file($ca_key_file, $corrupt);
sql(q{
SELECT pgrepl_admin.issue_client_cert('certuser');
SELECT * FROM pgrepl_admin.add_standby('corrupt_ca', '127.0.0.1/32', auth => 'cert');
SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca';
}, errors => 1);
write_private_file($ca_key_file, $ca_pem);
my $failures = substr($client_messages, $before);
like($failures, qr/address 0\.0\.0\.0\/0 admits every/, 'provoked: add_standby refused after generating a password');
like($failures, qr/division by zero/, 'provoked: a query failing after add_standby made a key');
like($failures, qr/could not remove file "pgrepl_admin\/server\.pem\.tmp"/,
	'provoked: a rotation failing to install after making a key');
like($failures, qr/valid_for must not exceed 100 years/, 'provoked: a bad validity');
like($failures, qr/invalid serial number/, 'provoked: a bad serial');
like($failures, qr/reading the CA key failed/, 'provoked: a corrupt CA key');
is(sql("SELECT count(*) FROM pgrepl_admin.standbys WHERE name IN ('refused_standby', 'late_failure', 'corrupt_ca')")
	  . sql("SELECT count(*) FROM pg_roles WHERE rolname IN ('refused_standby', 'late_failure', 'corrupt_ca')"),
	'00', 'the failed calls left no standby and no role');
is(sql("SELECT key_matches FROM pgrepl_admin.certificates WHERE kind = 'ca'"), 't', 'the CA key is whole again');

# --- a rotation whose install fails leaves no temporary copy of a key: the
# old pair's archive cannot be put in place (a directory has its name)
my $old_serial = sql("SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'");
my $blocker = "$store/server-previous-$old_serial.pem";
# (the failed rotation above archived the pair already)
unlink($blocker);
mkdir($blocker) or die $!;
my ($rotate_rc, $rotate_out, $rotate_err) = $primary->psql('postgres',
	"SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
rmdir($blocker) or die $!;
isnt($rotate_rc, 0, 'a rotation that cannot archive the old pair fails');
like($rotate_err, qr/could not open file ".*server-previous-\Q$old_serial\E\.pem": Is a directory/,
	'with the error of putting it in place');
opendir(my $store_dh, $store) or die $!;
is(join(',', grep { /\.tmp$/ } readdir $store_dh), '',
	'and leaves no temporary file behind (it held the old private key)');
closedir($store_dh);
is(sql("SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'"), $old_serial,
	'the server keeps its pair');

# --- removals, the health check, every view and set-returning function
sql("SELECT pgrepl_admin.hba_remove($gen_rule)");
sql("SELECT pgrepl_admin.drop_replication_role('gen_role')");
sql("SELECT pgrepl_admin.hba_sync()");
sql("SELECT pgrepl_admin.remove_standby('scram_standby')");
$primary->poll_query_until('postgres', 'SELECT count(*) > 0 FROM pgrepl_admin.lag_history')
  or die 'no lag sample';
my $api_rows = sql(join('', map { "SELECT t::text FROM pgrepl_admin.$_ t;\n" } qw(check()
	  prepare_primary() certificates() worker_status() replication_lag() backup_slots()
	  hba_file_status() wal_position())));
like($api_rows, qr/\(maintenance_worker,/, 'check() ran');

# --- controls: a password and a key line, written on purpose into the log,
# a table and an error (the statements carry them only as hex)
my $decoy_password = sql("SELECT pgrepl_admin.create_replication_role('decoy_role')");
my (undef, $decoy_key) = issue_client_cert('decoy_role', 'ec-p256');
my ($decoy_line) = $decoy_key =~ /-----\n[^\n]+\n([^\n]+)\n/;
$passwords{'control: password planted on purpose'} = $decoy_password;
$keys{'control: key line planted on purpose'} = $decoy_key;
my $planted = hex_literal($decoy_password) . ', ' . hex_literal($decoy_line);
sql("DO \$\$BEGIN RAISE LOG 'secrecy control % %', $planted; END\$\$");
sql("DO \$\$BEGIN RAISE EXCEPTION 'secrecy control % %', $planted; END\$\$", errors => 1);
sql('CREATE DATABASE appdb');
sql("CREATE TABLE planted (t text); INSERT INTO planted VALUES ("
	  . hex_literal($decoy_password) . '), (' . hex_literal($decoy_line) . ')', db => 'appdb');

# --- every row of every table and view of every database (information_schema
# only shows the catalogs again), pg_dump of each, pg_dumpall; on the
# standby, whose tables are the primary's, its views
$primary->wait_for_catchup($standby, 'replay');
my $rows = $api_rows;
my $dumps = '';

sub read_relations
{
	my ($node, $db, $relkinds) = @_;
	my @rels = split /\n/, sql(qq{SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ($relkinds) AND n.nspname NOT IN ('pg_toast', 'information_schema') ORDER BY 1},
		node => $node, db => $db);
	my ($ret, $out, $err) = $node->psql($db, join('', map { "SELECT t::text FROM $_ t;\n" } @rels),
		on_error_stop => 0);
	$rows .= $out . $err;
	return scalar(@rels);
}

for my $db (split /\n/, sql('SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1'))
{
	cmp_ok(read_relations($primary, $db, q{'r', 'v', 'm', 'p', 'f'}), '>', 100,
		"primary: $db: every table and view read");
	my ($dump, $dump_err) = ('', '');
	ok(IPC::Run::run([ 'pg_dump', '-d', $primary->connstr($db) ], '>', \$dump, '2>', \$dump_err),
		"pg_dump of $db");
	$dumps .= $dump . $dump_err;
}
cmp_ok(read_relations($standby, 'postgres', q{'v'}), '>', 50, 'standby: every view read');
my ($dumpall, $dumpall_err) = ('', '');
ok(IPC::Run::run([ 'pg_dumpall', '-h', $primary->host, '-p', $primary->port ], '>', \$dumpall, '2>', \$dumpall_err),
	'pg_dumpall');
$dumps .= $dumpall . $dumpall_err;
like($dumpall, qr/ROLE typed_role .*PASSWORD 'SCRAM-SHA-256\$4096:/, 'pg_dumpall holds the roles, with their verifiers');
like($dumps, qr/pgrepl_admin\.hba_rules/, 'pg_dump holds the configuration tables');
like($rows, qr/cert_standby/, 'the rows read hold the standbys');

collect_file_keys('at the end');
$standby->stop;
$primary->stop;

# --- the server logs, every file in every format
my %logs = (stderr => '', csvlog => '', jsonlog => '');
for my $node ($primary, $standby)
{
	$logs{stderr} .= slurp_file($node->logfile);
	for my $f (glob($node->data_dir . '/log/*'))
	{
		my $format = $f =~ /\.csv$/ ? 'csvlog' : $f =~ /\.json$/ ? 'jsonlog' : 'stderr';
		$logs{$format} .= slurp_file($f);
	}
}
like($logs{stderr}, qr/statement: SELECT concat_ws.*?add_standby/s, 'statements are logged');
like($logs{stderr}, qr/DEBUG:/, 'debug1 messages are logged');
like($logs{stderr}, qr/ERROR:  42710: role "typed_role" already exists/, 'the provoked errors are logged');
like($logs{stderr}, qr/pgrepl_admin renewed the server certificate/, "the worker's renewal is logged");

# --- the secrets are what they should be
my @passwords = sort keys %passwords;
my @keys = sort keys %keys;
for my $p (@passwords)
{
	my $re = $p =~ /typed/ ? qr/^Typed-[A-Za-z0-9]{26}$/ : qr/^[A-Za-z0-9_-]{32}$/;
	like($passwords{$p}, $re, "$p: a password of the expected form");
}
my %needles;    # needle => label
for my $k (@keys)
{
	my ($body) = $keys{$k} =~ /^-----BEGIN PRIVATE KEY-----\n(.+)\n-----END PRIVATE KEY-----\n?$/s;
	my $der = decode_base64($body // '');
	ok(defined $body && length($der) >= 48 && substr($der, 0, 1) eq "\x30", "$k: a PKCS#8 PEM key");
	(my $joined = $body // '') =~ s/\n//g;
	$needles{$_} = $k for grep { length($_) >= 16 } split(/\n/, $body // ''), $joined;
	$needles{ unpack('H*', $der) } = $k;
	$needles{ uc unpack('H*', $der) } = $k;
}
$needles{ $passwords{$_} } = $_ for @passwords;
is(join(' ', grep { !m{^[A-Za-z0-9+/=_-]{16,}$} } keys %needles), '',
	'every needle is a run of at least 16 base64, URL-safe base64 or hex characters');
cmp_ok(scalar(grep { /^key in the CA key directory\/ca-/ } @keys), '>=', 2, 'the CA keys were collected, the replaced one too');
cmp_ok(scalar(grep { /^key in pgrepl_admin\/server/ } @keys), '>=', 4,
	'the server keys were collected, the previous and renewed ones too');

# --- the search
my $needle_re = join('|', map { quotemeta } sort { length($b) <=> length($a) } keys %needles);
$needle_re = qr/($needle_re)/;

# The labels of the secrets found in $text.  Every needle is made of
# base64, URL-safe base64 or hex characters and has at least 16 of them, so
# it can only occur inside a run of such characters at least that long:
# the needles are looked for in those runs only, which is much faster.
sub found
{
	my ($text) = @_;
	my %runs = map { $_ => 1 } $text =~ m{([A-Za-z0-9+/=_-]{16,})}g;
	my $runs = join("\n", keys %runs);
	my %found;
	$found{ $needles{$1} } = 1 while $runs =~ /$needle_re/g;
	return \%found;
}

my %haystacks = (
	'the server logs' => join('', values %logs),
	'pg_dump and pg_dumpall output' => $dumps,
	'the rows of every table and view' => $rows,
	'the messages sent to clients' => $client_messages);
for my $where (sort keys %haystacks)
{
	my $found = found($haystacks{$where});
	for my $secret (@passwords, @keys)
	{
		if ($secret =~ /^control/)
		{
			ok($found->{$secret}, "$secret: found in $where");
		}
		else
		{
			ok(!$found->{$secret}, "$secret: not in $where");
		}
	}
	ok(index($haystacks{$where}, 'PRIVATE KEY-----') < 0, "no PEM private key in $where");
}
for my $format (sort keys %logs)
{
	my $found = found($logs{$format});
	ok($found->{'control: key line planted on purpose'} && $found->{'control: password planted on purpose'},
		"the controls are found in the $format files");
}
# a password generated in a call that then failed is known to no one: no
# error may hold anything of its shape
my @shaped = grep { /[a-z]/ && /[A-Z]/ && $_ ne $decoy_password }
  $client_messages =~ /(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])/g;
is("@shaped", '', 'no message to a client holds a string shaped like a generated password');

done_testing();
