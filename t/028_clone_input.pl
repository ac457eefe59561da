# pgrepl_clone_standby refuses, before it provisions or copies anything,
# input that would hand the standby's credentials to another user or leave
# a standby that cannot start (issue 22 item 15): a target that belongs to
# another user, a target inside a directory other users may write (without
# the sticky bit) or whose parent belongs to another user, a --set value
# with a line break, and a --name that add_standby() would refuse (upper
# case).  Each refusal names the cause, leaves no standbys row on the
# primary and makes no target directory.

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

done_testing();
