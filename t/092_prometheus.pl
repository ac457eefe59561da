# Every query of contrib/postgres_exporter_queries.yaml runs against a real
# primary with a streaming (synchronous) standby, a managed pg_hba.conf rule
# and a backup held, as a pg_monitor member, and returns rows with every
# column the file names, with numbers in the GAUGE columns: a renamed column
# in the views breaks this test, not a dashboard or an alert.  Then Debian's
# postgres_exporter scrapes it while two pg_receivewal share an
# application_name and the synchronous setting names the standby twice:
# HTTP 200 (two series with the same labels fail the whole page), a series
# per walsender and one per named standby, no query failing, and every
# metric the file names on the page.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use HTTP::Tiny;
use Time::HiRes qw(usleep);

# the file's own constrained YAML: "name:", "  query: |" + indented SQL,
# "    - column:" + "        usage: \"KIND\""
my %queries;
my ($name, $in_query, $column);
for my $line (split /\n/, slurp_file("$FindBin::RealBin/../contrib/postgres_exporter_queries.yaml"))
{
	next if $line =~ /^\s*#/ || $line =~ /^\s*$/;
	if ($line =~ /^(\w+):\s*$/) { $name = $1; $in_query = 0; next; }
	if ($line =~ /^  query: \|\s*$/) { $in_query = 1; next; }
	if ($in_query && $line =~ /^    (.*)$/ && $line !~ /^    - /) { $queries{$name}{sql} .= "$1\n"; next; }
	$in_query = 0;
	if ($line =~ /^    - (\w+):\s*$/) { $column = $1; next; }
	if ($line =~ /^        usage: "(\w+)"/) { $queries{$name}{columns}{$column} = $1; next; }
}
is(join(' ', sort keys %queries),
	'pgrepl_admin_backup pgrepl_admin_certificate pgrepl_admin_check pgrepl_admin_hba_rule pgrepl_admin_replication pgrepl_admin_settings pgrepl_admin_synchronous pgrepl_admin_synchronous_standby',
	'the file has the queries contrib/prometheus_alerts.yml uses');

my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n");
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1']);
	SELECT pg_create_physical_replication_slot('orphan', true);
	CREATE ROLE exporter LOGIN IN ROLE pg_monitor;
});
my $standby = new_standby($primary, 'standby');
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'exporter');
	SELECT pgrepl_admin.backup_start('t092');
	ALTER SYSTEM SET synchronous_standby_names = 'standby';
	SELECT pg_reload_conf();
});

for my $q (sort keys %queries)
{
	my @columns = sort keys %{ $queries{$q}{columns} };
	my ($rc, $out, $err) = $primary->psql('postgres',
		"\\pset footer off\n\\pset tuples_only off\n$queries{$q}{sql}",
		extra_params => [ '-U', 'exporter', '-A', '-F', "\t" ]);
	is($rc, 0, "$q runs as a pg_monitor member") or diag($err);
	my ($header, @rows) = grep { $_ ne '' } split /\n/, $out;
	my @got = split /\t/, $header // '';
	my %index;
	@index{@got} = 0 .. $#got;
	for my $c (@columns)
	{
		ok(exists $index{$c}, "$q returns column $c");
	}
	ok(@rows > 0, "$q returns rows") or next;
	for my $row (@rows)
	{
		my @f = split /\t/, $row, -1;
		for my $c (grep { $queries{$q}{columns}{$_} eq 'GAUGE' } @columns)
		{
			like($f[ $index{$c} ], qr/^(-?\d+(\.\d+)?(e[+-]?\d+)?|NaN)$/, "$q: $c is a number ($f[$index{$c}])");
		}
	}
}

# the standby and the orphaned slot are in the replication metrics
my $out = $primary->safe_psql('postgres', "SELECT string_agg(standby || ':' || status, ',' ORDER BY standby) FROM ($queries{pgrepl_admin_replication}{sql}) m");
like($out, qr/orphan:orphaned-slot/, 'the orphaned slot is reported');
like($out, qr/standby:(streaming|catchup)/, 'the standby is reported');

# --- a real scrape by Debian's postgres_exporter.  It answers HTTP 500 for
# the whole page when two rows of a query give one metric the same labels:
# then every alert is silent.  Two pg_receivewal with the same
# application_name and no slot are two walsenders the replication query
# must tell apart (as are two walreceivers left with the default name, a
# walsender lingering after its standby reconnected, two pg_basebackup).
my $exporter = find_program('prometheus-postgres-exporter');
if (!$exporter)
{
	my $why = 'prometheus-postgres-exporter is not installed (scripts/install-deps.sh installs it)';
	BAIL_OUT("the test matrix installs it, yet $why") if defined $ENV{PGREPL_PACKAGE};
	diag("skipping the scrape: $why");
}
else
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my @receivers;
	for my $i (1, 2)
	{
		mkdir "$dir/wal$i" or die $!;
		push @receivers, IPC::Run::start(
			[ 'pg_receivewal', '--no-loop', '-D', "$dir/wal$i", '-d', $primary->connstr('postgres') . ' application_name=receiver' ],
			'<', \undef, '>>', "$dir/receivewal$i.log", '2>&1');
	}
	$primary->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pgrepl_admin.replication_lag WHERE standby_name = 'receiver' AND status = 'streaming'})
	  or die 'the two pg_receivewal did not stream';
	# a synchronous setting that names one standby twice (names match
	# case-insensitively): the per-standby query must give it one series
	$primary->safe_psql('postgres', q{
		ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby, STANDBY)';
		SELECT pg_reload_conf();
	});
	$primary->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pgrepl_admin.synchronous_status WHERE lower(standby_name) = 'standby'})
	  or die 'the setting naming standby twice is not in force';
	my ($harness, $port) = start_exporter($primary, $exporter, $dir);
	my $http = HTTP::Tiny->new(timeout => 30);
	my $res;
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 5)
	{
		$res = $http->get("http://127.0.0.1:$port/metrics");
		last if $res->{status} != 599;    # not listening yet
		usleep(200_000);
	}
	is($res->{status}, 200, 'two walsenders with the same application_name: the exporter answers 200')
	  or diag(substr($res->{content} // '', 0, 2000) . "\nexporter log:\n" . slurp_file("$dir/exporter.log"));
	my $page = $res->{content} // '';
	my @both = $page =~ /^pgrepl_admin_replication_status_info\{[^}]*standby="receiver"[^}]*\} 1$/mg;
	is(scalar @both, 2, 'and exports a series for each of them') or diag(join("\n", @both));
	my @sync = $page =~ /^pgrepl_admin_synchronous_standby_connected\{[^}]*standby="standby"[^}]*\} 1$/mg;
	is(scalar @sync, 1, 'a standby the synchronous setting names twice: one series') or diag(join("\n", @sync));
	like($page, qr/^pg_exporter_last_scrape_error 0$/m, 'no query failed (pg_exporter_last_scrape_error 0)');
	# every metric the file names is on the page: a query that fails, or
	# returns no row here, would leave its alerts blind
	for my $q (sort keys %queries)
	{
		for my $c (sort grep { $queries{$q}{columns}{$_} eq 'GAUGE' } keys %{ $queries{$q}{columns} })
		{
			like($page, qr/^\Q${q}_$c\E[{ ]/m, "the scrape has ${q}_$c");
		}
	}
	$harness->kill_kill(grace => 5);
	$_->kill_kill(grace => 5) for @receivers;
}

$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.backup_abort('t092');
	ALTER SYSTEM RESET synchronous_standby_names;
	SELECT pg_reload_conf();
});
$standby->stop;
$primary->stop;
done_testing();
