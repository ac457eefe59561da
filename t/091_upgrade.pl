# The upgrade chain: the extension created at every shipped version and
# updated to the newest ends with the same objects as a fresh install; and
# the library refuses to run against SQL objects of another version, with a
# hint, in SQL functions and in the worker.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $node = new_primary('upgrade', streaming => 0);
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my ($default) = slurp_file("$FindBin::RealBin/../pgrepl_admin.control") =~ /default_version = '([^']+)'/;
my @versions = map { m{pgrepl_admin--([^-]+)\.sql$} ? $1 : () } glob("$sharedir/extension/pgrepl_admin--*.sql");
ok(grep({ $_ eq $default } @versions), "the default version $default is shipped as a full script");

# META.json (PGXN) names the same version and install script
my $meta = decode_json(slurp_file("$FindBin::RealBin/../META.json"));
is($meta->{provides}{pgrepl_admin}{version}, "$default.0", 'META.json provides the default version');
is($meta->{provides}{pgrepl_admin}{file}, "pgrepl_admin--$default.sql", 'META.json names its install script');

# every object of the extension with its definition, to compare installs
my $objects = q{
	SELECT string_agg(pg_describe_object(d.classid, d.objid, d.objsubid) || ': ' ||
	       COALESCE(CASE d.classid
	           WHEN 'pg_proc'::regclass THEN pg_get_functiondef(d.objid)
	           WHEN 'pg_class'::regclass THEN
	               CASE WHEN (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'v'
	                    THEN pg_get_viewdef(d.objid)
	                    ELSE (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	                          FROM pg_attribute WHERE attrelid = d.objid AND attnum > 0 AND NOT attisdropped) END
	       END, ''), E'\n' ORDER BY 1)
	FROM pg_depend d
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin') AND d.deptype = 'e'
};
my $fresh = $node->safe_psql('postgres', $objects);
cmp_ok(length($fresh), '>', 1000, 'a fresh install has its objects');

for my $version (grep { $_ ne $default } @versions)
{
	(my $db = "from_$version") =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pgrepl_admin VERSION '$version'");
	$node->safe_psql($db, 'ALTER EXTENSION pgrepl_admin UPDATE');
	is($node->safe_psql($db, $objects), $fresh,
		"created at $version and updated: the same objects as a fresh $default");
}
my ($rc, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION pgrepl_admin UPDATE');
like($err, qr/version "$default" of extension "pgrepl_admin" is already installed/,
	'updating the newest version is a no-op');

# SQL objects of another version than the library's
$node->safe_psql('postgres', "UPDATE pg_extension SET extversion = '0.9' WHERE extname = 'pgrepl_admin'");
for my $call ('SELECT * FROM pgrepl_admin.certificates', 'SELECT * FROM pgrepl_admin.worker_status',
	'SELECT pgrepl_admin.ca_init()', 'SELECT * FROM pgrepl_admin.prepare_primary()')
{
	($rc, $out, $err) = $node->psql('postgres', $call);
	like($err, qr/ERROR:  pgrepl_admin's SQL objects are version 0\.9, but its library is version \Q$default\E/,
		"$call refuses a version mismatch");
	like($err, qr/HINT:  Run ALTER EXTENSION pgrepl_admin UPDATE/, 'with a hint');
}
my $waited = 0;
for (1 .. 200)
{
	if (slurp_file($node->logfile) =~ /waiting for ALTER EXTENSION pgrepl_admin UPDATE.*\n.*DETAIL:  The SQL objects are version 0\.9/)
	{
		$waited = 1;
		last;
	}
	select(undef, undef, undef, 0.1);
}
ok($waited, 'the worker waits for ALTER EXTENSION UPDATE and says why');
$node->safe_psql('postgres', "UPDATE pg_extension SET extversion = '$default' WHERE extname = 'pgrepl_admin'");
$node->poll_query_until('postgres', q{SELECT last_outcome = 'ok' FROM pgrepl_admin.worker_status WHERE task = 'lag_sample'})
  or die 'worker did not resume';
pass('with matching versions the worker runs its tasks again');

$node->stop;
done_testing();
