# A standby's pg_hba.conf follows the replicated pgrepl_admin.hba_rules
# within seconds of replay, not at its next hba_check_interval (1 hour
# here on every node, so that only the following can pass): a rule added
# on the primary admits a real connection to the standby, and its removal
# refuses it.  A failover: the rules replayed before the promotion are in
# place as soon as pg_promote() returns, so the promoted standby admits
# another standby at once, which then streams from it over verify-full;
# and the worker renders the file once more as it sees the promotion,
# before any other task, so that a managed line missing from the file
# (here taken out by hand) is back within seconds.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

# how long a replayed change may take to reach the standby's file
my $within = 30;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";
my $conf = "listen_addresses = '127.0.0.1'\n"
  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
  . "pgrepl_admin.hba_check_interval = '1h'\n"
  . "pgrepl_admin.lag_sample_interval = '1h'\n";

my $primary = new_primary('primary', conf => $conf);
# only local lines: over TCP, nothing but the managed rules admits anyone
set_hba($primary);
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
write_private_file($root, $primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");

# add_standby's name, password and slot, and a standby made with them
sub add_standby
{
	my ($name) = @_;
	my ($password, $slot, $conninfo) = split /\|/, $primary->safe_psql('postgres',
		"SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('$name', '127.0.0.1/32')");
	return ($password, $slot, "$conninfo sslrootcert=$root password=$password");
}

# poll_within($node, $sql, $what): whether $sql turns true on $node within
# $within seconds; says how long it took
sub poll_within
{
	my ($node, $sql, $what) = @_;
	my $start = time;
	while (time - $start < $within)
	{
		if ($node->safe_psql('postgres', $sql) eq 't')
		{
			note(sprintf('%s: %.1f s', $what, time - $start));
			return 1;
		}
		usleep(100_000);
	}
	return 0;
}

# rendered_within($node, $sql, $what, $log_offset): poll_within, then, when
# the file changed, wait for the reload that the rewrite signalled (logged
# after $log_offset); a new connection is then checked against the new file
sub rendered_within
{
	my ($node, $sql, $what, $log_offset) = @_;
	my $ok = poll_within($node, $sql, $what);
	$node->wait_for_log(qr/received SIGHUP, reloading configuration files/, $log_offset) if $ok;
	return $ok;
}

# the SQL that is true when a managed rule for $role is in $node's live
# pg_hba.conf, as the server's parser reads it
sub rule_sql
{
	my ($role) = @_;
	return "SELECT count(*) = 1 FROM pg_hba_file_rules WHERE '$role' = ANY(user_name) AND error IS NULL";
}

my ($s1_password, $s1_slot, $s1_conninfo) = add_standby('standby1');
my $standby1 = provisioned_standby($primary, 'standby1', $s1_conninfo, $s1_slot, $conf);

# a login role that only a managed rule admits, over verify-full TLS
my $app_password = $primary->safe_psql('postgres', "SELECT pgrepl_admin.create_replication_role('app_user')");
my $app_conn = tls_connstr($standby1, $root, user => 'app_user', password => $app_password);
$primary->wait_for_catchup($standby1, 'replay');
$standby1->connect_fails($app_conn, 'before the rule, the standby refuses the role',
	expected_stderr => qr/no pg_hba\.conf entry for host "127\.0\.0\.1", user "app_user"/);

# --- (a) a rule added on the primary reaches the standby's file within
# seconds, and admits a real connection there
my $log_offset = -s $standby1->logfile;
my $rule = $primary->safe_psql('postgres',
	"SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'app_user', database => 'postgres', comment => 'app on the standby')");
$primary->wait_for_catchup($standby1, 'replay');
ok(rendered_within($standby1, rule_sql('app_user'), 'the added rule reached the standby', $log_offset),
	"the standby's pg_hba_file_rules shows the rule added on the primary within $within s");
like(slurp_file($standby1->data_dir . '/pg_hba.conf'), qr/# pgrepl_admin rule $rule: app on the standby/,
	"the standby's pg_hba.conf holds the rule's line");
$standby1->connect_ok($app_conn, 'the standby admits the role the rule names', sql => 'SELECT 1');
like(slurp_file($standby1->logfile, $log_offset), qr/pgrepl_admin rewrote the managed block of .*pg_hba\.conf/,
	"the standby logged the rewrite");

# --- hba_remove on the primary: gone from the standby, which refuses
$log_offset = -s $standby1->logfile;
$primary->safe_psql('postgres', "SELECT pgrepl_admin.hba_remove($rule)");
$primary->wait_for_catchup($standby1, 'replay');
ok(rendered_within($standby1, 'SELECT NOT (' . rule_sql('app_user') . ')', 'the removal reached the standby', $log_offset),
	"the removed rule leaves the standby's pg_hba_file_rules within $within s");
unlike(slurp_file($standby1->data_dir . '/pg_hba.conf'), qr/# pgrepl_admin rule $rule:/,
	"and its line leaves the standby's pg_hba.conf");
$standby1->connect_fails($app_conn, 'the standby refuses the role again',
	expected_stderr => qr/no pg_hba\.conf entry for host "127\.0\.0\.1", user "app_user"/);

# --- (b) failover: a second standby is provisioned on the primary after
# the first was cloned, and the role gets its rule back
my ($s2_password, $s2_slot, $s2_conninfo) = add_standby('standby2');
my $standby2 = provisioned_standby($primary, 'standby2', $s2_conninfo, $s2_slot, $conf);
$rule = $primary->safe_psql('postgres',
	"SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'app_user', database => 'postgres', comment => 'app again')");
$primary->wait_for_catchup($standby1, 'replay');
ok(poll_within($standby1, rule_sql('standby2') . ' AND (' . rule_sql('app_user') . ')',
		'the second standby\'s rule reached the first'),
	"standby1 renders the rules of standby2 and app_user, replayed, within $within s");

# Someone takes the app_user line out of standby1's file by hand; no rule
# changes after this, so only the render at promotion puts it back.
my $hba1 = $standby1->data_dir . '/pg_hba.conf';
(my $edited = slurp_file($hba1)) =~ s/^[^\n]*# pgrepl_admin rule $rule: app again\n//m
  or die 'no line for the rule';
open(my $fh, '>', $hba1) or die $!;
print $fh $edited;
close($fh);
$standby1->reload;
$standby1->poll_query_until('postgres', 'SELECT NOT (' . rule_sql('app_user') . ')') or die;
$standby1->connect_fails($app_conn, 'with its line taken out by hand, standby1 refuses the role',
	expected_stderr => qr/no pg_hba\.conf entry/);

# the primary fails; standby1 is promoted, and admits standby2 at once
$primary->stop;
my $t0 = $standby1->safe_psql('postgres', 'SELECT now()');
$log_offset = -s $standby1->logfile;
is($standby1->safe_psql('postgres', 'SELECT pg_promote(wait => true)'), 't', 'pg_promote(wait => true) returns true');
my $repl1 = 'host=127.0.0.1 port=' . $standby1->port
  . " replication=true sslmode=verify-full sslrootcert=$root user=standby2 password=$s2_password";
$standby1->connect_ok($repl1, 'right after pg_promote() returns, the promoted standby admits standby2 (a rule added before the failover)',
	sql => 'IDENTIFY_SYSTEM');

# the render at promotion: the line is back, and hba_sync ran before the
# first run of the primary-only lag_sample
ok(rendered_within($standby1, rule_sql('app_user'), 'the render at promotion', $log_offset),
	"at promotion the worker renders the file again, within $within s");
$standby1->connect_ok($app_conn, 'the promoted standby admits the role again', sql => 'SELECT 1');
$standby1->poll_query_until('postgres',
	"SELECT runs > 0 FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'") or die;
is($standby1->safe_psql('postgres', qq{
	SELECT h.last_run > '$t0' AND h.last_run <= l.last_run
	FROM pgrepl_admin.worker_status h, pgrepl_admin.worker_status l
	WHERE h.task = 'hba_sync' AND l.task = 'lag_sample'}),
	't', 'hba_sync ran at promotion, before the first primary-only task');

# --- standby2 is re-pointed to the promoted standby over verify-full
$standby1->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('$s2_slot', true)");
(my $to_new = $s2_conninfo) =~ s/port=\d+/'port=' . $standby1->port/e;
$standby2->safe_psql('postgres', "ALTER SYSTEM SET primary_conninfo = '$to_new'");
$standby2->reload;
ok($standby1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 JOIN pg_replication_slots sl ON sl.active_pid = r.pid
		 WHERE r.application_name = 'standby2' AND r.state = 'streaming' AND s.ssl
		   AND r.usename = 'standby2' AND sl.slot_name = '$s2_slot'"),
	'standby2 streams from the promoted standby over TLS from its slot');
$standby1->safe_psql('postgres', 'CREATE TABLE after_failover AS SELECT 42 AS answer');
$standby1->wait_for_catchup($standby2, 'replay');
is($standby2->safe_psql('postgres', 'SELECT answer FROM after_failover'), '42',
	'a write on the promoted standby reaches standby2');

$standby2->stop;
$standby1->stop;

done_testing();
