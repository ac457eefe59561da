# pgrepl_clone_standby end to end from a local source, provisioning the
# standby with pgrepl_admin.add_standby() (its role, a pg_hba.conf rule that
# is the only way in for replication, its slot): a fresh clone while rows are
# written streams over verify-full TLS and has the primary's data; a re-run
# over the stopped, stale copy, in which three files differ from the
# primary's with the same size and mtime (a small relation file, a block in
# the third 8 MB chunk of a larger one, and pg_ident.conf), reuses the
# provisioned standby, fixes all three and streams again; a running target is
# refused; a failing copy aborts the backup on the primary.  First,
# pgrepl_sync_blocks on its own, with files that the threads share in
# chunks, targets shorter, longer and empty, and a symbolic link.

use strict;
use warnings;

use Cwd qw(realpath);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $script = "$FindBin::RealBin/../scripts/pgrepl_clone_standby";
my $tmp = PostgreSQL::Test::Utils::tempdir;

# the primary serves TLS with pgrepl_admin's certificates; the standby
# connects with sslmode=verify-full and the CA bundle the command writes
my $primary = new_primary('primary',
	conf => "listen_addresses = '127.0.0.1'\npgrepl_admin.primary_host = '127.0.0.1'\n");
# replication is admitted only by the rule add_standby writes
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');
$primary->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day')");
$primary->safe_psql('postgres', q{
	CREATE TABLE accounts (id bigserial PRIMARY KEY, batch text NOT NULL, val text NOT NULL);
	INSERT INTO accounts (batch, val) SELECT 'before', md5(g::text) FROM generate_series(1, 20000) g;
	CREATE TABLE frozen AS SELECT g AS id, md5(g::text) AS val FROM generate_series(1, 5000) g;
	VACUUM FREEZE frozen;
	CREATE TABLE large AS SELECT g AS id, repeat(md5(g::text), 4) AS val FROM generate_series(1, 150000) g;
	VACUUM FREEZE large;
	CHECKPOINT;
});

# the primary's pg_wal is a symbolic link to a directory elsewhere (initdb
# -X), and it has credentials of its own in pgrepl_standby/ (it was once a
# standby made by the command): the clone copies neither
$primary->stop;
my $pg_wal = $primary->data_dir . '/pg_wal';
rename($pg_wal, "$tmp/primary_wal") or die $!;
symlink("$tmp/primary_wal", $pg_wal) or die $!;
mkdir($primary->data_dir . '/pgrepl_standby') or die $!;
write_private_file($primary->data_dir . '/pgrepl_standby/client.key', "the primary's own\n");
$primary->start;

# --- pgrepl_sync_blocks on its own
{
	my $sync_blocks = `pg_config --bindir`;
	chomp $sync_blocks;
	$sync_blocks .= '/pgrepl_sync_blocks';
	my ($src, $dst) = ("$tmp/sync_src", "$tmp/sync_dst");
	mkdir $_ or die $! for ($src, $dst, "$src/d", "$dst/d");
	my $put = sub {
		my ($path, $bytes) = @_;
		open(my $out, '>', $path) or die $!;
		binmode $out;
		print $out $bytes;
		close($out);
	};
	# bytes that differ from block to block, so that a misplaced block shows
	my $pattern = sub { join('', map { pack('N', $_) x 16 } 0 .. $_[0] / 64 - 1) };
	my $big = $pattern->(20 * 1024 * 1024);
	$put->("$src/big", $big);
	my $stale = $big;
	substr($stale, 17 * 1024 * 1024 + 5, 3) = 'XYZ';
	$put->("$dst/big", $stale);
	$put->("$src/shorter", $pattern->(9 * 1024 * 1024));
	$put->("$dst/shorter", substr($pattern->(9 * 1024 * 1024), 0, 3 * 1024 * 1024));
	$put->("$src/longer", 'short');
	$put->("$dst/longer", $pattern->(9 * 1024 * 1024));
	$put->("$src/empty", '');
	$put->("$dst/empty", 'not empty');
	$put->("$src/d/same", 'same');
	$put->("$dst/d/same", 'same');
	$put->("$src/d/x..y", 'dots');
	$put->("$dst/d/x..y", 'dots');
	$put->("$src/only_in_source", 'new');
	$put->("$src/linked", 'source');
	$put->("$tmp/outside", 'outside');
	symlink("$tmp/outside", "$dst/linked") or die $!;
	my $mtime = time - 3600;
	utime($mtime, $mtime, "$src/$_") or die $! for qw(big shorter longer empty d/same);
	utime($mtime, $mtime, "$dst/big") or die $!;

	my ($out, $err) = ('', '');
	my $paths = join("\0", qw(big shorter longer empty d/same d/x..y only_in_source linked missing)) . "\0";
	ok(IPC::Run::run([ $sync_blocks, '-j', '2', $src, $dst ], '<', \$paths, '>', \$out, '2>', \$err),
		'pgrepl_sync_blocks: succeeds');
	is($out, "6 files compared, 4 changed; 29 MB read, 6 MB rewritten\n",
		'pgrepl_sync_blocks: compares the files on both sides, rewrites what differs');
	for my $f (qw(big shorter longer empty d/same))
	{
		is(slurp_file("$dst/$f"), slurp_file("$src/$f"), "pgrepl_sync_blocks: $f has the source's contents");
		is((stat "$dst/$f")[9], $mtime, "pgrepl_sync_blocks: $f has the source's mtime");
	}
	ok(!-e "$dst/only_in_source", 'pgrepl_sync_blocks: a file only in the source is left for rsync');
	ok(-l "$dst/linked" && slurp_file("$tmp/outside") eq 'outside',
		'pgrepl_sync_blocks: a symbolic link in the target is not written through');

	$paths = "../escape\0";
	ok(!IPC::Run::run([ $sync_blocks, $src, $dst ], '<', \$paths, '>', \$out, '2>', \$err),
		'pgrepl_sync_blocks: a path out of the directories fails');
	like($err, qr/not a relative path inside the directory: "\.\.\/escape"/, 'pgrepl_sync_blocks: and says why');
}

# the standby's node: the script makes and starts it, the framework stops it
my $clone = PostgreSQL::Test::Cluster->new('clone');
my $target = $clone->data_dir;

sub clone_standby
{
	my (@extra) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			$script,
			'--primary' => $primary->connstr('postgres'),
			'--source' => $primary->data_dir,
			'--target' => $target,
			'--name' => 'clone',
			'--address' => '127.0.0.1/32',
			'--set' => 'port=' . $clone->port,
			'--set' => 'unix_socket_directories=' . $clone->host,
			'--log' => $clone->logfile,
			'--wait' => 180,
			@extra
		],
		'>', \$out, '2>', \$err);
	note("pgrepl_clone_standby stdout:\n$out\nstderr:\n$err");
	return ($ok, $out, $err);
}

sub digest
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres', "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY id)) FROM $table t");
}

sub writer
{
	my ($stop) = @_;
	my $connstr = $primary->connstr('postgres');
	my $out = '';
	my $h = IPC::Run::start(
		[
			'bash', '-c',
			qq{n=0; while [ ! -e '$stop' ]; do
			     psql -XAtq -d '$connstr' -v ON_ERROR_STOP=1 -c "INSERT INTO accounts (batch, val) SELECT 'during', md5(random()::text) FROM generate_series(1, 200)" || exit 1;
			     n=\$((n+1)); done; echo \$n}
		],
		'>', \$out);
	return ($h, \$out);
}

sub stop_writer
{
	my ($h, $stop) = @_;
	open(my $fh, '>', $stop) or die;
	close($fh);
	$h->finish;
	return;
}

sub check_standby
{
	my ($what) = @_;
	is($primary->safe_psql('postgres',
			"SELECT state FROM pg_stat_replication WHERE application_name = 'clone'"),
		'streaming', "$what: the clone streams");
	is($primary->safe_psql('postgres', "SELECT active FROM pg_replication_slots WHERE slot_name = 'clone'"),
		't', "$what: through its slot");
	is($primary->safe_psql('postgres',
			"SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.application_name = 'clone'"),
		't', "$what: over TLS");
	like($clone->safe_psql('postgres', 'SELECT conninfo FROM pg_stat_wal_receiver'),
		qr/sslmode=verify-full .*sslrootcert=\S+pgrepl_standby\/root\.crt/,
		"$what: verifying the primary with the CA bundle the command wrote");
	$primary->wait_for_catchup($clone, 'replay');
	is(digest($clone, 'accounts'), digest($primary, 'accounts'), "$what: same accounts (count and checksum)");
	is(digest($clone, 'frozen'), digest($primary, 'frozen'), "$what: same frozen table");
	is($primary->safe_psql('postgres',
			"SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running', 'stopping')"),
		'0', "$what: no backup left running on the primary");
}

# --- a fresh clone while rows are written
my ($h, $wrote) = writer("$tmp/stop1");
my ($ok, $out, $err) = clone_standby('--start');
stop_writer($h, "$tmp/stop1");
ok($ok, 'fresh clone: pgrepl_clone_standby succeeds');
like($out, qr/1\/6 provisioning standby "clone" on the primary with pgrepl_admin.add_standby\(\)/,
	'it provisions the standby with add_standby');
is($primary->safe_psql('postgres',
		"SELECT s.role_name || ' ' || s.slot_name || ' ' || r.method FROM pgrepl_admin.standbys s
		 JOIN pgrepl_admin.hba_rules r USING (role_name) WHERE s.name = 'clone'"),
	'clone clone scram-sha-256', 'its role, slot and pg_hba.conf rule are registered');
like($out, qr/CA bundle in \S+\/pgrepl_standby\/root\.crt/, 'it wrote the CA bundle');
like($out, qr/3\/6 copying .* \(fresh copy\)/, 'it made a fresh copy');
like($out, qr/6\/6 starting the standby and waiting until it streams/, 'it reports each step');
$clone->_update_pid(1);
chomp(my $n = $$wrote);
cmp_ok($n, '>', 0, "$n transactions were written during the clone");
is($primary->safe_psql('postgres',
		"SELECT state FROM pgrepl_admin.backups WHERE label LIKE 'pgrepl_clone_standby clone %'"),
	'stopped', 'its backup was stopped');
ok(-f "$target/standby.signal", 'standby.signal was written');
like(slurp_file($clone->logfile), qr/starting backup recovery with redo LSN/,
	'the clone recovered from the backup_label the command wrote');
check_standby('fresh clone');
ok(-d "$target/pg_wal" && !-l "$target/pg_wal", 'the clone has a pg_wal directory of its own, not the primary\'s link');
ok(!-e "$target/pgrepl_standby/client.key", 'the primary\'s own pgrepl_standby/ was not copied');
# the CA private key stays with the primary, outside its data directory
is(store_key_files($target), 'server.pem', 'the only private key in the clone\'s pgrepl_admin/ is the server key');
my $ca_key = slurp_file($primary->safe_psql('postgres', 'SHOW pgrepl_admin.ca_key_directory') . '/ca-'
	  . $primary->safe_psql('postgres', "SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'") . '.key');
is(files_holding_key($target, $ca_key), '', 'no file of the clone holds the CA private key');
my $pgpass = "$target/pgrepl_standby/pgpass";
is((stat $pgpass)[2] & 07777, 0600, 'the password is in pgrepl_standby/pgpass, mode 0600');
my ($password) = slurp_file($pgpass) =~ /^\*:\*:\*:\*:(.+)$/m;
cmp_ok(length($password // ''), '>=', 16, 'pgpass holds the generated password for any host and user');
my $shown = $clone->safe_psql('postgres', 'SHOW primary_conninfo');
like($shown, qr/passfile=\S+pgrepl_standby\/pgpass/, 'primary_conninfo names the passfile');
unlike($shown . slurp_file("$target/postgresql.auto.conf"), qr/\Q$password\E|password=/,
	'the password is neither in primary_conninfo (pg_settings) nor in postgresql.auto.conf');

# --- a running target is refused
($ok, $out, $err) = clone_standby();
ok(!$ok, 'a target with a running server is refused');
like($err, qr/a server is running in \Q$target\E/, 'with a clear message');

# --- a re-run over a stale copy: one file differs with the same size and mtime
$clone->stop;
$primary->safe_psql('postgres',
	"INSERT INTO accounts (batch, val) SELECT 'later', md5(g::text) FROM generate_series(1, 1000) g");
my $relpath = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('frozen')");
my $source_file = $primary->data_dir . "/$relpath";
my $stale_file = "$target/$relpath";
is(-s $stale_file, -s $source_file, 'the copy of frozen has the primary\'s size');
open(my $fh, '+<', $stale_file) or die $!;
binmode $fh;
seek($fh, 8192 + 4096, 0);
print $fh 'X' x 64;
close($fh);
utime((stat $source_file)[8, 9], $stale_file) or die $!;
# a block in the third 8 MB chunk of a larger relation file, likewise
my $large_relpath = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('large')");
my $large_source = $primary->data_dir . "/$large_relpath";
my $large_stale = "$target/$large_relpath";
cmp_ok(-s $large_source, '>', 17 * 1024 * 1024, 'large is more than two 8 MB chunks long');
open($fh, '+<', $large_stale) or die $!;
binmode $fh;
seek($fh, 16 * 1024 * 1024 + 8192 + 4096, 0);
print $fh 'X' x 64;
close($fh);
utime((stat $large_source)[8, 9], $large_stale) or die $!;
my ($rc, $dry);
IPC::Run::run([ 'rsync', '-a', '--dry-run', '--itemize-changes', $source_file, $stale_file ], '>', \$dry);
is($dry, '', 'rsync without --checksum would keep the stale file (same size and mtime)');
# and a file outside the relation directories, likewise
my $stale_conf = "$target/pg_ident.conf";
my $conf = slurp_file($stale_conf);
$conf =~ s/#/%/ or die 'no # in pg_ident.conf';
open($fh, '>', $stale_conf) or die $!;
print $fh $conf;
close($fh);
utime((stat($primary->data_dir . '/pg_ident.conf'))[8, 9], $stale_conf) or die $!;
chmod(0400, $stale_conf) or die $!;    # and read-only

# the copy's pg_wal is a link to the primary's WAL, as earlier versions of
# the command left it from a primary made with initdb -X: it must be
# replaced, not emptied
my @primary_wal = glob("$tmp/primary_wal/0*");
system('rm', '-rf', "$target/pg_wal") == 0 or die;
symlink("$tmp/primary_wal", "$target/pg_wal") or die $!;

($h, $wrote) = writer("$tmp/stop2");
{
	# a password for the primary in the environment, which the standby's
	# passfile must win over
	local $ENV{PGPASSWORD} = 'not the standby password';
	($ok, $out, $err) = clone_standby('--start');
}
stop_writer($h, "$tmp/stop2");
ok($ok, 're-run over the stale copy: pgrepl_clone_standby succeeds');
like($out, qr/pg_wal was a link to \Q$tmp\E\/primary_wal; replaced by a directory/,
	'a pg_wal link into the primary\'s WAL is replaced');
ok(-d "$target/pg_wal" && !-l "$target/pg_wal", 'by a directory of its own');
cmp_ok(scalar(grep { -e } @primary_wal), '>', 0, 'and the primary\'s WAL segments are still there');
like($out, qr/standby "clone" was provisioned before; keeping the password of the existing copy/,
	'it reused the provisioned standby and its password');
like($out, qr/update of an existing copy: files compared block by block/,
	'it compared contents');
like($out, qr/[1-9]\d* files compared, [1-9]\d* changed/,
	'the block comparison rewrote the files that differ');
$clone->_update_pid(1);
check_standby('re-run');
is(slurp_file($stale_file), slurp_file($source_file), 'the stale relation file was put right');
ok(slurp_file($large_stale) eq slurp_file($large_source), 'the stale block of the larger relation file was put right');
is(slurp_file($stale_conf), slurp_file($primary->data_dir . '/pg_ident.conf'),
	'the stale, read-only file outside the relation directories was put right');
is((stat $stale_conf)[2] & 07777, (stat($primary->data_dir . '/pg_ident.conf'))[2] & 07777,
	'and has the source\'s mode again');
is(slurp_file("$target/pgrepl_standby/pgpass"), "*:*:*:*:$password\n",
	'the standby kept its pgpass through the copy');

# --- a failure after backup_start aborts the backup
$clone->stop;
($ok, $out, $err) = clone_standby('--source' => 'nosuchhost.invalid:/nowhere',
	'--ssh' => '-o BatchMode=yes -o ConnectTimeout=5');
ok(!$ok, 'a failing copy fails the command');
like($err, qr/rsync failed with exit code/, 'it says rsync failed');
like($err, qr/aborting backup "pgrepl_clone_standby clone .*" on the primary/, 'and that it aborts the backup');
is($primary->safe_psql('postgres',
		"SELECT state || ': ' || error FROM pgrepl_admin.backups WHERE label LIKE 'pgrepl_clone_standby clone %' ORDER BY started_at DESC LIMIT 1"),
	'aborted: aborted with pgrepl_admin.backup_abort()', 'the backup was aborted on the primary');

# --- a standby provisioned before, cloned into an empty directory: its
# password was given out once and is not here, so nothing starts
$primary->safe_psql('postgres', "SELECT pgrepl_admin.add_standby('other', '127.0.0.1/32')");
$rc = IPC::Run::run([ $script, '--primary' => $primary->connstr('postgres'),
		'--source' => $primary->data_dir, '--target' => "$tmp/other", '--name' => 'other',
		'--address' => '127.0.0.1/32' ],
	'>', \$out, '2>', \$err);
ok(!$rc, 'a standby provisioned before cannot be cloned without its password');
like($err, qr/holds no password for it; remove it with pgrepl_admin.remove_standby\(\)/, 'and says what to do');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pgrepl_admin.backups WHERE label LIKE '%other%'"),
	'0', 'before starting a backup');

# --- the command killed (SIGTERM) while backup_start waits: the checkpointer
# is stopped, so the backup's start waits for its checkpoint; the command
# must end at once and the backup be aborted, and recorded, all the same
my $checkpointer = $primary->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
my $checkpointer_stopped = 1;
END { kill 'CONT', $checkpointer if $checkpointer_stopped; }
kill 'STOP', $checkpointer;
($out, $err) = ('', '');
my $killed = IPC::Run::start(
	[ $script, '--primary' => $primary->connstr('postgres'), '--source' => $primary->data_dir,
		'--target' => "$tmp/killed", '--name' => 'killed', '--address' => '127.0.0.1/32' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(60));
$primary->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pgrepl_admin.backups b JOIN pg_stat_activity a ON a.pid = b.worker_pid
	WHERE b.label LIKE 'pgrepl_clone_standby killed %' AND b.state = 'starting'
	  AND a.wait_event = 'CheckpointStart'})
  or die 'the backup of the command to kill does not wait for its checkpoint';
$killed->signal('TERM');
my $ended = eval { $killed->finish; 1 };
$killed->kill_kill unless $ended;
kill 'CONT', $checkpointer;
$checkpointer_stopped = 0;
note("killed pgrepl_clone_standby stdout:\n$out\nstderr:\n$err");
ok($ended, 'the command killed while backup_start waits ends at once');
like($err, qr/aborting backup "pgrepl_clone_standby killed .*" on the primary/, 'it aborts the backup');
ok( $primary->poll_query_until('postgres', q{
		SELECT state = 'aborted' FROM pgrepl_admin.backup_history WHERE label LIKE 'pgrepl_clone_standby killed %'}),
	'the backup is aborted and recorded');
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running', 'stopping')"),
	'0', 'no backup is left in progress');

# --- the copy is on disk before the standby may start: strace sees every
# fsync of the command's processes; the copied files, and the directories
# they are in, before backup_label; backup_label, postgresql.auto.conf,
# standby.signal, the pgpass and the target directory before it ends
# (without --start, so that strace does not follow the standby)
my $durable = "$tmp/durable";
my $trace = "$tmp/durable.strace";
($out, $err) = ('', '');
ok( IPC::Run::run(
		[
			'strace', '-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync,syncfs', '-o', $trace,
			$script, '--primary' => $primary->connstr('postgres'), '--source' => $primary->data_dir,
			'--target' => $durable, '--name' => 'durable', '--address' => '127.0.0.1/32'
		],
		'>', \$out, '2>', \$err),
	'a clone traced with strace succeeds')
  or diag($err);
$durable = realpath($durable);
my @synced;
for (split /\n/, slurp_file($trace))
{
	push @synced, $1 if /\b(?:fsync|fdatasync)\(\d+<([^>]*)>/;
}
my %first_sync;
for my $i (reverse 0 .. $#synced) { $first_sync{ $synced[$i] } = $i; }
my $accounts = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('accounts')");
(my $accounts_dir = $accounts) =~ s{/[^/]+$}{};
my $label_sync = $first_sync{"$durable/backup_label"};
ok(defined $label_sync, 'backup_label is synced');
for my $f ('global/pg_control', $accounts, $accounts_dir, 'global', 'base', 'pg_wal')
{
	ok(defined $first_sync{"$durable/$f"} && defined $label_sync && $first_sync{"$durable/$f"} < $label_sync,
		"$f is synced before backup_label");
}
for my $f ('postgresql.auto.conf', 'standby.signal', 'pgrepl_standby/pgpass', 'pgrepl_standby')
{
	ok(defined $first_sync{"$durable/$f"}, "$f is synced");
}
my @last_dir = grep { $synced[$_] eq $durable } 0 .. $#synced;
ok(@last_dir && $last_dir[-1] > ($first_sync{"$durable/standby.signal"} // 0),
	'the target directory is synced after its last new file');

$primary->stop;
done_testing();
