# A hand edit of pg_hba.conf made while a managed change waits in SyncRep
# survives the commit (issue 22 item 11): the bytes outside the managed
# block are those of the live file at the moment the new file is put in
# place, however long the commit waited.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib 't';
use PgreplAdminTest;

my $node = new_primary('hand_edit');
$node->safe_psql('postgres', 'CREATE ROLE hand_edit_role LOGIN');
$node->append_conf('postgresql.conf', "synchronous_standby_names = 'nobody'\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('synchronous_standby_names') = 'nobody'")
  or die 'synchronous_standby_names not in force';
my $hba = $node->data_dir . '/pg_hba.conf';

my ($out, $err) = ('', '');
my $waiting = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c',
	  "SELECT pgrepl_admin.hba_add('198.51.100.7/32', 'hand_edit_role', database => 'postgres', connection_type => 'host')" ],
	'>', \$out, '2>', \$err);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%hba_add%'"),
	'hba_add() waits for the synchronous standby') or die "hba_add: $err";

# meanwhile the DBA adds a line by hand and reloads
my $hand = "host all hand_edited 198.51.100.99/32 scram-sha-256\n";
append_to_file($hba, "# added by hand while a commit waits\n$hand");
$node->reload;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_hba_file_rules WHERE 'hand_edited' = ANY(user_name)"),
	'the hand-added line is loaded');

# release the commit
$node->append_conf('postgresql.conf', "synchronous_standby_names = ''\n");
$node->reload;
$waiting->finish;
like($out, qr/^\d+$/, 'hba_add() returned its rule id') or diag($err);

my $text = slurp_file($hba);
like($text, qr/^\Q$hand\E/m, 'the line added by hand is still in pg_hba.conf');
like($text, qr/198\.51\.100\.7\/32/, 'the managed rule is in pg_hba.conf');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_hba_file_rules WHERE 'hand_edited' = ANY(user_name)"),
	'after the reload the hand-added line is still loaded');
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM pgrepl_admin.hba_status WHERE loaded AND error IS NULL'),
	'1', 'the managed rule is loaded');

done_testing();
