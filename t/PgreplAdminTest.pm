# PgreplAdminTest: helpers shared by pgrepl_admin's TAP tests.
#
# They build real clusters with PostgreSQL::Test::Cluster: a primary with
# pgrepl_admin preloaded and created, and streaming standbys taken from it.

package PgreplAdminTest;

use strict;
use warnings;

use Exporter 'import';
use File::Find;
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(new_primary new_standby provisioned_standby task_status
  wait_for_task write_private_file tls_connstr set_hba in_backup_mode
  store_key_files files_holding_key failing_remote_commit);

# new_primary($name, %opts): a started primary that allows streaming, with
# pgrepl_admin in shared_preload_libraries.  Options:
#   extension => 0     do not run CREATE EXTENSION
#   streaming => 0     initdb's settings as PostgreSQL::Test::Cluster leaves
#                      them without streaming (wal_level minimal,
#                      max_wal_senders 0, fsync off)
#   conf      => text  more postgresql.conf lines
#   node      => node  a node made but not initialized, e.g. on a network
#                      host (PgreplNetns's node()), instead of a new one
sub new_primary
{
	my ($name, %opts) = @_;
	my $node = $opts{node} // PostgreSQL::Test::Cluster->new($name);

	$node->init(allows_streaming => $opts{streaming} // 1);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pgrepl_admin'\n" . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin')
	  unless defined $opts{extension} && !$opts{extension};
	return $node;
}

# new_standby($primary, $name, $slot): a hot standby streaming from $primary
# (from the physical slot $slot when given, which must exist), made
# from a fresh base backup, started and caught up.
sub new_standby
{
	my ($primary, $name, $slot) = @_;
	my $backup = "${name}_base";

	$primary->backup($backup);
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->append_conf('postgresql.conf', "primary_slot_name = '$slot'\n") if defined $slot;
	$standby->start;
	$primary->wait_for_catchup($standby, 'replay');
	return $standby;
}

# provisioned_standby($primary, $name, $conninfo, $slot, $conf): a standby
# of $primary made from a fresh base backup, with $conninfo as its
# primary_conninfo, $slot as its slot and $conf appended to its
# postgresql.conf; started, and seen streaming over TLS from the slot as
# role $name (add_standby()'s default role).
sub provisioned_standby
{
	my ($primary, $name, $conninfo, $slot, $conf) = @_;

	$primary->backup("${name}_base");
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init_from_backup($primary, "${name}_base", has_streaming => 1);
	$node->append_conf('postgresql.conf',
		"primary_conninfo = '$conninfo'\nprimary_slot_name = '$slot'\n" . ($conf // ''));
	$node->start;
	$primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 JOIN pg_replication_slots sl ON sl.active_pid = r.pid
		 WHERE r.application_name = '$name' AND r.state = 'streaming' AND s.ssl
		   AND r.usename = '$name' AND sl.slot_name = '$slot'")
	  or die "$name does not stream";
	return $node;
}

# task_status($node, $task, $columns): the given worker_status columns of
# one task, '|'-separated as psql prints them.
sub task_status
{
	my ($node, $task, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM pgrepl_admin.worker_status WHERE task = '$task'");
}

# wait_for_task($node, $task, $condition): wait until $condition (SQL over
# worker_status's columns) holds for the task; fails the test if it never does.
sub wait_for_task
{
	my ($node, $task, $condition) = @_;
	my $ok = $node->poll_query_until('postgres',
		"SELECT $condition FROM pgrepl_admin.worker_status WHERE task = '$task'");
	ok($ok, $node->name . ": task $task reaches $condition")
	  or diag(task_status($node, $task, '*'));
	return $ok;
}

# write_private_file($path, $content): a file only its owner may read, as
# libpq wants for client keys.
sub write_private_file
{
	my ($path, $content) = @_;
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh $content;
	close($fh);
	chmod(0600, $path) or die "could not chmod $path: $!";
	return $path;
}

# tls_connstr($node, $rootcert, %extra): a libpq connection string to the
# node over TCP on 127.0.0.1 with sslmode=verify-full against $rootcert.
sub tls_connstr
{
	my ($node, $rootcert, %extra) = @_;
	my $connstr = 'host=127.0.0.1 port=' . $node->port
	  . " dbname=postgres sslmode=verify-full sslrootcert=$rootcert";
	$connstr .= " $_=$extra{$_}" for sort keys %extra;
	return $connstr;
}

# set_hba($node, @lines): replace pg_hba.conf with local trust lines for the
# test framework followed by @lines, and reload.
sub set_hba
{
	my ($node, @lines) = @_;
	open(my $fh, '>', $node->data_dir . '/pg_hba.conf') or die $!;
	print $fh join("\n", 'local all all trust', 'local replication all trust', @lines), "\n";
	close($fh);
	$node->reload;
	return;
}

# in_backup_mode($node): whether the server is in backup mode, which a
# running backup puts it in whoever started it.  With full_page_writes =
# off, only backup mode makes the server write full-page images: after a
# checkpoint, does updating every row of the table probe (which the test
# creates with a few pages) write any?
sub in_backup_mode
{
	my ($node) = @_;
	$node->safe_psql('postgres', 'CHECKPOINT');
	my $plan = $node->safe_psql('postgres',
		'EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE probe SET n = n + 1');
	my ($fpi) = $plan =~ /fpi=(\d+)/;
	return ($fpi // 0) > 0 ? 1 : 0;
}

# store_key_files($datadir): the files of $datadir/pgrepl_admin that hold a
# PEM private key, sorted, comma-separated ('' when none).
sub store_key_files
{
	my ($datadir) = @_;
	my $store = "$datadir/pgrepl_admin";
	opendir(my $dh, $store) or return '';
	my @found = sort grep { -f "$store/$_" && slurp_file("$store/$_") =~ /PRIVATE KEY-----/ } readdir($dh);
	closedir($dh);
	return join(',', @found);
}

# files_holding_key($dir, $pem): the files anywhere under $dir (relative
# paths, sorted, comma-separated; '' when none) that hold a line of the
# base64 body of the PEM key $pem, so a copy of the key in any form of PEM.
sub files_holding_key
{
	my ($dir, $pem) = @_;
	my @lines = grep { length($_) >= 32 } $pem =~ /^([A-Za-z0-9+\/=]+)$/mg;
	die 'no base64 body in the key' unless @lines;
	my $re = join('|', map { quotemeta } @lines);
	my @found;
	File::Find::find(
		{
			no_chdir => 1,
			wanted => sub {
				return unless -f $_ && !-l $_;
				push @found, File::Spec->abs2rel($_, $dir) if slurp_file($_) =~ /$re/;
			}
		},
		$dir);
	return join(',', sort @found);
}


# failing_remote_commit($node): a foreign table fdw_remote (postgres_fdw, on
# $node itself) whose remote commit fails once a row is inserted, since
# fdw_target's deferred unique constraint already holds that row.
# postgres_fdw's pre-commit step runs after pgrepl_admin's, so a transaction
# that writes to fdw_remote fails after pgrepl_admin did its pre-commit work.
# Read fdw_remote once in a session before the transaction: that registers
# postgres_fdw's callback first.
sub failing_remote_commit
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION postgres_fdw;
		CREATE TABLE fdw_target (k int UNIQUE DEFERRABLE INITIALLY DEFERRED);
		INSERT INTO fdw_target VALUES (1);
	} . "CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '" . $node->host
		  . "', port '" . $node->port . "', dbname 'postgres');" . q{
		CREATE USER MAPPING FOR CURRENT_USER SERVER loopback;
		CREATE FOREIGN TABLE fdw_remote (k int) SERVER loopback OPTIONS (table_name 'fdw_target');
	});
	return;
}

1;
