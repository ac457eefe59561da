# The clone over ssh between hosts of their own (issue 16, item 3):
# pgrepl_clone_standby --source postgres@198.51.100.1:PGDATA, run on the
# standby's host (198.51.100.2) with a real sshd on the primary's, makes a
# standby that streams over verify-full TLS from 198.51.100.2; a re-run over
# the stopped, stale copy (the primary wrote more, and a block of a
# relation file differs with the same size and mtime) resyncs it.  While
# each clone runs (slowed by a shaped link so that it can be watched), the
# command lines of every process on the machine are read again and again:
# neither the standby's password nor the superuser's shows on any of them,
# nor in any environment the test can read, and the clone's processes
# (the command, ssh, rsync on both ends) were seen while they ran.

use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use PgreplNetClone;

my $pair = PgreplNetClone->new('clone');
my ($net, $primary) = @$pair{qw(net primary)};
my $standby = $pair->standby_node('standby');
my $target = $standby->data_dir;

# some 10 MB of table: with the rest of the data directory, a few seconds
# through the 40 Mbit/s link below
$primary->safe_psql('postgres', q{
	CREATE TABLE accounts (id bigserial PRIMARY KEY, val text NOT NULL);
	INSERT INTO accounts (val) SELECT repeat(md5(g::text), 2) FROM generate_series(1, 80000) g;
	CREATE TABLE frozen AS SELECT g AS id, md5(g::text) AS val FROM generate_series(1, 5000) g;
	VACUUM FREEZE frozen;
	CHECKPOINT;
});
$net->shape('standby', '40mbit');

# proc_snapshot(\%cmdlines, \%environs): add the command line (and, where
# this user may read it, the environment) of every process now running
sub proc_snapshot
{
	my ($cmdlines, $environs) = @_;
	opendir(my $dh, '/proc') or die "opendir /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir $dh)
	{
		for ([ cmdline => $cmdlines ], [ environ => $environs ])
		{
			my ($file, $seen) = @$_;
			open(my $fh, '<', "/proc/$pid/$file") or next;    # gone, or not ours
			local $/;
			my $text = <$fh>;
			close $fh;
			next unless defined $text && $text ne '';
			$text =~ s/\0/ /g;
			$seen->{$text}++;
		}
	}
	closedir $dh;
	return;
}

# clone_watched(@extra): run the clone on the standby host, reading every
# process's command line until it ends; returns (exit status, stdout,
# stderr, \%cmdlines, \%environs)
sub clone_watched
{
	my (@extra) = @_;
	my ($out, $err) = ('', '');
	my (%cmdlines, %environs);
	my $h = $pair->start_clone($standby, \$out, \$err, @extra);
	while ($h->pumpable)
	{
		proc_snapshot(\%cmdlines, \%environs);
		$h->pump_nb;
		select(undef, undef, undef, 0.05);    # the next look
	}
	$h->finish;
	my $rc = $? >> 8;    # (finish sets $?)
	note("pgrepl_clone_standby exit status $rc; stdout:\n$out\nstderr:\n$err");
	return ($rc, $out, $err, \%cmdlines, \%environs);
}

# check_secrets($what, \%cmdlines, \%environs, $password): the clone's
# processes were seen, and no secret on a command line or in an environment
sub check_secrets
{
	my ($what, $cmdlines, $environs, $password) = @_;
	my @lines = keys %$cmdlines;
	ok((grep { /pgrepl_clone_standby .*--name standby/ } @lines),
		"$what: the command was seen running");
	ok((grep { /^ssh .*-p 2222 .*198\.51\.100\.1 rsync --server/ } @lines),
		"$what: its ssh to the primary's host was seen running");
	ok((grep { /^rsync --server / } @lines), "$what: the rsync it started there was seen running");
	note(scalar(@lines) . " distinct command lines and " . scalar(keys %$environs)
		  . " environments read while it ran");
	for my $secret ([ 'the standby\'s password', $password ],
		[ 'the superuser\'s password', $pair->{superuser_password} ])
	{
		my ($name, $text) = @$secret;
		my $base64 = encode_base64($text, '');
		is(join("\n", grep { /\Q$text\E|\Q$base64\E/ } @lines), '',
			"$what: $name is on no command line");
		is(scalar(grep { /\Q$text\E|\Q$base64\E/ } keys %$environs), 0,
			"$what: $name is in no environment");
	}
	return;
}

sub check_standby
{
	my ($what) = @_;
	ok($primary->poll_query_until('postgres', PgreplNetClone::streams_from_own_address($standby)),
		"$what: the standby streams over TLS from 198.51.100.2");
	is($primary->safe_psql('postgres', "SELECT active FROM pg_replication_slots WHERE slot_name = 'standby'"),
		't', "$what: through its slot");
	like($standby->safe_psql('postgres', 'SELECT conninfo FROM pg_stat_wal_receiver'),
		qr/host=198\.51\.100\.1 .*sslmode=verify-full .*sslrootcert=\S+pgrepl_standby\/root\.crt/,
		"$what: verifying the primary at 198.51.100.1 with the CA bundle the command wrote");
	$primary->wait_for_catchup($standby, 'replay');
	for my $table ('accounts', 'frozen')
	{
		is(PgreplNetClone::digest($standby, $table), PgreplNetClone::digest($primary, $table),
			"$what: $table is the same on both (count and checksum)");
	}
	is($primary->safe_psql('postgres',
			"SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running', 'stopping')"),
		'0', "$what: no backup left running on the primary");
	return;
}

# --- a fresh clone over ssh, run on the standby's host
my ($rc, $out, $err, $cmdlines, $environs) = clone_watched('--start');
is($rc, 0, 'fresh clone over ssh: pgrepl_clone_standby succeeds');
like($out, qr/3\/6 copying postgres\@198\.51\.100\.1:\S+ to \S+ \(fresh copy\)/,
	'it copied from the primary\'s host over ssh');
like($out, qr/the standby dials host "198\.51\.100\.1" \(primary_conninfo\); the server certificate covers it/,
	'the standby dials the primary by its address, which the certificate covers');
$standby->_update_pid(1);
my ($password) = slurp_file("$target/pgrepl_standby/pgpass") =~ /^\*:\*:\*:\*:(.+)$/m;
cmp_ok(length($password // ''), '>=', 16, 'the standby\'s password is in its pgpass');
check_secrets('fresh clone', $cmdlines, $environs, $password);
check_standby('fresh clone');
is( $primary->safe_psql('postgres',
		"SELECT host(client_addr) || ' ' || status FROM pgrepl_admin.replication_lag WHERE standby_name = 'standby'"),
	'198.51.100.2 streaming', 'replication_lag shows the standby at its own address');

# --- a re-run over a stale copy: the standby stopped, the primary wrote
# more, and a block of frozen's file differs with the same size and mtime
$standby->stop;
$primary->safe_psql('postgres',
	"INSERT INTO accounts (val) SELECT md5(g::text) FROM generate_series(1, 5000) g");
my $relpath = $primary->safe_psql('postgres', "SELECT pg_relation_filepath('frozen')");
my ($source_file, $stale_file) = ($primary->data_dir . "/$relpath", "$target/$relpath");
open(my $fh, '+<', $stale_file) or die $!;
binmode $fh;
seek($fh, 8192 + 4096, 0);
print $fh 'X' x 64;
close($fh);
utime((stat $source_file)[ 8, 9 ], $stale_file) or die $!;
isnt(slurp_file($stale_file), slurp_file($source_file), 'the copy of frozen is stale');

($rc, $out, $err, $cmdlines, $environs) = clone_watched('--start');
is($rc, 0, 're-run over the stale copy: pgrepl_clone_standby succeeds');
like($out, qr/standby "standby" was provisioned before; keeping the password of the existing copy/,
	'it kept the provisioned standby and its password');
like($out, qr/update of an existing copy, comparing contents \(--checksum\)/,
	'it compared contents over ssh');
$standby->_update_pid(1);
is(slurp_file($stale_file), slurp_file($source_file), 'the stale block was put right');
check_secrets('re-run', $cmdlines, $environs, $password);
check_standby('re-run');

done_testing();
