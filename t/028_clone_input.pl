# pgrepl_clone_standby refuses, before it provisions or copies anything,
# input that would hand the standby's credentials to another user or leave
# a standby that cannot start (issue 22 item 15): a target that belongs to
# another user, a target inside a directory other users may write (without
# the sticky bit) or whose parent belongs to another user, a --set value
# with a line break, a line break in --primary-conninfo, --slot or
# --target, a --set of primary_conninfo, a --name that add_standby() would
# refuse (upper case), and (as root) running as root.  Each refusal names
# the cause, leaves no standbys row on the primary and makes no target
# directory.  Then two clones held in step 1 (a lock on
# pgrepl_admin.standbys keeps add_standby() waiting) while the test looks:
# a symbolic link in the target's path retargeted after the checks changes
# nothing, the directories made and the target are 0700 before the
# credentials are written, and postgresql.auto.conf keeps one line per
# setting (the last --set, over a "name value" line the copy brought).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $script = "$FindBin::RealBin/../scripts/pgrepl_clone_standby";
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $primary = new_primary('primary');
my $primary_conn = $primary->connstr('postgres');

# refused($what, $target, $message_re, @options): the clone fails with that
# message and changes nothing
sub refused
{
	my ($what, $target, $message, @options) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ $script, '--primary', $primary_conn, '--source', $primary->data_dir,
			'--target', $target, '--name', 'input_test', @options ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(300));
	ok(!$ok, "$what: refused");
	like($err, $message, "$what: the message names the cause");
	unlike($out, qr/provisioning|copying/, "$what: refused before provisioning");
	is($primary->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.standbys'), '0',
		"$what: no standby was provisioned");
}

# a directory others may write, without the sticky bit: the target inside it
mkdir("$tmp/open") or die $!;
chmod(0777, "$tmp/open") or die $!;
refused('a target in a directory all may write', "$tmp/open/standby",
	qr/\Q$tmp\E\/open, a directory above .* may be written by other users \(mode 777\)/);
ok(!-e "$tmp/open/standby", 'the target was not made');
# group-writable is the same: the group's other members
mkdir("$tmp/group") or die $!;
chmod(0770, "$tmp/group") or die $!;
mkdir("$tmp/group/deeper") or die $!;
refused('a target below a group-writable directory', "$tmp/group/deeper/standby",
	qr/\Q$tmp\E\/group, a directory above .* may be written by other users \(mode 770\)/);
ok(!-e "$tmp/group/deeper/standby", 'the target was not made');

# a target that belongs to another user (root's), whatever it holds
SKIP:
{
	skip 'running as root', 4 if $> == 0;
	refused('a target of another user', '/var/lib',
		qr{/var/lib belongs to another user \(root\)});
}

# a --set value with a line break would make postgresql.auto.conf unreadable
refused('a --set value with a newline', "$tmp/standby_set",
	qr/the value of --set work_mem holds a line break/, '--set', "work_mem=1MB\nfsync = off");
ok(!-e "$tmp/standby_set", 'the target was not made');

# a line break in the options that reach postgresql.auto.conf or a path
refused('a --primary-conninfo with a newline', "$tmp/standby_ci",
	qr/--primary-conninfo holds a line break/, '--primary-conninfo', "host=x\nrestore_command = 'sh'");
ok(!-e "$tmp/standby_ci", 'the target was not made');
refused('a --slot with a newline', "$tmp/standby_slot",
	qr/--slot holds a line break/, '--slot', "s\nrestore_command = 'sh'");
ok(!-e "$tmp/standby_slot", 'the target was not made');
refused('a --target with a newline', "$tmp/standby\nnl", qr/--target holds a line break/);
ok(!-e "$tmp/standby\nnl", 'the target was not made');
# a setting the command writes itself
refused('--set primary_conninfo', "$tmp/standby_pc",
	qr/--set Primary_Conninfo is not allowed/, '--set', 'Primary_Conninfo=host=elsewhere');
ok(!-e "$tmp/standby_pc", 'the target was not made');

# add_standby()'s name rule, checked before anything
my ($out, $err) = ('', '');
IPC::Run::run(
	[ $script, '--primary', $primary_conn, '--source', $primary->data_dir,
		'--target', "$tmp/standby_name", '--name', 'Upper' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(300));
like($err, qr/--name must be 1 to 63 lower-case letters, digits or underscores/,
	'an upper-case --name is refused with add_standby()\'s rule');
ok(!-e "$tmp/standby_name", 'the target was not made');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.standbys'), '0',
	'no standby was provisioned');

# PostgreSQL refuses to run as root, postgres -C as well (step 5 reads the
# standby's configuration with it): refused before anything
SKIP:
{
	skip 'not running as root', 2 unless $> == 0;
	($out, $err) = ('', '');
	IPC::Run::run(
		[ $script, '--primary', $primary_conn, '--source', $primary->data_dir,
			'--target', "$tmp/standby_root", '--name', 'input_test' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(300));
	like($err, qr/not as root/, 'running as root is refused');
	ok(!-e "$tmp/standby_root", 'the target was not made');
}

# blocked_clone($name, $target, $during, @options): a clone of $name into
# $target, held inside add_standby() (step 1, the first that writes) by a
# lock on pgrepl_admin.standbys while $during runs; returns whether the
# clone succeeded, its stdout and stderr
sub blocked_clone
{
	my ($sname, $target, $during, @options) = @_;
	my ($lin, $lout) = ('', '');
	my $locker = IPC::Run::start([ 'psql', '-X', '-q', '-A', '-t', '-d', $primary_conn ],
		'<', \$lin, '>', \$lout, '2>', \$lout, IPC::Run::timeout(300));
	$lin .= "BEGIN; LOCK TABLE pgrepl_admin.standbys; SELECT 'locked';\n";
	$locker->pump until $lout =~ /locked/;
	my ($out, $err) = ('', '');
	my $clone = IPC::Run::start(
		[ $script, '--primary', $primary_conn, '--source', $primary->data_dir,
			'--target', $target, '--name', $sname, @options ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(600));
	$primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%add_standby(''$sname''%'")
	  or die "the clone did not wait in add_standby(): $out $err";
	$during->();
	$lin .= "COMMIT;\n\\q\n";
	$locker->finish;
	my $ok = eval { $clone->finish };
	return ($ok, $out, $err);
}

# A symbolic link in the target's path is followed once: retargeted while
# the clone runs (after its checks), it changes nothing, the copy lands in
# the directory the checks saw; the directories the clone makes (umask
# 022) are 0700, the target too, before step 1 writes the credentials.
mkdir("$tmp/mine") or die $!;
chmod(0700, "$tmp/mine") or die $!;
mkdir("$tmp/theirs") or die $!;
chmod(0777, "$tmp/theirs") or die $!;
symlink("$tmp/mine", "$tmp/link") or die $!;
my $old_umask = umask(022);
my %mode_at_step1;
my ($ok, $cout, $cerr) = blocked_clone('s028a', "$tmp/link/made/standby", sub {
	unlink("$tmp/link") or die $!;
	symlink("$tmp/theirs", "$tmp/link") or die $!;
	%mode_at_step1 = map { $_ => sprintf('%04o', (stat $_)[2] & 07777) }
	  ("$tmp/mine/made", "$tmp/mine/made/standby");
});
umask($old_umask);
ok($ok, 'a clone through a symbolic link retargeted after the checks') or diag("$cout\n$cerr");
ok(-f "$tmp/mine/made/standby/PG_VERSION", 'the standby is in the directory the link named at the start');
ok(-f "$tmp/mine/made/standby/pgrepl_standby/pgpass", 'and its credentials');
is(join(' ', glob("$tmp/theirs/*")), '', 'nothing went to the directory the link names now');
is_deeply(\%mode_at_step1, { "$tmp/mine/made" => '0700', "$tmp/mine/made/standby" => '0700' },
	'the directories the clone made are 0700 before step 1 writes the credentials');

# A target of one's own that others may write is made 0700 before step 1
# writes the credentials into it (not at the copy, step 3).  And the lines
# of postgresql.auto.conf: one per setting, the last --set of a name (case
# blind) winning over an earlier one and over a "name value" line
# without "=" the copy brought.
mkdir("$tmp/wide") or die $!;
chmod(0777, "$tmp/wide") or die $!;
append_to_file($primary->data_dir . '/postgresql.auto.conf', "work_mem 4MB\n");
my $wide_mode;
($ok, $cout, $cerr) = blocked_clone('s028b', "$tmp/wide", sub {
	$wide_mode = sprintf('%04o', (stat "$tmp/wide")[2] & 07777);
}, '--set', 'work_mem=1MB', '--set', 'WORK_MEM=2MB');
ok($ok, 'a clone into a target others may write') or diag("$cout\n$cerr");
is($wide_mode, '0700', 'the target is 0700 before step 1 writes the credentials');
my $auto = slurp_file("$tmp/wide/postgresql.auto.conf");
my @work_mem = $auto =~ /^\s*(work_mem\b.*)$/mgi;
is_deeply(\@work_mem, [ "WORK_MEM = '2MB'" ],
	'postgresql.auto.conf has one work_mem line, the last --set') or diag($auto);

done_testing();
