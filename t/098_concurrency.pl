# Concurrency: 32 pgbench sessions provision and remove standbys (scram and
# cert) and add, remove and resync rules at random for a minute, over small
# pools of names, addresses and rules so that they collide, in single
# statements and in transactions of several operations (read committed,
# repeatable read, serializable, some rolled back).  Every error is either
# retryable (40001, 40P01: pgbench retries the transaction) or one of the
# documented errors of a legitimate collision listed below; at the end
# pg_hba.conf parses and its managed block equals hba_rules, the server has
# loaded it, every standby has its role and slot and nothing made for a
# standby outlives it, and real connections are admitted or refused as the
# table says.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $clients = 32;
my $seconds = $ENV{PGREPL_CONCURRENCY_SECONDS} // 60;
my @names = map { "s$_" } 0 .. 5;    # s4 and s5 use cert authentication

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

# %e: every error in the log carries its SQLSTATE
my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "pgrepl_admin.hba_check_interval = 0\n"
	  . "pgrepl_admin.lag_sample_interval = 0\n"
	  . "max_connections = 60\n"
	  . "max_replication_slots = 16\n"
	  . "log_line_prefix = '%m [%p] %e '\n");
set_hba($primary);
my $hba = $primary->data_dir . '/pg_hba.conf';
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

# One random operation, by number, on pool entry n (standby s<n>, rule
# 10.1.<n>.0/24) with variant a (address 127.0.0.1/32 or 10.0.0.2/32, rule
# method scram-sha-256 or cert).  A retryable error goes up to pgbench,
# which retries the whole transaction; any other error is logged as a
# WARNING with its SQLSTATE and the session goes on.  conc_log counts the
# operations that committed.
$primary->safe_psql('postgres', q{
SELECT pgrepl_admin.create_replication_role('conc_role');
CREATE TABLE conc_log (op text NOT NULL);
CREATE FUNCTION conc_op(k int, n int, a int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	ops CONSTANT text[] := '{add_standby,remove_standby,hba_add,hba_remove,hba_remove_any,hba_add_role,drop_role,hba_sync}';
	op text := ops[k];
	sname text := 's' || n;
	rid bigint;
BEGIN
	CASE op
	WHEN 'add_standby' THEN
		PERFORM pgrepl_admin.add_standby(sname, CASE a WHEN 0 THEN '127.0.0.1/32' ELSE '10.0.0.2/32' END::cidr,
			auth => CASE WHEN n >= 4 THEN 'cert' ELSE 'scram-sha-256' END);
	WHEN 'remove_standby' THEN
		PERFORM pgrepl_admin.remove_standby(sname);
	WHEN 'hba_add' THEN
		PERFORM pgrepl_admin.hba_add(('10.1.' || n || '.0/24')::cidr, 'conc_role',
			method => CASE a WHEN 0 THEN 'scram-sha-256' ELSE 'cert' END);
	WHEN 'hba_remove' THEN
		SELECT rule_id INTO rid FROM pgrepl_admin.hba_rules
		 WHERE role_name = 'conc_role' AND address = ('10.1.' || n || '.0/24')::cidr;
		IF FOUND THEN
			PERFORM pgrepl_admin.hba_remove(rid);
		END IF;
	WHEN 'hba_remove_any' THEN
		-- any replication rule: a standby's is refused
		SELECT rule_id INTO rid FROM pgrepl_admin.hba_rules WHERE database = 'replication' ORDER BY random() LIMIT 1;
		IF FOUND THEN
			PERFORM pgrepl_admin.hba_remove(rid);
		END IF;
	WHEN 'hba_add_role' THEN
		-- a rule naming a standby's role keeps the role when the standby goes
		PERFORM pgrepl_admin.hba_add('10.2.0.0/16', sname, database => 'postgres');
	WHEN 'drop_role' THEN
		-- that rule removed, and the role dropped unless a standby uses it
		SELECT rule_id INTO rid FROM pgrepl_admin.hba_rules WHERE role_name = sname AND database = 'postgres';
		IF FOUND THEN
			PERFORM pgrepl_admin.hba_remove(rid);
		END IF;
		PERFORM pgrepl_admin.drop_replication_role(sname)
		 WHERE NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.role_name = sname);
	WHEN 'hba_sync' THEN
		PERFORM pgrepl_admin.hba_sync();
	END CASE;
	INSERT INTO conc_log VALUES (op);
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE IN ('40001', '40P01') THEN
		RAISE;
	END IF;
	RAISE WARNING 'conc_error % %(%, %): %', SQLSTATE, op, n, a, SQLERRM;
END
$$;
});

# The pgbench script: mostly one operation in its own transaction, weighted
# towards adding and removing; a quarter of the time a transaction of three
# operations, at each isolation level, or rolled back.
my $script = "$tmp/concurrency.sql";
# [upper bound of r, what it runs]: operations 1 to 8 of conc_op alone
my @single = ([ 22, 1 ], [ 40, 2 ], [ 52, 3 ], [ 60, 4 ], [ 63, 5 ], [ 68, 6 ], [ 72, 7 ], [ 75, 8 ]);
my @multi = ([ 83, 'BEGIN', 'COMMIT' ], [ 88, 'BEGIN ISOLATION LEVEL REPEATABLE READ', 'COMMIT' ],
	[ 93, 'BEGIN ISOLATION LEVEL SERIALIZABLE', 'COMMIT' ], [ 100, 'BEGIN', 'ROLLBACK' ]);
my $text = join('', map { "\\set $_->[0] random($_->[1], $_->[2])\n" }
	  [ 'r', 1, 100 ], (map { [ "k$_", 1, 8 ], [ "n$_", 0, 5 ], [ "a$_", 0, 1 ] } 1 .. 3));
my $else = '\\if';
for my $s (@single)
{
	$text .= "$else :r <= $s->[0]\nSELECT conc_op($s->[1], :n1, :a1);\n";
	$else = '\\elif';
}
for my $m (@multi)
{
	$text .= "\\elif :r <= $m->[0]\n$m->[1];\n"
	  . join('', map { "SELECT conc_op(:k$_, :n$_, :a$_);\n" } 1 .. 3) . "$m->[2];\n";
}
$text .= "\\endif\n";
open(my $fh, '>', $script) or die;
print $fh $text;
close($fh);

# The errors a legitimate collision raises, each documented in doc/reference.md:
my @expected_errors = (
	# add_standby of a name that another session registered with the
	# other address ("another address ... for an existing name is an error")
	[ '42710', 'add_standby: the name has the other address', qr/^add_standby\(\d, \d\): standby "s\d" already exists with address [\d.]+\/32$/ ],
	# add_standby after remove_standby kept the role because a rule still
	# names it ("a role that exists under the standby's own name is an error")
	[ '42710', 'add_standby: a rule kept the role', qr/^add_standby\(\d, \d\): role "s\d" already exists$/ ],
	# hba_add of a rule that another session added with the other method
	[ '42710', 'hba_add: the rule has the other method', qr/^hba_add\(\d, \d\): pgrepl_admin rule \d+ already admits role "conc_role" from 10\.1\.\d\.0\/24, with method [\w-]+$/ ],
	# hba_add for the role of a standby that is not there ("role_name must
	# be an existing role")
	[ '42704', 'hba_add: no such role', qr/^hba_add_role\(\d, \d\): role "s\d" does not exist$/ ],
	# hba_remove of a standby's rule ("a rule that admits a standby goes
	# with remove_standby()")
	[ '2BP01', 'hba_remove: a standby\'s rule', qr/^hba_remove_any\(\d, \d\): pgrepl_admin rule \d+ admits standby "\w+"$/ ],
	# drop_replication_role of a role that a standby or a rule took in the
	# meantime ("one a standby or a managed rule still uses, is refused")
	[ '2BP01', 'drop_replication_role: the role is in use', qr/^drop_role\(\d, \d\): role "s\d" is still used by (standby s\d|pg_hba\.conf rule \d+)$/ ],
);

my $log_offset = -s $primary->logfile;

# --- a witness standby provisioned, and another removed, while they run
my @pgbench = ('pgbench', '-n', '-f', $script, '-c', $clients, '-j', 4, '-T', $seconds,
	'--max-tries=1000', '--failures-detailed', $primary->connstr('postgres'));
# into files: a full pipe would stop a session that holds the lock
my $bench = IPC::Run::start(\@pgbench, '>', "$tmp/pgbench.out", '2>', "$tmp/pgbench.err",
	IPC::Run::timeout($seconds + 120));

# in read committed every operation waits for the writers' lock: retry only
# the retryable errors, as pgbench does
sub retrying_psql
{
	my ($sql) = @_;
	for my $try (1 .. 100)
	{
		my ($rc, $stdout, $stderr) = $primary->psql('postgres', "\\set VERBOSITY verbose\n$sql",
			timeout => $seconds + 120);
		return $stdout if $rc == 0;
		die "$sql: $stderr" unless $stderr =~ /ERROR:  (40001|40P01):/;
	}
	die "$sql: no success after 100 tries";
}
sleep(int($seconds / 4));
my $witness_pw = retrying_psql("SELECT password FROM pgrepl_admin.add_standby('witness', '127.0.0.1/32')");
my $gone_pw = retrying_psql("SELECT password FROM pgrepl_admin.add_standby('gone', '127.0.0.1/32')");
sleep(int($seconds / 4));
retrying_psql("SELECT pgrepl_admin.remove_standby('gone')");

$bench->finish;
my $bench_rc = $bench->full_result(0);
my $out = slurp_file("$tmp/pgbench.out");
my $err = slurp_file("$tmp/pgbench.err");
is($bench_rc, 0, "pgbench: $clients sessions for $seconds s, no session aborted")
  or diag("pgbench exit status $bench_rc\n$err\n$out");

# --- every error: retryable, or an expected collision
my $log = substr(slurp_file($primary->logfile), $log_offset);
my (%retryable, %collisions, @unexpected);
for my $line (split /\n/, $log)
{
	if ($line =~ /\] (\w{5}) ERROR:  (.*)$/)
	{
		if ($1 eq '40001' || $1 eq '40P01') { $retryable{$1}++; }
		else { push @unexpected, $line; }
	}
	elsif ($line =~ /WARNING:  conc_error (\w{5}) (.*)$/)
	{
		my ($state, $msg) = ($1, $2);
		my ($expected) = grep { $_->[0] eq $state && $msg =~ $_->[2] } @expected_errors;
		if ($expected)
		{
			$collisions{"$state $expected->[1]"}++;
		}
		else { push @unexpected, $line; }
	}
	elsif ($line =~ /\] \w{5} (PANIC|FATAL|WARNING):/ && $line !~ /WARNING:  conc_error/)
	{
		push @unexpected, $line;
	}
	elsif ($line =~ /was not reloaded|could not (rename|remove|open|write|stat|fsync)/)
	{
		push @unexpected, $line;
	}
}
is(scalar(@unexpected), 0, 'every error is retryable (40001, 40P01) or an expected collision')
  or diag(join("\n", @unexpected[0 .. ($#unexpected < 20 ? $#unexpected : 19)]));
note("retryable errors: " . join(', ', map { "$_ x $retryable{$_}" } sort keys %retryable));
note("expected collisions: $_ x $collisions{$_}") for sort keys %collisions;

# throughput
my %committed = split /[|\n]/, $primary->safe_psql('postgres',
	'SELECT op, count(*) FROM conc_log GROUP BY op ORDER BY op');
my $total = 0;
$total += $_ for values %committed;
note(sprintf('committed operations: %d (%.1f/s): %s', $total, $total / $seconds,
	join(', ', map { "$_ $committed{$_}" } sort keys %committed)));
note("pgbench: $_") for grep { /transactions|retr|failures|tps/ } split /\n/, $out;
ok($committed{add_standby} && $committed{remove_standby} && $committed{hba_add} && $committed{hba_remove},
	'sessions added and removed standbys and rules');

# --- pg_hba.conf: valid, its block equal to the table, loaded
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL'),
	'0', 'pg_hba.conf: the server parses every line');
is(join(',', slurp_file($hba) =~ /# pgrepl_admin rule (\d+)/g),
	$primary->safe_psql('postgres',
		"SELECT coalesce(string_agg(rule_id::text, ',' ORDER BY rule_id), '') FROM pgrepl_admin.hba_rules"),
	'its managed block holds exactly the rules of hba_rules, in order');
my $lines = $primary->safe_psql('postgres', q{
	SELECT count(*) FROM pgrepl_admin.hba_rules r
	WHERE (SELECT count(*) FROM pg_hba_file_rules f
	       WHERE f.type = r.connection_type AND f.database = ARRAY[r.database]
	         AND f.user_name = ARRAY[r.role_name::text] AND f.address = host(r.address)
	         AND f.netmask = host(netmask(r.address)) AND f.auth_method = r.method) <> 1});
is($lines, '0', 'each rule is one line of the file, with its fields');
my $reload_offset = -s $primary->logfile;
$primary->reload;
ok($primary->poll_query_until('postgres', 'SELECT bool_and(loaded) AND bool_and(error IS NULL) FROM pgrepl_admin.hba_status'),
	'the server has loaded every rule');
unlike(substr(slurp_file($primary->logfile), $reload_offset), qr/ERROR|was not reloaded/, 'a reload logs no error');

# --- standbys, roles and slots
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM pgrepl_admin.standbys s
	LEFT JOIN pg_roles r ON r.rolname = s.role_name AND r.rolcanlogin AND r.rolreplication
	LEFT JOIN pg_replication_slots sl ON sl.slot_name = s.slot_name AND sl.slot_type = 'physical'
	LEFT JOIN pgrepl_admin.hba_rules h ON h.role_name = s.role_name AND h.address = s.address
	  AND h.database = 'replication' AND h.connection_type = 'hostssl' AND h.method = s.auth
	WHERE r.rolname IS NULL OR sl.slot_name IS NULL OR h.rule_id IS NULL}),
	'0', 'every standby has its LOGIN REPLICATION role, its slot and its rule');
# remove_standby keeps a role that a rule still names; drop_role drops it
# with the rule: so a pool role exists exactly while a standby or a rule
# names it, and a pool slot exactly while its standby does
my $pool = join(',', map { "'$_'" } @names, 'witness', 'gone');
is($primary->safe_psql('postgres', qq{
	SELECT coalesce(string_agg(rolname, ','), '') FROM pg_roles r
	WHERE rolname IN ($pool)
	  AND NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.role_name = r.rolname)
	  AND NOT EXISTS (SELECT FROM pgrepl_admin.hba_rules h WHERE h.role_name = r.rolname)}),
	'', 'no role made by add_standby is left without a standby or a rule naming it');
is($primary->safe_psql('postgres', q{
	SELECT coalesce(string_agg(slot_name, ','), '') FROM pg_replication_slots sl
	WHERE NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.slot_name = sl.slot_name)}),
	'', 'no slot is left without its standby');
is($primary->safe_psql('postgres', q{
	SELECT coalesce(string_agg(DISTINCT role_name, ','), '') FROM pgrepl_admin.hba_rules h
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = h.role_name)}),
	'', 'every rule names an existing role');

# --- real connections, as the table says
my $replconn = 'host=127.0.0.1 port=' . $primary->port . " replication=true sslmode=verify-full sslrootcert=$root";
$primary->connect_ok("$replconn user=witness password=$witness_pw",
	'the standby provisioned during the run logs in with its generated password (hostssl, scram)',
	sql => 'IDENTIFY_SYSTEM');
$primary->connect_fails("$replconn user=gone password=$gone_pw",
	'the standby removed during the run is refused',
	expected_stderr => qr/no pg_hba\.conf entry for replication connection from host "127\.0\.0\.1", user "gone"/);
# each pool name: with a rule for 127.0.0.1 the server gets to authentication
for my $name (@names)
{
	my $auth = $primary->safe_psql('postgres',
		"SELECT auth FROM pgrepl_admin.standbys WHERE name = '$name' AND address = '127.0.0.1/32'");
	my $expected =
	    $auth eq 'cert' ? qr/connection requires a valid client certificate/
	  : $auth ne '' ? qr/password authentication failed for user "$name"/
	  : qr/no pg_hba\.conf entry for replication connection from host "127\.0\.0\.1", user "$name"/;
	$primary->connect_fails("$replconn user=$name password=wrong",
		"$name: " . ($auth eq '' ? 'no rule for 127.0.0.1, refused' : "its $auth rule is in effect"),
		expected_stderr => $expected);
}

$primary->stop;
done_testing();
