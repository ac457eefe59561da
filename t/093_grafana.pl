# Every panel of contrib/grafana_dashboard.json runs, with Grafana's
# $__timeFilter macro expanded as Grafana's PostgreSQL data source does,
# against a real primary with a standby, as a pg_monitor member; the time
# series panels return samples.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $dashboard = decode_json(slurp_file("$FindBin::RealBin/../contrib/grafana_dashboard.json"));
my @panels = @{ $dashboard->{panels} };
cmp_ok(scalar @panels, '>=', 6, 'the dashboard has its panels');

my $primary = new_primary('primary', conf => "pgrepl_admin.lag_sample_interval = '1s'\n");
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.ca_init();
	SELECT pg_create_physical_replication_slot('kept', true);
	CREATE ROLE grafana LOGIN IN ROLE pg_monitor;
});
my $standby = new_standby($primary, 'standby');
$primary->poll_query_until('postgres',
	q{SELECT count(*) FILTER (WHERE standby_name = 'standby') >= 2 AND count(*) FILTER (WHERE slot_name = 'kept') >= 1
	  FROM pgrepl_admin.lag_history})
  or die 'no samples';

for my $panel (@panels)
{
	for my $target (@{ $panel->{targets} })
	{
		my $sql = $target->{rawSql};
		$sql =~ s/\$__timeFilter\((\w+)\)/$1 BETWEEN now() - interval '6 hours' AND now()/g;
		unlike($sql, qr/\$__/, "$panel->{title}: every macro is expanded");
		my ($rc, $out, $err) = $primary->psql('postgres', $sql, extra_params => [ '-U', 'grafana' ]);
		is($rc, 0, "$panel->{title}: the query runs as a pg_monitor member") or diag($err);
		isnt($out, '', "$panel->{title}: it returns rows");
	}
}

$standby->stop;
$primary->stop;
done_testing();
