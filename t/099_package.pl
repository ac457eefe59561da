# The Debian package: debian/changelog ships the control file's version, and
# when scripts/test.sh installed postgresql-15-pgrepl-admin in place of
# "make install" (it sets PGREPL_PACKAGE), the server loads the package's
# files unmodified and CREATE EXTENSION works from them.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $root = "$FindBin::RealBin/..";
my ($default) = slurp_file("$root/pgrepl_admin.control") =~ /default_version = '([^']+)'/;
my ($changelog) = slurp_file("$root/debian/changelog") =~ /^pgrepl-admin \(([^)]+)\)/;
is($changelog, $default, 'debian/changelog releases the default version');

# pgrepl_clone_standby's man page lists the options --help lists, and man
# renders it
my $manpage = "$root/doc/pgrepl_clone_standby.1";
my $man_text = slurp_file($manpage);
my ($man_options) = $man_text =~ /^\.SH OPTIONS\n(.*?)^\.SH /ms;
my %in_man = map { $_ => 1 } (($man_options // '') =~ s/\\-/-/gr) =~ /(--[a-z][a-z-]*)/g;
my %in_help = map { $_ => 1 } map { /^\s+(?:-\w, )?(--[a-z][a-z-]*)/ ? $1 : () }
  split /\n/, `$root/scripts/pgrepl_clone_standby --help`;
cmp_ok(scalar(keys %in_help), '>=', 20, '--help lists the options');
is(join(' ', sort keys %in_man), join(' ', sort keys %in_help), 'the man page lists the options --help lists');
like(`MANWIDTH=80 man -l $manpage 2>&1`, qr/^NAME\n\s+pgrepl_clone_standby\s+-\s+make/m,
	'man renders the man page');

SKIP:
{
	my $package = $ENV{PGREPL_PACKAGE};
	skip 'the package is not installed (scripts/test.sh as root installs it)', 19
	  unless $package;
	my ($major) = $package =~ /^postgresql-(\d+)-pgrepl-admin$/;

	# the man page is in the package, in this major version's directory:
	# the packages of two major versions hold no file in common (dpkg
	# refuses to install a second that would overwrite one)
	my $installed_man = "/usr/share/postgresql/$major/man/man1/pgrepl_clone_standby.1.gz";
	my $files = `dpkg -L $package`;
	like($files, qr/^\Q$installed_man\E$/m, "$package holds the man page, in /usr/share/postgresql/$major");
	is(join(' ', grep { m{^/usr/(?:bin|share/man)/.} } split /\n/, $files), '',
		"$package holds no file in /usr/bin or /usr/share/man, where another major version's package would hold it");
	# the alternative's slave: /usr/share/man/man1's page follows the
	# command the alternative chose
	my $bindir = `pg_config --bindir`;
	chomp $bindir;
	my $query = `update-alternatives --query pgrepl_clone_standby 2>&1`;
	like($query, qr{^Alternative: \Q$bindir\E/pgrepl_clone_standby\nPriority: $major\nSlaves:\n pgrepl_clone_standby\.1\.gz \Q$installed_man\E$}m,
		'the alternative of this version has the man page as a slave');
	# the major version of the package whose command /usr/bin's runs (its
	# bindir is /usr/lib/postgresql/NN/bin, or a source build's)
	my $chosen = `readlink -f /usr/bin/pgrepl_clone_standby`;
	chomp $chosen;
	my ($chosen_major) = `dpkg -S '$chosen' 2>/dev/null` =~ /^postgresql-(\d+)-pgrepl-admin:/;
	is(`readlink -f /usr/share/man/man1/pgrepl_clone_standby.1.gz`, "/usr/share/postgresql/" . ($chosen_major // 'none') . "/man/man1/pgrepl_clone_standby.1.gz\n",
		'/usr/share/man/man1/pgrepl_clone_standby.1.gz is the page of the command /usr/bin/pgrepl_clone_standby runs');
	like(`MANWIDTH=80 man pgrepl_clone_standby 2>&1`, qr/--primary-host HOST/,
		'man pgrepl_clone_standby renders the installed page');

	# (a build from a git checkout is DEFAULT+gitTIME.COMMIT, which sorts
	# after DEFAULT and after earlier builds: make deb)
	my $version = `dpkg-query -W -f='\${Version}' $package`;
	like($version, qr/^\Q$default\E(\+git\d{14}\.[0-9a-f]{7,})?$/, "$package $default is installed");
	is(system('dpkg', '--compare-versions', $version, 'ge', $default), 0,
		"its version $version sorts at or after $default");

	# every file the server and the user use belongs to the package and is
	# as the package installed it (no "make install" over it)
	my %dir = map { my $d = `pg_config --$_`; chomp $d; ($_ => $d) } qw(pkglibdir sharedir bindir);
	my @files = ("$dir{pkglibdir}/pgrepl_admin.so",
		"$dir{sharedir}/extension/pgrepl_admin.control",
		"$dir{sharedir}/extension/pgrepl_admin--$default.sql",
		"$dir{bindir}/pgrepl_clone_standby",
		"$dir{bindir}/pgrepl_sync_blocks");
	for my $file (@files)
	{
		like(`dpkg -S $file 2>&1`, qr/^\Q$package\E: /, "$file belongs to $package");
	}
	is(`dpkg -V $package 2>&1`, '', 'no installed file differs from the package');

	my $node = new_primary('package', streaming => 0);
	is($node->safe_psql('postgres',
			"SELECT extversion FROM pg_extension WHERE extname = 'pgrepl_admin'"),
		$default, 'CREATE EXTENSION from the package');

	# the library the server runs is the package's file
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'")
	  or die 'worker did not start';
	my $worker = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin maintenance'");
	like(slurp_file("/proc/$worker/maps"), qr/\Q$dir{pkglibdir}\E\/pgrepl_admin\.so/,
		'the maintenance worker runs the package\'s library');
	like(`$dir{bindir}/pgrepl_clone_standby --help 2>&1`, qr/^Usage: pgrepl_clone_standby/,
		'the package\'s clone command runs');
	# and it is on the PATH, as an alternative (every major version's
	# package offers its own)
	like(`update-alternatives --list pgrepl_clone_standby 2>&1`, qr/^\Q$dir{bindir}\E\/pgrepl_clone_standby$/m,
		'/usr/bin/pgrepl_clone_standby offers the package\'s command');
	like(`env PATH=/usr/bin:/bin pgrepl_clone_standby --help 2>&1`, qr/^Usage: pgrepl_clone_standby/,
		'pgrepl_clone_standby runs from the PATH of a login shell');
	# past the arguments, and past its look for psql, pg_ctl, postgres and
	# rsync with that PATH (which has no pg_config): it gets as far as the
	# source's check
	my $t = PostgreSQL::Test::Utils::tempdir;
	my $run = `env PATH=/usr/bin:/bin pgrepl_clone_standby --primary dbname=postgres --source $t/nothing --target $t/standby --name path_test 2>&1`;
	like($run, qr{error: \Q$t\E/nothing is not a PostgreSQL data directory},
		'from that PATH it finds the server programs and runs its checks')
	  or diag($run);
}

done_testing();
