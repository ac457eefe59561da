# check()'s failover_slots row (issue 23: 19's slotsync_skip_reason where
# it explains a slot), on a real primary and a real standby that
# synchronizes the primary's logical failover slot (17 and later):
#   - before 17 the row says slots are synchronized from 17 on;
#   - on the primary it names the slots marked for failover;
#   - on the standby, a slot made on the primary before the standby's base
#     backup cannot be persisted (the primary's slot needs WAL and catalog
#     rows the standby never had): the row warns that it is not ready for a
#     failover, with the server's reason on 19 (wal_or_rows_removed) and
#     "not persisted yet" before 19;
#   - once the primary's slot has moved past what the standby holds (its
#     subscriber consumed: here pg_replication_slot_advance), the slot sync
#     worker persists the copy, and the row says it is ready.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $primary = new_primary('fs_primary', conf => "wal_level = logical\n");
my $version = $primary->pg_version;

sub failover_row
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT status || ' | ' || detail || ' | ' || COALESCE(hint, '') FROM pgrepl_admin.check() WHERE check_name = 'failover_slots'");
}

if ($version < 17)
{
	like(failover_row($primary), qr/^ok \| Logical slots are synchronized to standbys from PostgreSQL 17 on\. \| $/,
		"before 17 the row says slot synchronization needs 17 ($version)");
	$primary->stop;
	done_testing();
	exit 0;
}

like(failover_row($primary), qr/^ok \| No logical slot of this server is marked for failover\./,
	'primary without failover slots: ok, says so');

# the slot, made before the standby's base backup, then WAL the backup
# starts after
$primary->safe_psql('postgres', q{
	SELECT pg_create_physical_replication_slot('fs_standby', true);
	SELECT pg_create_logical_replication_slot('fs_sub', 'pgoutput', false, false, true);
	CREATE TABLE filler AS SELECT g FROM generate_series(1, 1000) g;
	CHECKPOINT;
});
like(failover_row($primary),
	qr/^ok \| Logical slots marked for failover, which standbys with sync_replication_slots = on synchronize: fs_sub\./,
	'primary: names the slot marked for failover');

$primary->backup('fs_base');
my $standby = PostgreSQL::Test::Cluster->new('fs_standby');
$standby->init_from_backup($primary, 'fs_base', has_streaming => 1);
my $conninfo = 'port=' . $primary->port . ' host=' . $primary->host . ' dbname=postgres application_name=fs_standby';
$standby->append_conf('postgresql.conf', qq{
primary_conninfo = '$conninfo'
primary_slot_name = 'fs_standby'
hot_standby_feedback = on
sync_replication_slots = on
});
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

# the slot sync worker copies the slot, which it cannot persist yet
$standby->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'fs_sub' AND synced")
  or die 'the slot sync worker did not copy fs_sub';
my $reason = $primary->safe_psql('postgres', 'SHOW server_version_num') >= 190000 ? 'wal_or_rows_removed' : 'not persisted yet';
my $row;
ok( $standby->poll_query_until('postgres',
		"SELECT detail LIKE '%not ready for a failover: fs_sub ($reason)%' FROM pgrepl_admin.check() WHERE check_name = 'failover_slots'"),
	"standby: the synchronized slot is not ready, with its reason ($reason)")
  or diag(failover_row($standby));
$row = failover_row($standby);
like($row, qr/^warning \| 1 logical slot\(s\) synchronized from the primary; not ready for a failover: fs_sub \(\Q$reason\E\)\. \| A synchronized slot survives a promotion/,
	'standby: a warning naming the slot and why, with the hint');
is($standby->safe_psql('postgres', 'SELECT temporary FROM pg_replication_slots WHERE slot_name = $$fs_sub$$'),
	't', 'the server agrees: its copy is temporary');
like(slurp_file($standby->logfile), qr/could not synchronize replication slot "fs_sub"/, 'and its log says what the hint quotes');

# the subscriber consumes: the primary's slot moves past what the standby
# holds.  A logical slot's restart position moves at a running-transactions
# record it decoded once its confirmed position passes it, so each round
# logs one, writes, and advances the slot past both.
my $held = $standby->safe_psql('postgres', q{SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'fs_sub'});
my $moved = 0;
for my $round (1 .. 20)
{
	$primary->safe_psql('postgres', q{
		SELECT pg_log_standby_snapshot();
		INSERT INTO filler SELECT g FROM generate_series(1, 100) g;
		SELECT pg_replication_slot_advance('fs_sub', pg_current_wal_lsn());
	});
	$moved = $primary->safe_psql('postgres',
		"SELECT restart_lsn >= '$held' FROM pg_replication_slots WHERE slot_name = 'fs_sub'") eq 't';
	last if $moved;
}
ok($moved, "the primary's slot moved past what the standby holds ($held)");
$primary->wait_for_catchup($standby, 'flush');
ok( $standby->poll_query_until('postgres',
		"SELECT status = 'ok' AND detail LIKE '%ready: fs_sub.' FROM pgrepl_admin.check() WHERE check_name = 'failover_slots'"),
	'standby: once persisted, the slot is ready and the row is ok')
  or diag(failover_row($standby));
is($standby->safe_psql('postgres', 'SELECT temporary FROM pg_replication_slots WHERE slot_name = $$fs_sub$$'),
	'f', 'the server agrees: its copy is persisted');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.check() WHERE check_name = $$failover_slots$$'),
	'1', 'one failover_slots row');

$standby->stop;
$primary->stop;
done_testing();
