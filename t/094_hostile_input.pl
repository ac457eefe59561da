# Hostile input: every function of the SQL API, and direct writes to the
# extension's tables and views, given injection characters, reserved
# words, boundary lengths, NULLs, huge and negative intervals, invalid
# CIDR and unknown enum values.  Each input is one row of a table: its
# call and the SQLSTATE it must end in.  Each error's message is
# lower-case without a full stop, its detail and hint are sentences.  And
# nothing is written: roles, slots, the extension's tables, the backups,
# pg_hba.conf, postgresql.auto.conf and the managed certificate files are
# the same after every row as before the first (checked every few rows).
#
# The server has what the functions need to reach their deeper checks: a
# CA (replaced once, so a retiring CA still signs the served certificate),
# TLS on, a replication role, a managed rule, a provisioned standby with
# its slot, a running and a stopped backup.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

# the worker writes nothing by itself during the test: no lag samples, no
# drift repair (which would hide a damaged pg_hba.conf)
my $node = new_primary('hostile', conf => join('',
	"listen_addresses = '127.0.0.1'\n",
	"pgrepl_admin.lag_sample_interval = 0\n",
	"pgrepl_admin.hba_check_interval = 0\n"));

# --- what the functions need to reach their deeper checks
$node->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day');
	SELECT pgrepl_admin.ca_init(replace => true);
	SELECT pgrepl_admin.create_replication_role('regress_repl');
	CREATE ROLE regress_plain;
	CREATE ROLE regress_super SUPERUSER LOGIN REPLICATION;
	SELECT pgrepl_admin.hba_add('10.5.0.0/16', 'regress_repl');
	SELECT pgrepl_admin.add_standby('regress_sb', '10.1.2.3/32');
	SELECT pgrepl_admin.backup_start('regress_running');
	SELECT pgrepl_admin.backup_start('regress_done');
	SELECT pgrepl_admin.backup_stop('regress_done');
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(kind, ',' ORDER BY kind) FROM pgrepl_admin.certificates
	WHERE kind IN ('ca', 'ca-retiring', 'server')}),
	'ca,ca-retiring,server', 'set-up: a CA, a retiring CA and a server certificate');
is($node->safe_psql('postgres', q{
	SELECT string_agg(label || ' ' || state, ',' ORDER BY label) FROM pgrepl_admin.backups}),
	'regress_done stopped,regress_running running', 'set-up: a stopped and a running backup');

my $R = q{'regress_repl'};		# an existing replication role

# [call, SQLSTATE]: one statement each, run in its own transaction
my @rows = (
	# worker_status
	[ q{SELECT * FROM pgrepl_admin.worker_status('x')}, '42883' ],
	[ q{UPDATE pgrepl_admin.worker_status SET state = 'stopped'}, '55000' ],
	# wal_position, replication_lag, lag_history, standby_status
	[ q{SELECT pgrepl_admin.wal_position('0/0')}, '42883' ],
	[ q{SELECT * FROM pgrepl_admin.replication_lag('regress_sb')}, '42883' ],
	[ q{DELETE FROM pgrepl_admin.replication_lag}, '55000' ],
	[ q{SELECT * FROM pgrepl_admin.md5_in_use('regress_repl')}, '42883' ],
	[ q{INSERT INTO pgrepl_admin.lag_history (sampled_at, status, wal_lsn) VALUES (now(), NULL, '0/0')}, '23502' ],
	[ q{INSERT INTO pgrepl_admin.lag_history (sampled_at, status, wal_lsn) VALUES (now(), 'streaming', 'not-an-lsn')}, '22P02' ],
	[ q{INSERT INTO pgrepl_admin.standby_status (in_recovery) VALUES (true)}, '55000' ],
	# certificates
	[ q{SELECT * FROM pgrepl_admin.certificates('ca')}, '42883' ],
	[ q{INSERT INTO pgrepl_admin.certificates (kind, path) VALUES ('ca', '/etc/passwd')}, '55000' ],
	# ca_init
	[ q{SELECT pgrepl_admin.ca_init(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.ca_init('x', NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', 'ec-p256', NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.ca_init('')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init(repeat('x', 65))}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init(repeat('é', 65))}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init(repeat('x', 64))}, '42710' ],	# the length is fine, the CA exists
	[ q{SELECT pgrepl_admin.ca_init(E'pgrepl\nCN=evil')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '0')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '-1 day')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '0.5 seconds')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 month -30 days')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '101 years')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '178000000 years')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '-178000000 years')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '2147483647 days 2562047788 hours')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', 'rsa-1024')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', 'EC-P256')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', 'ec-p256''; DROP TABLE pgrepl_admin.hba_rules; --')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_init('x', '1 year', '')}, '22023' ],
	# ca_retire
	[ q{SELECT pgrepl_admin.ca_retire(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.ca_retire('')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_retire('::')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_retire('0x1F')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_retire(repeat('A', 65))}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_retire('7F''; DROP TABLE pgrepl_admin.standbys; --')}, '22023' ],
	[ q{SELECT pgrepl_admin.ca_retire((SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'))}, '55006' ],
	[ q{SELECT pgrepl_admin.ca_retire((SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca-retiring'))}, '55006' ],
	# ca_certificate
	[ q{SELECT pgrepl_admin.ca_certificate('ca')}, '42883' ],
	# rotate_server_cert
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[]::text[])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[NULL]::text[])}, '22004' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[['a', 'b'], ['c', 'd']])}, '2202E' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['*.example.com'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['db1.example.com,DNS:evil.com'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[E'db1.example.com\n'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['-lead.example.com'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['a..b'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[repeat('a', 64) || '.com'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY[repeat('a.', 126) || 'ab'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['999.1.1.1'])}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'], '20 years')}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'], '-90 days')}, '22023' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'], NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost'], '1 day', 'dsa')}, '22023' ],
	# issue_client_cert
	[ q{SELECT * FROM pgrepl_admin.issue_client_cert(NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.issue_client_cert('')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.issue_client_cert(E'regress\trepl')}, '22023' ],
	[ qq{SELECT * FROM pgrepl_admin.issue_client_cert($R, '11 years')}, '22023' ],
	[ qq{SELECT * FROM pgrepl_admin.issue_client_cert($R, NULL)}, '22004' ],
	[ qq{SELECT * FROM pgrepl_admin.issue_client_cert($R, '1 day', 'ed448')}, '22023' ],
	# prepare_primary (with apply where it would write)
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(0, apply => true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(1001, apply => true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(-2147483648)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(2147483647, apply => true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, NULL, NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '127.0.0.1; rm -rf /', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '''*''', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, E'127.0.0.1\nssl = off', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '127.0.0.1,,', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '*x', true)}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.prepare_primary(4, '203.0.113.254', true)}, '22023' ],
	# backup_start
	[ q{SELECT pgrepl_admin.backup_start(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.backup_start('')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_start(repeat('x', 1025))}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_start(E'regress\nSTART WAL LOCATION: 0/0')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_start('regress_running')}, '42710' ],
	[ q{SELECT pgrepl_admin.backup_start('regress_x', NULL)}, '22004' ],
	# time-outs of backup_start and backup_extend (a running backup's)
	(map { ([ "SELECT pgrepl_admin.backup_start('regress_x', true, '$_')", '22023' ],
			[ "SELECT pgrepl_admin.backup_extend('regress_running', '$_')", '22023' ]) }
	  ('0', '-1 hour', '0.5 seconds', '1 month -40 days', '101 years', '1000000 days',
		'2147483647 days', '-178000000 years')),
	# backup_stop, backup_abort, backup_extend, backup_slots, backups, backup_history
	[ q{SELECT * FROM pgrepl_admin.backup_stop(NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.backup_stop(repeat('x', 1025))}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.backup_stop('regress_nosuch')}, '42704' ],
	[ q{SELECT * FROM pgrepl_admin.backup_stop('regress_done')}, '55000' ],
	[ q{SELECT * FROM pgrepl_admin.backup_stop('regress_running', NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.backup_abort(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.backup_abort('')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_abort(E'regress\x01')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_extend(NULL, '1 hour')}, '22004' ],
	[ q{SELECT pgrepl_admin.backup_extend('regress_running', NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.backup_extend('', '1 hour')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_extend(repeat('x', 1025), '1 hour')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_extend(E'regress\x01', '1 hour')}, '22023' ],
	[ q{SELECT pgrepl_admin.backup_extend('regress_nosuch', '1 hour')}, '42704' ],
	[ q{SELECT pgrepl_admin.backup_extend('regress_done', '1 hour')}, '55000' ],
	[ q{SELECT * FROM pgrepl_admin.backup_slots('regress_running')}, '42883' ],
	[ q{DELETE FROM pgrepl_admin.backups}, '55000' ],
	[ q{INSERT INTO pgrepl_admin.backup_history (label, state, started_at) VALUES ('x', 'bogus', now())}, '23514' ],
	[ q{UPDATE pgrepl_admin.backup_history SET state = 'done'}, '23514' ],
	# create_replication_role
	[ q{SELECT pgrepl_admin.create_replication_role(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.create_replication_role('')}, '22023' ],
	[ q{SELECT pgrepl_admin.create_replication_role(E'regress\nrepl')}, '22023' ],
	[ q{SELECT pgrepl_admin.create_replication_role('public')}, '42939' ],
	[ q{SELECT pgrepl_admin.create_replication_role('none')}, '42939' ],
	[ q{SELECT pgrepl_admin.create_replication_role('pg_evil')}, '42939' ],
	[ q{SELECT pgrepl_admin.create_replication_role('postgres')}, '42710' ],
	[ q{SELECT pgrepl_admin.create_replication_role('regress_super', if_not_exists => true)}, '42809' ],
	[ q{SELECT pgrepl_admin.create_replication_role('regress_new', '')}, '22023' ],
	[ q{SELECT pgrepl_admin.create_replication_role('regress_new', 'secret', NULL)}, '22004' ],
	# drop_replication_role
	[ q{SELECT pgrepl_admin.drop_replication_role(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.drop_replication_role('pg_monitor')}, '42809' ],
	[ q{SELECT pgrepl_admin.drop_replication_role('regress_plain')}, '42809' ],
	[ q{SELECT pgrepl_admin.drop_replication_role('regress_sb')}, '2BP01' ],
	[ qq{SELECT pgrepl_admin.drop_replication_role($R)}, '2BP01' ],
	[ q{SELECT pgrepl_admin.drop_replication_role(current_user)}, '42809' ],
	[ q{SELECT pgrepl_admin.drop_replication_role('regress_super')}, '42809' ],
	# hba_rules_changed, hba_sync, hba_file_status, hba_status
	[ q{SELECT pgrepl_admin.hba_rules_changed()}, '39P01' ],
	# the rules a restore left waiting (hba_restore.c)
	[ q{SELECT pgrepl_admin.hba_rules_guard()}, '39P01' ],
	[ q{SELECT pgrepl_admin.hba_apply_restored(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.hba_apply_restored('maybe')}, '22P02' ],
	[ q{SELECT pgrepl_admin.hba_discard_restored('x')}, '42883' ],
	[ q{SELECT pgrepl_admin.hba_sync(true)}, '42883' ],
	[ q{SELECT * FROM pgrepl_admin.hba_file_status(1)}, '42883' ],
	[ q{UPDATE pgrepl_admin.hba_status SET method = 'trust'}, '55000' ],
	# hba_add
	[ qq{SELECT pgrepl_admin.hba_add(NULL, $R)}, '22004' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', NULL)}, '22004' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, NULL)}, '22004' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'replication', NULL)}, '22004' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'replication', 'scram-sha-256', NULL)}, '22004' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, force => NULL)}, '22004' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.1/16', $R)}, '22P02' ],
	[ qq{SELECT pgrepl_admin.hba_add('999.0.0.0/8', $R)}, '22P02' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.0.0.0/33', $R)}, '22P02' ],
	[ qq{SELECT pgrepl_admin.hba_add('0.0.0.0/0', $R)}, '42501' ],
	[ qq{SELECT pgrepl_admin.hba_add('::/0', $R)}, '42501' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', 'all')}, '42704' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', '+regress_repl')}, '42704' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', '@pg_hba.conf')}, '42704' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', E'regress_repl\nhost all all 0.0.0.0/0 trust')}, '22023' ],
	[ q{SELECT pgrepl_admin.hba_add('10.6.0.0/16', 'regress_repl\')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'all')}, '3D000' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'sameuser')}, '3D000' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'postgres,template1')}, '3D000' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, E'postgres\n')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, comment => E'x\nhost all all 0.0.0.0/0 trust')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, comment => repeat('c', 201))}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, comment => 'continued\\')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, method => 'trust')}, '42501' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, method => 'password')}, '42501' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, method => 'ident')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, method => 'scram-sha-256 clientcert=verify-full')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, connection_type => 'local')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, connection_type => 'hostgssenc')}, '22023' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, connection_type => 'host')}, '42501' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.6.0.0/16', $R, 'postgres', 'cert', 'host', force => true)}, 'F0000' ],
	[ qq{SELECT pgrepl_admin.hba_add('10.5.0.0/16', $R, method => 'cert')}, '42710' ],
	# hba_remove
	[ q{SELECT pgrepl_admin.hba_remove(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.hba_remove((SELECT rule_id FROM pgrepl_admin.hba_rules WHERE role_name = 'regress_sb'))}, '2BP01' ],
	# the hba_rules table, written directly
	[ qq{INSERT INTO pgrepl_admin.hba_rules (role_name, address, method) VALUES ($R, '10.8.0.0/16', 'ident')}, '23514' ],
	[ qq{INSERT INTO pgrepl_admin.hba_rules (role_name, address, connection_type) VALUES ($R, '10.8.0.0/16', 'local')}, '23514' ],
	[ qq{INSERT INTO pgrepl_admin.hba_rules (role_name, address) VALUES ($R, '10.8.0.1/16')}, '22P02' ],
	[ q{INSERT INTO pgrepl_admin.hba_rules (role_name, address) VALUES (E'regress_repl\nhost all all 0.0.0.0/0 trust', '10.8.0.0/16')}, '22023' ],
	[ q{UPDATE pgrepl_admin.hba_rules SET comment = E'x\nhost all all 0.0.0.0/0 trust'}, '22023' ],
	[ q{UPDATE pgrepl_admin.hba_rules SET database = 'postgres\'}, '22023' ],
	# the standbys table, written directly
	[ qq{INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth) VALUES ('x', $R, '10.8.0.0/16', 'trust')}, '23514' ],
	[ qq{INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth) VALUES ('regress_sb', $R, '10.8.0.0/16', 'cert')}, '23505' ],
	# add_standby
	[ q{SELECT * FROM pgrepl_admin.add_standby(NULL, '10.7.0.0/16')}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', create_slot => NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('', '10.7.0.0/16')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('Regress_new', '10.7.0.0/16')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress-new', '10.7.0.0/16')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('x''; DROP ROLE postgres; --', '10.7.0.0/16')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby(repeat('a', 64), '10.7.0.0/16')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', 'md5')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', 'trust')}, '22023' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.1/16')}, '22P02' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '0.0.0.0/0')}, '42501' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_repl', '10.7.0.0/16')}, '42710' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', role_name => 'public')}, '42939' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', role_name => 'pg_monitor')}, '42939' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', role_name => 'regress_super')}, '42809' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_sb', '10.9.0.0/16')}, '42710' ],
	# remove_standby, check
	[ q{SELECT pgrepl_admin.remove_standby(NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.remove_standby('regress_sb', NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin."check"('regress_sb')}, '42883' ],
	# synchronous_fallback, and its setting (through ALTER SYSTEM, which
	# checks the value before it writes postgresql.auto.conf)
	[ q{SELECT * FROM pgrepl_admin.synchronous_fallback('regress_sb')}, '42883' ],
	[ q{ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '-1'}, '22023' ],
	[ q{ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = 'off'}, '22023' ],
	[ q{ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '3 fortnights'}, '22023' ],
	[ q{ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = '99999999999 s'}, '22023' ],
	[ q{ALTER SYSTEM SET pgrepl_admin.synchronous_fallback_after = E'1s\nsynchronous_standby_names = \'\''}, '22023' ],
	# set_synchronous, synchronous_members, synchronous_status
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY[NULL])}, '22004' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['regress_sb', 'x"y'])}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['x'', ''y'])}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['*'])}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['Regress_sb'])}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous('{}')}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous('{{regress_sb}}')}, '2202E' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['regress_nosuch'])}, '42704' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['regress_sb', 'regress_sb'])}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(ARRAY['regress_sb'], 2)}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(num => -1)}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(method => 'all')}, '22023' ],
	[ q{SELECT pgrepl_admin.set_synchronous(num => NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.set_synchronous(method => NULL)}, '22004' ],
	[ q{SELECT pgrepl_admin.set_synchronous(apply => NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.add_standby('regress_new', '10.7.0.0/16', synchronous => NULL)}, '22004' ],
	[ q{SELECT * FROM pgrepl_admin.synchronous_members('x')}, '42883' ],
	[ q{SELECT pgrepl_admin.synchronous_self('x')}, '42883' ],
	[ q{DELETE FROM pgrepl_admin.synchronous_status}, '55000' ],
);
cmp_ok(scalar(@rows), '>=', 80, 'the table has at least 80 hostile inputs');

# --- every function of the extension has rows
my @functions = split /\n/, $node->safe_psql('postgres', q{
	SELECT DISTINCT p.proname FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
	WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
	ORDER BY 1});
for my $f (@functions)
{
	ok((grep { $_->[0] =~ /pgrepl_admin\."?\Q$f\E"?\(/ } @rows), "hostile inputs call $f()");
}

# --- the fingerprint of everything the API could write
my @tables = split /\n/, $node->safe_psql('postgres', q{
	SELECT c.oid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind = 'r'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
	ORDER BY 1});
my $state_sql = join("\nUNION ALL ",
	q{SELECT 'role ' || rolname || ' login=' || rolcanlogin || ' replication=' || rolreplication
	         || ' super=' || rolsuper || ' password=' || COALESCE(md5(rolpassword), '-') FROM pg_authid},
	q{SELECT 'member ' || roleid::regrole || ' ' || member::regrole FROM pg_auth_members},
	q{SELECT 'slot ' || slot_name || ' ' || slot_type || ' ' || temporary FROM pg_replication_slots},
	q{SELECT 'backups ' || b::text FROM pgrepl_admin.backups b},
	map { "SELECT '$_ ' || t::text FROM $_ t" } @tables);
my $pgdata = $node->data_dir;

sub fingerprint
{
	my %files;
	for my $f ('pg_hba.conf', 'postgresql.auto.conf')
	{
		$files{$f} = sha256_hex(slurp_file("$pgdata/$f"));
	}
	find(
		{
			no_chdir => 1,
			wanted => sub {
				return unless -f $_;
				(my $rel = $_) =~ s{^\Q$pgdata\E/}{};
				$files{$rel} = sprintf('%04o %s', (stat $_)[2] & 07777, sha256_hex(slurp_file($_)));
			}
		},
		"$pgdata/pgrepl_admin");
	return join("\n",
		$node->safe_psql('postgres', "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ($state_sql) s(x)"),
		map { "file $_ $files{$_}" } sort keys %files);
}

my $before = fingerprint();
like($before, qr/^file pgrepl_admin\/server\.pem 0600 /m, 'the fingerprint holds the managed files');
like($before, qr/^slot regress_sb physical/m, 'the fingerprint holds the slots');

# run a chunk of rows in one psql session, each statement in its own
# transaction; stderr carries, for each row, its error and SQLSTATE
sub run_rows
{
	my @chunk = @_;
	my $script = '';
	for my $i (0 .. $#chunk)
	{
		$script .= "\\warn \@\@row $i\n$chunk[$i][0];\n\\warn \@\@sqlstate $i :SQLSTATE\n";
	}
	my ($out, $err) = ('', '');
	$node->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_stop => 0);

	my (@results, $cur, $field);
	for my $line (split /\n/, $err)
	{
		if ($line =~ /^\@\@row (\d+)$/)
		{
			$cur = { message => '' };
			$field = undef;
		}
		elsif ($line =~ /^\@\@sqlstate (\d+) (\S+)$/)
		{
			$cur->{sqlstate} = $2;
			$results[$1] = $cur;
			$field = undef;
		}
		elsif ($line =~ /^(?:psql:\S+ )?ERROR:  (.*)$/)
		{
			$cur->{message} = $1;
			delete @$cur{qw(detail hint)};
			$field = 'message';
		}
		elsif ($line =~ /^(DETAIL|HINT):  (.*)$/ && defined $field)
		{
			$field = lc $1;
			$cur->{$field} = $2;
		}
		elsif ($line =~ /^(?:psql:\S+ )?(?:NOTICE|WARNING|CONTEXT|LINE \d+):/ || $line =~ /^\s*\^\s*$/)
		{
			$field = undef;
		}
		elsif (defined $field)
		{
			$cur->{$field} .= "\n$line";	# a message of several lines
		}
	}
	return @results;
}

# a sentence starts with a capital or with a name such as pg_hba.conf or
# listen_addresses, and ends with a full stop
sub sentence
{
	my ($text) = @_;
	return !defined $text || ($text =~ /^(?:[A-Z]|[\w.]*[_.][\w.]*\b)/ && $text =~ /\.\s*$/s);
}

my $chunk_size = 30;
for (my $start = 0; $start < @rows; $start += $chunk_size)
{
	my $end = $start + $chunk_size - 1;
	$end = $#rows if $end > $#rows;
	my @chunk = @rows[ $start .. $end ];
	my @results = run_rows(@chunk);
	for my $i (0 .. $#chunk)
	{
		my ($sql, $want) = @{ $chunk[$i] };
		my $r = $results[$i] // { sqlstate => 'no result', message => '' };
		is($r->{sqlstate}, $want, $sql) or diag("message: $r->{message}");
		ok( $r->{message} ne ''
			  && $r->{message} !~ /^[A-Z][a-z]/
			  && $r->{message} !~ /\.$/
			  && sentence($r->{detail})
			  && sentence($r->{hint}),
			"$sql: lower-case message, detail and hint as sentences")
		  or diag(explain($r));
	}
	is(fingerprint(), $before, 'nothing was written by rows ' . ($start + 1) . ' to ' . ($end + 1));
}

# the set-up still works: the managed rules are what the file says
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgrepl_admin.hba_status WHERE error IS NULL AND loaded}),
	'2', 'both managed rules are in pg_hba.conf and loaded');
$node->safe_psql('postgres', q{SELECT pgrepl_admin.backup_abort('regress_running')});

$node->stop;
done_testing();
