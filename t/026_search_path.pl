# No code of anyone else's runs inside the extension (issue 22 item 1).
# mallory, an unprivileged role with CREATE on public, plants in public and
# in a schema of its own that the callers put first in their search_path a
# better-matching function or operator for every name the extension's code
# uses (PgreplAdminTest::plant_hostile_objects: the list is read from the
# SQL scripts, the C sources and the clone command).  The database and the
# superuser get that search_path with ALTER DATABASE and ALTER ROLE, which
# the workers' connections take up.  Then everything that runs outside the
# SQL functions' pinned search_path runs for real: the maintenance worker's
# every task (lag_sample with a streaming standby and a pg_receivewal, as
# in the issue's reproduction, hba_sync repairing drift on the primary and
# following the table on the standby, cert_renew renewing, sync_fallback
# lowering and putting back, sync_pending naming a deferred standby,
# backup_history_prune),
# a backup worker (backup_start, backup_stop), the transaction callbacks at
# commit (hba_add, add_standby's slot, remove_standby, set_synchronous) in
# sessions with the hostile search_path, and pgrepl_clone_standby with a
# hostile PGOPTIONS.  Nothing planted may run, and mallory stays a plain
# role.  The controls then show that the planting would have matched:
# every object planted in evil runs when called by its bare name with the
# hostile path, the better matches in public with the default path, and
# replication_lag() or check() with its pin taken off, read by the
# superuser, makes mallory superuser.  (Every function and view called by
# each role with that search_path is t/095_privileges.pl's sweep.)

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

# the framework's own queries must not meet the planted objects either
$ENV{PGOPTIONS} = '-c search_path=pg_catalog,pg_temp';

my $primary = new_primary('sp_primary', conf => join('',
	"listen_addresses = '127.0.0.1'\n",
	"pgrepl_admin.primary_host = '127.0.0.1'\n",
	"pgrepl_admin.lag_sample_interval = 1\n",
	"pgrepl_admin.hba_check_interval = 1\n",
	"pgrepl_admin.cert_check_interval = 1\n",
	"pgrepl_admin.synchronous_fallback_after = '2s'\n",
	"wal_keep_size = '256MB'\n"));
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day');
	SELECT standby_name FROM pgrepl_admin.add_standby('sb', '127.0.0.1/32', create_slot => false);
});
my $standby = new_standby($primary, 'sb');
$primary->safe_psql('postgres', 'SELECT pgrepl_admin.set_synchronous(num => 1)');

my $planted = plant_hostile_objects($primary);
like($planted, qr/^function \d+, operator \d+$/, "mallory planted functions and operators ($planted)");
my $superuser = $primary->safe_psql('postgres', 'SELECT current_user');
$primary->safe_psql('postgres', qq{
	ALTER DATABASE postgres SET search_path = $HOSTILE_PATH;
	ALTER ROLE "$superuser" SET search_path = $HOSTILE_PATH;
});
# the workers start again, with those settings
my $since = $primary->safe_psql('postgres', 'SELECT now()');
$primary->restart;
$standby->restart;
{
	local $ENV{PGOPTIONS};
	is($primary->safe_psql('postgres', 'SHOW search_path'), $HOSTILE_PATH,
		'a new connection of the superuser gets the hostile search_path');
}
is($primary->safe_psql('postgres', q{
		SELECT count(*) FROM pg_operator
		WHERE oprname = '>' AND oprleft = 'numeric'::regtype AND oprright = 'bigint'::regtype
		  AND oprnamespace = 'public'::regnamespace AND oprowner = 'mallory'::regrole}),
	'1', 'among them the operator the issue found, public.>(numeric, bigint)');

# a session with the hostile search_path
sub hostile_psql
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', "SET search_path = $HOSTILE_PATH;\n$sql");
}

# --- the transaction callbacks, in the callers' sessions
my $rule = hostile_psql($primary, q{SELECT pgrepl_admin.hba_add('10.91.0.0/16', 'sb', comment => 'search_path')});
like(slurp_file($primary->data_dir . '/pg_hba.conf'), qr/# pgrepl_admin rule $rule: search_path/,
	'hba_add in a hostile session: the rule was written at commit');
hostile_psql($primary, q{
	BEGIN;
	SELECT standby_name FROM pgrepl_admin.add_standby('sp_other', '127.0.0.1/32');
	COMMIT;
});
is($primary->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sp_other'}),
	'1', 'add_standby in a hostile session: its slot was made at commit');
hostile_psql($primary, q{SELECT pgrepl_admin.remove_standby('sp_other')});
is($primary->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sp_other'}),
	'0', 'remove_standby in a hostile session: its slot was dropped at commit');
hostile_psql($primary, q{SELECT pgrepl_admin.set_synchronous(ARRAY['sb'], num => 1)});
ok($primary->poll_query_until('postgres', q{SELECT current_setting('synchronous_standby_names') = 'ANY 1 (sb)'}),
	'set_synchronous in a hostile session: the setting was written at commit');

# --- a backup worker
like(hostile_psql($primary, q{SELECT pgrepl_admin.backup_start('sp_backup', fast => true)}),
	qr{^[0-9A-F]+/[0-9A-F]+$}, 'backup_start in a hostile session');
like(hostile_psql($primary, q{SELECT lsn FROM pgrepl_admin.backup_stop('sp_backup')}),
	qr{^[0-9A-F]+/[0-9A-F]+$}, 'backup_stop in a hostile session');
is($primary->safe_psql('postgres', q{SELECT state FROM pgrepl_admin.backups WHERE label = 'sp_backup'}),
	'stopped', 'the backup worker recorded the backup');

# --- each task of the maintenance worker
# lag_sample: samples of the streaming standby and of a pg_receivewal, as
# in the issue's reproduction (the view's "lagging" test compares numeric
# with bigint: public.>(numeric, bigint) matches it better than the
# built-in)
my $waldir = PostgreSQL::Test::Utils::tempdir();
my $receivewal = IPC::Run::start(
	[
		'pg_receivewal', '--no-loop', '--no-password', '--directory' => $waldir,
		'--dbname' => $primary->connstr('postgres') . ' application_name=sp_receivewal'
	],
	'>', \my $rw_out, '2>', \my $rw_err);
ok($primary->poll_query_until('postgres', qq{
		SELECT count(DISTINCT standby_name) = 2 FROM pgrepl_admin.lag_history
		WHERE standby_name IN ('sb', 'sp_receivewal') AND sampled_at > '$since'
		  AND sampled_at > (SELECT backend_start FROM pg_stat_replication WHERE application_name = 'sp_receivewal')
		  + interval '2 seconds'}),
	'lag_sample sampled the streaming standby and pg_receivewal, for more than two seconds')
  or diag("pg_receivewal: $rw_err");
# hba_sync on the primary: an edit inside the managed block is repaired
my $hba = $primary->data_dir . '/pg_hba.conf';
my $good = slurp_file($hba);
(my $edited = $good) =~ s/(# END pgrepl_admin managed block)/host all all 0.0.0.0\/0 trust\n$1/;
open(my $fh, '>', $hba) or die $!;
print $fh $edited;
close($fh);
ok($primary->poll_query_until('postgres',
		q{SELECT pg_read_file(current_setting('hba_file')) NOT LIKE '%0.0.0.0/0 trust%'}),
	'hba_sync repaired the managed block');
# hba_sync on the standby: it follows the replicated rule
ok($standby->poll_query_until('postgres',
		"SELECT pg_read_file(current_setting('hba_file')) LIKE '%# pgrepl_admin rule $rule: search_path%'"),
	"hba_sync on the standby rendered the replicated rule");
# cert_renew: a certificate within cert_renew_before is renewed
my $serial = $primary->safe_psql('postgres', q{SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'server'});
$primary->safe_psql('postgres', q{ALTER SYSTEM SET pgrepl_admin.cert_renew_before = '2d'; SELECT pg_reload_conf()});
ok($primary->poll_query_until('postgres',
		"SELECT serial <> '$serial' AND served FROM pgrepl_admin.certificates WHERE kind = 'server'"),
	'cert_renew renewed the server certificate');
$primary->safe_psql('postgres', q{ALTER SYSTEM RESET pgrepl_admin.cert_renew_before; SELECT pg_reload_conf()});
# sync_fallback: the standby stops, the setting is lowered; it comes back,
# the stored setting is put back
$standby->stop;
ok($primary->poll_query_until('postgres',
		q{SELECT fallback_state = 'active' FROM pgrepl_admin.synchronous_fallback()}),
	'sync_fallback lowered the setting when the standby stopped');
$standby->start;
ok($primary->poll_query_until('postgres', q{
		SELECT fallback_state = 'ok' AND current_setting('synchronous_standby_names') = 'ANY 1 (sb)'
		FROM pgrepl_admin.synchronous_fallback()}),
	'sync_fallback put the stored setting back when the standby came back');
# sync_pending: a standby added with synchronous => true that does not
# stream is deferred; once a walsender streams under its name the task
# names it (sync_setting_forget_pending() compares text[] values:
# public.=(text[], text[]) is planted)
like(hostile_psql($primary, q{
		SELECT synchronous FROM pgrepl_admin.add_standby('sp_late', '127.0.0.1/32', create_slot => false,
			synchronous => true)}),
	qr/deferred/, 'add_standby(synchronous => true) in a hostile session deferred a standby that does not stream');
my $late_dir = PostgreSQL::Test::Utils::tempdir();
my $late = IPC::Run::start(
	[
		'pg_receivewal', '--no-loop', '--no-password', '--directory' => $late_dir,
		'--dbname' => $primary->connstr('postgres') . ' application_name=sp_late'
	],
	'>', \my $late_out, '2>', \my $late_err);
ok($primary->poll_query_until('postgres', q{
		SELECT pending IS NULL AND value = 'ANY 1 (sb, sp_late)' FROM pgrepl_admin.synchronous_setting}),
	'sync_pending named the deferred standby once it streamed')
  or diag("pg_receivewal: $late_err");
$late->kill_kill;
# every task, present or future, ran and succeeded since the restart
ok($primary->poll_query_until('postgres', qq{
		SELECT bool_and(last_run > '$since' AND runs > 0 AND last_outcome = 'ok')
		FROM pgrepl_admin.worker_status WHERE state <> 'disabled'}),
	'every task of the worker ran since, and succeeded')
  or diag($primary->safe_psql('postgres', 'SELECT * FROM pgrepl_admin.worker_status'));

# --- the clone command, its psql sessions given the hostile search_path
my $clone = PostgreSQL::Test::Cluster->new('sp_clone');
my ($out, $err) = ('', '');
{
	local $ENV{PGOPTIONS} = "-c search_path=evil,pg_catalog,public";
	ok( IPC::Run::run(
			[
				"$FindBin::RealBin/../scripts/pgrepl_clone_standby",
				'--primary' => $primary->connstr('postgres'),
				'--source' => $primary->data_dir,
				'--target' => $clone->data_dir,
				'--name' => 'sp_clone',
				'--address' => '127.0.0.1/32',
				'--set' => 'port=' . $clone->port,
				'--set' => 'unix_socket_directories=' . $clone->host,
				'--log' => $clone->logfile,
				'--wait' => 180,
				'--start'
			],
			'>', \$out, '2>', \$err),
		'pgrepl_clone_standby with a hostile PGOPTIONS made a streaming standby')
	  or diag("stdout:\n$out\nstderr:\n$err");
}
# (a clone that failed left no server to stop)
$clone->_update_pid(-1);

# --- nothing planted ran, anywhere
is(planted_runs($primary, $standby, $clone), '', 'no planted function or operator ran');
is($primary->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is not superuser');
$receivewal->kill_kill;

# --- the positive controls: the same names, called where nothing pins the
# path, do find the planted objects (else the assertions above prove nothing)
like(planted_reached($primary, 'evil', $HOSTILE_PATH), qr/^(\d+) of \1; missed: $/,
	'control: every object planted in evil runs when called by its bare name with the hostile search_path');
# (in public, the copies with the built-ins' own argument types are not
# reached: pg_catalog, searched first, has them)
my $public_reached = planted_reached($primary, 'public', '"$user", public');
my ($public_count) = $public_reached =~ /^(\d+ of \d+)/;
like($public_reached, qr/^[1-9]\d* of /,
	"control: with the default search_path, the better matches planted in public run ($public_count)");
unlike($public_reached, qr/missed: .*operator public\.>\(numeric, bigint\)/,
	'control: among them public.>(numeric, bigint)');
# the issue's reproduction, with the pin taken off one function at a time:
# a superuser reading it with the default search_path makes mallory
# superuser
for my $f ('pgrepl_admin.replication_lag()', 'pgrepl_admin.check()')
{
	$primary->safe_psql('postgres', "ALTER FUNCTION $f RESET search_path");
	$primary->safe_psql('postgres', qq{SET search_path = "\$user", public; SELECT count(*) FROM $f});
	like(planted_runs($primary), qr/^mallory is superuser$/m,
		"control: $f without its pinned search_path, called by a superuser, makes mallory superuser");
	$primary->safe_psql('postgres', qq{
		ALTER FUNCTION $f SET search_path = pg_catalog, pg_temp;
		ALTER ROLE mallory NOSUPERUSER;
		TRUNCATE public.planted_log});
}

$clone->stop if $clone->{_pid};
done_testing();
