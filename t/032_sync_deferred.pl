# add_standby(synchronous => true) for a standby that does not stream yet
# never leaves commits waiting for it (issue 27 item 2, the runbook's
# "Choose synchronous standbys" step 2): it is deferred, shown as such in
# its result row, synchronous_status and check(), and the worker makes it
# a synchronous standby when it first streams; set_synchronous() forgets a
# deferred standby, remove_standby() too.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";

my $primary = tls_primary('primary', $root);
# the clone's own connections (its TLS checks) at the end
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');
$primary->safe_psql('postgres', 'CREATE TABLE t (n int)');

sub sql { return $primary->safe_psql('postgres', $_[0]); }

# a commit on the primary: its value, or 'timed out' when it waits for ever
sub commit_on_primary
{
	my ($n) = @_;
	return commit_or_timeout($primary, "INSERT INTO t VALUES ($n) RETURNING n");
}

# --- the runbook's example, with synchronous replication off
my ($password, $slot, $conninfo) = split /\|/,
  sql("SELECT password, slot_name, primary_conninfo FROM pgrepl_admin.add_standby('db4', '127.0.0.1/32', synchronous => true)");
is(commit_on_primary(1), '1', 'a commit returns: the standby that does not stream yet is not waited for');
is(sql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names stays empty');
is(sql("SELECT synchronous FROM pgrepl_admin.add_standby('db4', '127.0.0.1/32', synchronous => true)"), 'deferred',
	'the result row says deferred');
is(sql('SELECT DISTINCT pending_standbys::text FROM pgrepl_admin.synchronous_status'), '{db4}',
	'synchronous_status shows it pending');
like(sql("SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'synchronous'"),
	qr/Deferred until they first stream \(then synchronous\): db4/, 'check() shows it deferred');

# --- it streams: the worker makes it synchronous
my $db4 = provisioned_standby($primary, 'db4', "$conninfo sslrootcert=$root password=$password", $slot);
ok($primary->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = 'ANY 1 (db4)'"),
	'once it streams, the worker makes it the synchronous standby');
is(sql('SELECT standbys::text, num, value, pending IS NULL FROM pgrepl_admin.synchronous_setting'),
	'{db4}|1|ANY 1 (db4)|t', 'stored, and no longer pending');
ok($primary->poll_query_until('postgres',
		"SELECT sync_state = 'quorum' FROM pg_stat_replication WHERE application_name = 'db4'"),
	'the server counts it as a synchronous (quorum) standby');
is(commit_on_primary(2), '2', 'a commit returns: db4 confirms it');
like(slurp_file($primary->logfile), qr/standby "db4" streams: it is now a synchronous standby/, 'logged');

# --- a second one streaming already is named at once
is(sql("SELECT synchronous FROM pgrepl_admin.add_standby('db4', '127.0.0.1/32', synchronous => true)"), 'named',
	'called again for a standby named already: named');

# --- set_synchronous() and remove_standby() forget a deferred standby
sql("SELECT pgrepl_admin.add_standby('db5', '127.0.0.5/32', synchronous => true)");
is(sql('SELECT pending::text FROM pgrepl_admin.synchronous_setting'), '{db5}', 'db5 deferred');
sql("SELECT pgrepl_admin.remove_standby('db5')");
is(sql('SELECT pending IS NULL FROM pgrepl_admin.synchronous_setting'), 't', 'remove_standby forgets it');
sql("SELECT pgrepl_admin.add_standby('db6', '127.0.0.6/32', synchronous => true)");
sql("SELECT pgrepl_admin.set_synchronous(ARRAY['db4'], 1, 'first')");
is(sql('SELECT pending IS NULL FROM pgrepl_admin.synchronous_setting'), 't', 'set_synchronous forgets it: the DBA chose anew');

# --- pgrepl_clone_standby --synchronous: the same deferral for a clone
my $db7 = PostgreSQL::Test::Cluster->new('db7');
my ($cout, $cerr) = ('', '');
my $cloned = IPC::Run::run(
	[
		"$FindBin::RealBin/../scripts/pgrepl_clone_standby",
		'--primary' => $primary->connstr('postgres'),
		'--source' => $primary->data_dir,
		'--target' => $db7->data_dir,
		'--name' => 'db7',
		'--address' => '127.0.0.1/32',
		'--set' => 'port=' . $db7->port,
		'--set' => 'unix_socket_directories=' . $db7->host,
		'--log' => $db7->logfile,
		'--wait' => 180,
		'--synchronous', '--start'
	],
	'>', \$cout, '2>', \$cerr);
note("pgrepl_clone_standby stdout:\n$cout\nstderr:\n$cerr");
ok($cloned, 'pgrepl_clone_standby --synchronous --start succeeds');
$db7->_update_pid(1);
like(slurp_file($db7->data_dir . '/postgresql.auto.conf'), qr/^synchronous_standby_names = ''$/m,
	"the clone's postgresql.auto.conf has no synchronous standby");
ok($primary->poll_query_until('postgres',
		"SELECT current_setting('synchronous_standby_names') = 'FIRST 1 (db4, db7)'"),
	'once the clone streams, the worker adds it to the synchronous standbys');
is(sql('SELECT pending IS NULL FROM pgrepl_admin.synchronous_setting'), 't', 'no longer pending');
is($db7->safe_psql('postgres', 'SHOW synchronous_standby_names'), '', 'the clone itself runs with none');

# --- a set_synchronous() that commits while the task waits for the lock
# (review of issue 22's sync work, defect 5): the task read db8 as pending
# before the DBA's transaction committed; once it has the lock, db8 is no
# longer pending (the DBA chose anew) and must not be added to the DBA's
# choice.  The order is made, not hoped for: the DBA's transaction holds
# the lock until the worker is seen waiting for it.
is(sql("SELECT synchronous FROM pgrepl_admin.add_standby('db8', '127.0.0.8/32', create_slot => false, synchronous => true)"),
	'deferred', 'db8 deferred');
my $dba = $primary->background_psql('postgres');
$dba->query_safe('BEGIN; SELECT pgrepl_admin.set_synchronous(num => 0)');
my $waldir = PostgreSQL::Test::Utils::tempdir();
my $db8 = IPC::Run::start(
	[
		'pg_receivewal', '--no-loop', '--no-password', '--directory' => $waldir,
		'--dbname' => $primary->connstr('postgres') . ' application_name=db8'
	],
	'>', \my $rw_out, '2>', \my $rw_err);
ok($primary->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE NOT l.granted AND l.relation = 'pgrepl_admin.synchronous_setting'::regclass
		  AND a.backend_type = 'pgrepl_admin maintenance'}),
	'db8 streams; the task, which read it pending, waits for the lock the DBA holds')
  or diag("pg_receivewal: $rw_err; " . sql('SELECT pid, backend_type, wait_event_type, query FROM pg_stat_activity'));
my $runs = task_status($primary, 'sync_pending', 'runs');
$dba->query_safe('COMMIT');
$dba->quit;
wait_for_task($primary, 'sync_pending', "runs > $runs");
is(sql('SELECT num, value, pending IS NULL FROM pgrepl_admin.synchronous_setting'), '0||t',
	"the DBA's num => 0 stands: the task did not add db8, no longer pending, to it");
is(sql('SHOW synchronous_standby_names'), '', 'and synchronous_standby_names is empty');
$db8->kill_kill;

done_testing();
