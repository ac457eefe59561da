# pgrepl_admin.ca_key_directory without preloading (issue 22 item 12): the
# setting is defined only when pgrepl_admin is in shared_preload_libraries,
# so a server that sets it without preloading would keep the CA key in the
# default directory while the configured one stays empty.  Making a CA
# there is refused, with an error that says why; nothing is written.  With
# the setting left alone, ca_init() works without preloading, in the
# default directory.
use strict;
use warnings;

use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('unpreloaded');
$node->init;
my $chosen = PostgreSQL::Test::Utils::tempdir() . '/chosen_ca_keys';
$node->append_conf('postgresql.conf', "pgrepl_admin.ca_key_directory = '$chosen'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin');

my $default = dirname($node->data_dir) . '/pgrepl_admin_ca_' . basename($node->data_dir);
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT pgrepl_admin.ca_init()');
isnt($rc, 0, 'ca_init() with ca_key_directory set but not in force is refused');
like($err, qr/ERROR:  pgrepl_admin\.ca_key_directory is set but not in force/, 'the error names the setting');
like($err, qr/HINT:  .*shared_preload_libraries/, 'the hint names shared_preload_libraries');
ok(!-e $default || !glob("$default/*.key"), 'no CA key was written into the default directory');
ok(!-e $chosen || !glob("$chosen/*.key"), 'nor into the chosen one');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_ls_dir('pgrepl_admin', true, false) WHERE pg_ls_dir = 'ca.pem'"),
	'0', 'no CA certificate was made');

# without the setting, the default directory is the one in force
$node->adjust_conf('postgresql.conf', 'pgrepl_admin.ca_key_directory', undef);
$node->restart;
$node->safe_psql('postgres', 'SELECT pgrepl_admin.ca_init()');
ok(scalar(() = glob("$default/*.key")) == 1, 'without the setting ca_init() keeps the key in the default directory');

done_testing();
