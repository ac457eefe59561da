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
	       END, ''), E'\n' ORDER BY pg_describe_object(d.classid, d.objid, d.objsubid))
	FROM pg_depend d
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin') AND d.deptype = 'e'
};
my $fresh = $node->safe_psql('postgres', $objects);
cmp_ok(length($fresh), '>', 1000, 'a fresh install has its objects');

# from 1.1 on the extension can only be installed in pgrepl_admin.database:
# each such version is created there in place of the fresh install, and
# updated
for my $version (grep { $_ ne $default && $_ ne '1.0' } @versions)
{
	$node->safe_psql('postgres', 'DROP EXTENSION pgrepl_admin');
	$node->safe_psql('postgres', "CREATE EXTENSION pgrepl_admin VERSION '$version'");
	$node->safe_psql('postgres', 'ALTER EXTENSION pgrepl_admin UPDATE');
	is($node->safe_psql('postgres', $objects), $fresh,
		"created at $version and updated: the same objects as a fresh $default");
}

for my $version (grep { $_ eq '1.0' } @versions)
{
	# in a database of its own, outside pgrepl_admin.database, where
	# versions before 1.1 could be installed
	(my $db = "from_$version") =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pgrepl_admin VERSION '$version'");
	$node->safe_psql($db, 'ALTER EXTENSION pgrepl_admin UPDATE');
	is($node->safe_psql($db, $objects), $fresh,
		"created at $version and updated: the same objects as a fresh $default");

	# an install an older version let into a second database is updated,
	# then refuses to touch the server-wide files and says how to get out
	for my $call (q{SELECT pgrepl_admin.hba_add('10.43.0.0/16', 'postgres', method => 'reject')},
		'SELECT pgrepl_admin.ca_init()', q{SELECT pgrepl_admin.backup_start('second_db')},
		q{SELECT * FROM pgrepl_admin.add_standby('second_db', '10.43.0.1')})
	{
		my ($rc, $out, $err) = $node->psql($db, $call);
		like($err, qr/ERROR:  pgrepl_admin can only be used in database "postgres"/,
			"from $version, outside pgrepl_admin.database: $call is refused");
		like($err, qr/HINT:  Drop the extension in this database with DROP EXTENSION pgrepl_admin/,
			'with the way out');
	}
	$node->safe_psql($db, 'DROP EXTENSION pgrepl_admin');
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.certificates'), '0',
	'the refused calls made no certificate');
unlike(slurp_file($node->data_dir . '/pg_hba.conf'), qr/10\.43\./, 'nor a rule');
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
