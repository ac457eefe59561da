# Debian clusters end to end, as a DBA following the README and the runbooks
# does (issue 27): two pg_createcluster clusters of the installed version
# (the Debian package when scripts/test.sh installed it, else "make
# install"), configured in /etc/postgresql/NN/CLUSTER; a primary, and a
# standby made over the second cluster's data directory by
# pgrepl_clone_standby from a local source (first refused, before it
# provisions anything, while that cluster's configuration in /etc holds a
# value postgres -C refuses).  The standby preloads
# pgrepl_admin although its postgresql.conf (in /etc) does not, its worker
# runs and keeps the managed rules in its real pg_hba.conf (in /etc), the
# clone's last line says pg_ctlcluster, and its walreceiver's connection
# has TCP keepalives.  Synchronous replication is chosen; the primary is
# stopped with -m immediate and the standby promoted with pg_ctlcluster
# promote; a commit on the promoted server must return (a harness time-out
# ends it when it waits).  The CA key is backed up with the runbook's
# commands as written (a 0600 archive under umask 022).  Then the failover
# runbook's steps: the promoted
# server's own standbys row removed, slots recreated for the other
# standbys only, and the old primary rejoining by a clone over its old data
# directory under a name, whose postgresql.auto.conf then has one line per
# setting.  The clusters are dropped at the end, also on failure.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

plan skip_all => 'pg_createcluster is not installed' unless -x '/usr/bin/pg_createcluster';
my $major = `pg_config --version` =~ /PostgreSQL (\d+)/ ? $1 : die 'no pg_config';
# pg_createcluster runs the server of /usr/lib/postgresql/MAJOR: a server
# built from source (16 here, doc/versions.md) has no Debian clusters
chomp(my $bindir = `pg_config --bindir`);
plan skip_all => "PostgreSQL $major is not Debian's package (its bindir is $bindir)"
  unless $bindir eq "/usr/lib/postgresql/$major/bin";
plan skip_all => "this user may not make clusters in /etc/postgresql (run as postgres)"
  unless -w '/etc/postgresql' && -w '/var/lib/postgresql';

my $script = "$FindBin::RealBin/../scripts/pgrepl_clone_standby";
my $socket = '/var/run/postgresql';
my %port = (t027p => PostgreSQL::Test::Cluster::get_free_port(),
	t027s => PostgreSQL::Test::Cluster::get_free_port());
my @made;

# pg_dropcluster both, whatever happened; and the CA key directories the
# dropped clusters leave behind (doc/runbooks.md, "Remove a standby")
END
{
	my $rc = $?;
	for my $cluster (@made)
	{
		system('pg_dropcluster', '--stop', $major, $cluster);
		# (pg_dropcluster leaves it; the runbook says to remove it)
		system('rm', '-rf', "/var/lib/postgresql/$major/pgrepl_admin_ca_$cluster");
	}
	$? = $rc;
}

sub cluster_cmd
{
	my @cmd = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err, IPC::Run::timeout(300));
	diag("@cmd: $out$err") unless $ok;
	return $ok;
}

# sql($cluster, $query, timeout => s): the query's output through the
# Debian socket, or undef when it failed or did not return in time
sub sql
{
	my ($cluster, $query, %opts) = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(
			[ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $socket,
				'-p', $port{$cluster}, '-d', 'postgres', '-c', $query ],
			'>', \$out, '2>', \$err, IPC::Run::timeout($opts{timeout} // 180));
	};
	unless ($ok)
	{
		diag("$cluster: $query: " . ($@ || $err));
		return undef;
	}
	chomp $out;
	return $out;
}

sub poll
{
	my ($cluster, $query) = @_;
	for (1 .. 1800)
	{
		my $v = sql($cluster, $query);
		return 1 if defined $v && $v eq 't';
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

for my $cluster (qw(t027p t027s))
{
	cluster_cmd('pg_createcluster', $major, $cluster, '-p', $port{$cluster})
	  or die "pg_createcluster $major $cluster failed\n";
	push @made, $cluster;
}
# the primary preloads pgrepl_admin in its postgresql.conf (here a conf.d
# file); the standby's configuration does not
my $pconf = "/etc/postgresql/$major/t027p";
append_to_file("$pconf/conf.d/pgrepl_admin.conf",
	"shared_preload_libraries = 'pgrepl_admin'\nlisten_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n");
ok(cluster_cmd('pg_ctlcluster', $major, 't027p', 'start'), 'pg_ctlcluster starts the primary');
sql('t027p', 'CREATE EXTENSION pgrepl_admin');
sql('t027p', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
sql('t027p', 'CREATE TABLE t (id int)');
ok(!-e "/var/lib/postgresql/$major/t027s/postgresql.conf", "the standby's data directory has no postgresql.conf");

# --- the clone over the second cluster
# first with an error in its configuration in /etc (a value the server
# refuses, so that postgres -C cannot read it, while pg_lsclusters still
# finds the cluster): refused before anything is provisioned or copied
# (that configuration does not come with the copy), not after a whole copy
# and a finished backup
my $broken = "/etc/postgresql/$major/t027s/conf.d/broken.conf";
append_to_file($broken, "shared_buffers = 'lots'\n");
my ($out, $err) = ('', '');
my $refused_ok = IPC::Run::run(
	[ $script, '--primary', "host=$socket port=$port{t027p} dbname=postgres",
		'--source', "/var/lib/postgresql/$major/t027p",
		'--target', "/var/lib/postgresql/$major/t027s", '--name', 's027' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(600));
unlink($broken) or die $!;
ok(!$refused_ok, "a clone over a cluster whose configuration cannot be read fails");
like($err, qr{could not read the standby's configuration in /etc/postgresql/$major/t027s},
	'it says which configuration');
unlike($out, qr/provisioning|copying/, 'it fails before provisioning and copying');
is(sql('t027p', 'SELECT count(*) FROM pgrepl_admin.standbys'), '0', 'no standby was provisioned');
is(sql('t027p', "SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running')"), '0',
	'no backup was started');

($out, $err) = ('', '');
my $clone_ok = IPC::Run::run(
	[ $script, '--primary', "host=$socket port=$port{t027p} dbname=postgres",
		'--source', "/var/lib/postgresql/$major/t027p",
		'--target', "/var/lib/postgresql/$major/t027s", '--name', 's027', '--set', "port=$port{t027s}" ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(600));
ok($clone_ok, 'pgrepl_clone_standby over a pg_createcluster cluster') or diag("$out\n$err");
my @lines = split /\n/, $out;
like($lines[-1], qr/no --start\): pg_ctlcluster $major t027s start$/, 'its last line says pg_ctlcluster');
like($out, qr{the standby's pg_hba\.conf is /etc/postgresql/$major/t027s/pg_hba\.conf},
	"it names the standby's real pg_hba.conf, in /etc");
ok(cluster_cmd('pg_ctlcluster', $major, 't027s', 'start'), 'pg_ctlcluster starts the standby');
ok(poll('t027s', "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'"),
	"the standby's worker runs");
ok(poll('t027p', "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 's027' AND state = 'streaming'"),
	'the standby streams');
# (the worker writes it after it starts: polled)
my $hba_has_rule = 0;
for (1 .. 1800)
{
	last if $hba_has_rule = slurp_file("/etc/postgresql/$major/t027s/pg_hba.conf") =~ /\bs027\b/;
	select(undef, undef, undef, 0.1);
}
ok($hba_has_rule, "the standby's worker wrote the primary's managed rule for it into its pg_hba.conf in /etc");
like(sql('t027s', 'SELECT conninfo FROM pg_stat_wal_receiver'), qr/keepalives_idle=30/,
	"the standby's primary_conninfo asks for TCP keepalives");
# (the kernel's view of the walreceiver's socket: libpq always turns
# keepalives on, but with the kernel's idle time, 2 hours, unless told)
SKIP:
{
	skip 'ss (iproute2) is not installed', 1 unless system('sh', '-c', 'command -v ss >/dev/null') == 0;
	my ($timer, $unit) = `ss -tno state established dst 127.0.0.1:$port{t027p}` =~ /timer:\(keepalive,([\d.]+)(ms|sec|min)/;
	ok(defined $timer && ($unit eq 'ms' || ($unit eq 'sec' && $timer <= 30)),
		"the walreceiver's connection sends its first keepalive probe within 30 s of silence")
	  or diag('timer: ' . ($timer // 'none') . ' ' . ($unit // ''));
}

# --- synchronous replication, then a failover
# (chosen after the clone here; a clone of a primary whose stored setting
# already names standbys, and its promotion, is t/030_sync_promotion.pl)
sql('t027p', "SELECT pgrepl_admin.set_synchronous(ARRAY['s027'], 1, 'any')");
ok(poll('t027p', "SELECT sync_state = 'quorum' FROM pg_stat_replication WHERE application_name = 's027'"),
	'the standby is synchronous');
is(sql('t027p', 'INSERT INTO t VALUES (1) RETURNING id'), '1', 'a commit on the primary returns');
ok(poll('t027s', 'SELECT count(*) = 1 FROM t'), 'the standby has it');
# the CA key backup the runbook asks for while the primary is there (the
# key is outside the data directory: the standby has none): its commands
# as written, for this cluster, the home directory a temporary one, under
# the usual umask 022
my ($backup_sh) = slurp_file("$FindBin::RealBin/../doc/runbooks.md") =~ /^## Back up the CA key\n.*?^```sh\n(.*?)^```/ms;
my $home = PostgreSQL::Test::Utils::tempdir;
$backup_sh =~ s{/var/lib/postgresql/15}{/var/lib/postgresql/$major}g;
$backup_sh =~ s/pgrepl_admin_ca_main/pgrepl_admin_ca_t027p/g;
ok(cluster_cmd('env', "HOME=$home", 'sh', '-ec', "umask 022\n$backup_sh"), "runbook: the CA key directory backed up");
my $archive = "$home/pgrepl_admin_ca_backup/pgrepl_admin_ca_t027p.tar.gz";
is(sprintf('%04o', (stat $archive)[2] & 07777), '0600', 'runbook: the archive of the CA key is mode 0600');
like(`tar -tzf $archive`, qr{^pgrepl_admin_ca_t027p/ca-.*\.key$}m, 'runbook: it holds the key files');
my $ca_backup = PostgreSQL::Test::Utils::tempdir;
ok(cluster_cmd('tar', '-C', $ca_backup, '-xzf', $archive), 'runbook: the archive unpacks');
$ca_backup .= '/pgrepl_admin_ca_t027p';
ok(cluster_cmd('pg_ctlcluster', $major, 't027p', 'stop', '-m', 'immediate'), 'the primary stopped with -m immediate');
ok(cluster_cmd('pg_ctlcluster', $major, 't027s', 'promote'), 'pg_ctlcluster promotes the standby');
ok(poll('t027s', 'SELECT NOT pg_is_in_recovery()'), 'the standby is promoted');
unlike(sql('t027s', 'SHOW synchronous_standby_names'), qr/\bs027\b/,
	'the promoted server does not name itself in synchronous_standby_names');
# (the harness time-out only keeps a waiting commit from hanging the test)
is(sql('t027s', 'INSERT INTO t VALUES (2) RETURNING id', timeout => 60), '2',
	'a commit on the promoted server returns');
# a commit left waiting is cancelled, and the stored setting emptied, so
# that the runbook's steps below can run
sql('t027s', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
sql('t027s', 'SELECT pgrepl_admin.set_synchronous(num => 0)');

# --- the failover runbook
ok(poll('t027s', "SELECT count(*) = 0 FROM pgrepl_admin.worker_status WHERE state = 'waiting-promotion'"),
	"the promoted server's worker takes up the primary's tasks");
is(sql('t027s', q{SELECT rule_id FROM pgrepl_admin.hba_status
	WHERE line_number IS NULL OR NOT loaded OR error IS NOT NULL}), '', 'runbook: every managed rule is loaded');
# its own standbys row goes first, so that the slots made next are the
# other standbys' only
is(sql('t027s', "SELECT pgrepl_admin.remove_standby('s027')"), 't',
	"runbook: the promoted server's own standbys row is removed");
is(sql('t027s', "SELECT count(*) FROM pg_roles WHERE rolname = 's027'"), '0', 'and its replication role');
sql('t027s', q{SELECT s.slot_name, pg_create_physical_replication_slot(s.slot_name, true)
	FROM pgrepl_admin.standbys s
	WHERE s.slot_name IS NOT NULL
	  AND NOT EXISTS (SELECT FROM pg_replication_slots r WHERE r.slot_name = s.slot_name)});
is(sql('t027s', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's027'}), '0',
	'runbook: no slot for the promoted server itself');

# runbook step 0: the CA key from the backup into the new primary's
# ca_key_directory
my $s_keys = sql('t027s', 'SHOW pgrepl_admin.ca_key_directory');
ok(cluster_cmd('install', '-d', '-m', '0700', $s_keys)
	  && cluster_cmd('sh', '-c', "cp -p '$ca_backup'/* '$s_keys'/ && chmod 0600 '$s_keys'/*"),
	'runbook: the CA key installed on the promoted server');
like(sql('t027s', "SELECT status FROM pgrepl_admin.check() WHERE check_name = 'ca_certificate'"), qr/^ok$/,
	"runbook: check()'s ca_certificate row is ok");
# runbook step 1: standbys dial the new primary, and its certificate covers
# that host
sql('t027s', "ALTER SYSTEM SET pgrepl_admin.primary_host = '127.0.0.1'");
sql('t027s', 'SELECT pg_reload_conf()');
like(sql('t027s', 'SELECT san FROM pgrepl_admin.rotate_server_cert()'), qr/\b127\.0\.0\.1\b/,
	'runbook: the promoted server rotates its certificate to cover the host standbys dial');

# the old primary rejoins by a clone over its old data directory, under a
# name of its own
($out, $err) = ('', '');
$clone_ok = IPC::Run::run(
	[ $script, '--primary', "host=$socket port=$port{t027s} dbname=postgres",
		'--source', "/var/lib/postgresql/$major/t027s",
		'--target', "/var/lib/postgresql/$major/t027p", '--name', 'p027', '--set', "port=$port{t027p}",
		'--start' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(600));
ok($clone_ok, 'runbook: the old primary rejoins by a clone, with --start (pg_ctlcluster)')
  or diag("$out\n$err");
like($out, qr/standby "p027" streams from the primary/, 'it streams from the promoted server');
my $auto = slurp_file("/var/lib/postgresql/$major/t027p/postgresql.auto.conf");
for my $setting (qw(primary_conninfo primary_slot_name port shared_preload_libraries))
{
	my $n = () = $auto =~ /^\Q$setting\E\s*=/mg;
	is($n, 1, "the rejoined server's postgresql.auto.conf has one $setting line");
}
like($auto, qr/^primary_conninfo = .*application_name=p027/m, 'its primary_conninfo names it p027');
is(sql('t027s', 'SELECT name FROM pgrepl_admin.standbys ORDER BY 1'), 'p027',
	'the old primary is registered under its name');

done_testing();
