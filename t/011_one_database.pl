# One set of server-wide state: pg_hba.conf, the certificates and the
# backups belong to the server, so the extension lives in one database
# only, pgrepl_admin.database.  CREATE EXTENSION elsewhere is refused with
# a hint, preloaded or not; a rule added from another database can no
# longer be written and then removed by the worker's hba_sync.  (An
# install left in a second database by an older version is t/091's.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

# preloaded, with the default pgrepl_admin.database (postgres)
my $node = new_primary('onedb', streaming => 0);
$node->safe_psql('postgres', q{
	CREATE DATABASE db2;
	SELECT pgrepl_admin.create_replication_role('regress_onedb');
	SELECT pgrepl_admin.hba_add('10.41.0.0/16', 'regress_onedb', method => 'reject');
});
my ($rc, $out, $err) = $node->psql('db2', 'CREATE EXTENSION pgrepl_admin');
isnt($rc, 0, 'CREATE EXTENSION in another database than pgrepl_admin.database is refused');
like($err, qr/ERROR:  pgrepl_admin can only be installed in database "postgres"/, 'with the database it belongs to');
like($err, qr/DETAIL:  pg_hba\.conf, the certificates and the backups are managed for the whole server from the database named by pgrepl_admin\.database\./,
	'saying why');
like($err, qr/HINT:  .*set pgrepl_admin\.database = 'db2'/, 'and how to use this database instead');
is($node->safe_psql('db2', q{SELECT count(*) FROM pg_extension WHERE extname = 'pgrepl_admin'}), '0',
	'nothing was installed');
like(slurp_file($node->data_dir . '/pg_hba.conf'), qr/10\.41\.0\.0\/16.*reject/,
	'the reject rule of the home database is still in pg_hba.conf');
$node->stop;

# pgrepl_admin.database names another database
my $named = new_primary('named', streaming => 0, extension => 0,
	conf => "pgrepl_admin.database = 'appdb'\n");
($rc, $out, $err) = $named->psql('postgres', 'CREATE EXTENSION pgrepl_admin');
like($err, qr/ERROR:  pgrepl_admin can only be installed in database "appdb"/,
	'preloaded: refused outside the database named by pgrepl_admin.database');
$named->safe_psql('postgres', 'CREATE DATABASE appdb');
$named->safe_psql('appdb', 'CREATE EXTENSION pgrepl_admin');
$named->poll_query_until('appdb', q{SELECT bool_and(state <> 'waiting-extension') FROM pgrepl_admin.worker_status})
  or die 'the worker did not find the extension';
pass('installed in that database, where the worker runs its tasks');
$named->stop;

# not preloaded: pgrepl_admin.database of postgresql.conf still decides
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->append_conf('postgresql.conf', "pgrepl_admin.database = 'appdb'\n");
$plain->start;
$plain->safe_psql('postgres', 'CREATE DATABASE appdb');
($rc, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION pgrepl_admin');
like($err, qr/ERROR:  pgrepl_admin can only be installed in database "appdb"/,
	'not preloaded: refused outside the database postgresql.conf names');
$plain->safe_psql('appdb', 'CREATE EXTENSION pgrepl_admin');
pass('not preloaded: installed in that database');
$plain->safe_psql('postgres', 'CREATE DATABASE other');
$plain->append_conf('postgresql.conf', "pgrepl_admin.database = 'other'\n");
$plain->restart;
($rc, $out, $err) = $plain->psql('appdb', q{SELECT pgrepl_admin.hba_add('10.42.0.0/16', 'postgres', method => 'reject')});
like($err, qr/ERROR:  pgrepl_admin can only be used in database "other"/,
	'an install left outside pgrepl_admin.database refuses to write pg_hba.conf');
like($err, qr/HINT:  Drop the extension in this database with DROP EXTENSION pgrepl_admin/, 'and says to drop it');
$plain->safe_psql('appdb', 'DROP EXTENSION pgrepl_admin');
pass('which DROP EXTENSION does');
$plain->stop;

done_testing();
