# Every query of contrib/postgres_exporter_queries.yaml runs against a real
# primary with a streaming (synchronous) standby, a managed pg_hba.conf rule
# and a backup held, as a pg_monitor member, and returns rows with every
# column the file names, with numbers in the GAUGE columns: a renamed column
# in the views breaks this test, not a dashboard or an alert.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

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
			like($f[ $index{$c} ], qr/^-?\d+(\.\d+)?(e[+-]?\d+)?$/, "$q: $c is a number ($f[$index{$c}])");
		}
	}
}

# the standby and the orphaned slot are in the replication metrics
my $out = $primary->safe_psql('postgres', "SELECT string_agg(standby || ':' || status, ',' ORDER BY standby) FROM ($queries{pgrepl_admin_replication}{sql}) m");
like($out, qr/orphan:orphaned-slot/, 'the orphaned slot is reported');
like($out, qr/standby:(streaming|catchup)/, 'the standby is reported');

$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.backup_abort('t092');
	ALTER SYSTEM RESET synchronous_standby_names;
	SELECT pg_reload_conf();
});
$standby->stop;
$primary->stop;
done_testing();
