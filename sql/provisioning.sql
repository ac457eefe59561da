-- Standby provisioning: replication roles, the managed block of
-- pg_hba.conf (the regression instance's own file, rewritten at each
-- commit and checked by the server's parser), hba_status, add_standby and
-- remove_standby.  Passwords and ports vary: only their shape is shown.
\set VERBOSITY terse
SET pgrepl_admin.primary_host = 'primary.example';
CREATE FUNCTION pg_temp.managed_block() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT l FROM (SELECT l, sum((l LIKE '# BEGIN pgrepl_admin%' OR l LIKE '# END pgrepl_admin%')::int)
                               OVER (ORDER BY n) AS inside
                   FROM regexp_split_to_table(pg_read_file(current_setting('hba_file')), E'\n')
                        WITH ORDINALITY AS t(l, n)) b
    WHERE inside = 1 OR l LIKE '# END pgrepl_admin%'
$$;
CREATE FUNCTION pg_temp.hba_md5() RETURNS text LANGUAGE sql AS $$
    SELECT md5(pg_read_file(current_setting('hba_file')))
$$;

-- replication roles: a generated password is URL-safe and 192 bits long
SELECT length(p) AS length, p ~ '^[A-Za-z0-9_-]+$' AS url_safe
FROM pgrepl_admin.create_replication_role('regress_repl1') p;
SELECT rolcanlogin, rolreplication, rolsuper, rolpassword ~ '^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$' AS scram_verifier
FROM pg_authid WHERE rolname = 'regress_repl1';
SELECT pgrepl_admin.create_replication_role('regress_repl2') <>
       pgrepl_admin.create_replication_role('regress_repl3') AS passwords_differ;
-- a given password is stored as a verifier and not returned
SELECT pgrepl_admin.create_replication_role('regress_repl4', 'a given secret') IS NULL AS not_returned;
SELECT rolpassword ~ '^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$' AS scram_verifier, rolpassword NOT LIKE '%given%' AS no_plain_text
FROM pg_authid WHERE rolname = 'regress_repl4';
-- an existing role: an error, or with if_not_exists LOGIN REPLICATION and the same password
SELECT pgrepl_admin.create_replication_role('regress_repl1');
CREATE ROLE regress_plain PASSWORD 'kept';
SELECT rolpassword AS before FROM pg_authid WHERE rolname = 'regress_plain' \gset
SELECT pgrepl_admin.create_replication_role('regress_plain', 'ignored', if_not_exists => true) IS NULL AS returns_null;
SELECT rolcanlogin, rolreplication, rolpassword = :'before' AS password_kept
FROM pg_authid WHERE rolname = 'regress_plain';
-- bad input
SELECT pgrepl_admin.create_replication_role(NULL);
SELECT pgrepl_admin.create_replication_role('');
SELECT pgrepl_admin.create_replication_role(E'regress\nx');
SELECT pgrepl_admin.create_replication_role('regress_x', '');
SELECT pgrepl_admin.create_replication_role('regress_x', if_not_exists => NULL);
SELECT pgrepl_admin.create_replication_role('pg_regress');
-- dropping
SELECT pgrepl_admin.drop_replication_role('regress_repl3');
SELECT pgrepl_admin.drop_replication_role('regress_repl3');
CREATE ROLE regress_norepl;
SELECT pgrepl_admin.drop_replication_role('regress_norepl');
SELECT pgrepl_admin.drop_replication_role(NULL);

-- managed rules: the block goes before the first rule of the file
SELECT pgrepl_admin.hba_add('10.1.0.0/16', 'regress_repl1', comment => 'first') AS r1 \gset
SELECT pgrepl_admin.hba_add('10.1.0.0/16', 'regress_repl1') = :r1 AS same_rule_same_id;
SELECT pgrepl_admin.hba_add('10.1.2.3', 'regress_repl1') AS r2 \gset
SELECT pgrepl_admin.hba_add('fd00::/8', 'regress_repl2', method => 'cert');
SELECT pgrepl_admin.hba_add('10.9.0.0/16', 'regress_repl2', database => 'postgres', connection_type => 'host');
SELECT pgrepl_admin.hba_add('10.9.0.0/16', 'regress_repl4', method => 'md5');
SELECT * FROM pg_temp.managed_block();
SELECT rule_id - :r1 AS rule, connection_type, database, role_name, address, method, comment FROM pgrepl_admin.hba_rules ORDER BY 1;
-- the server parses every line of the file
SELECT count(*) AS lines_with_errors FROM pg_hba_file_rules WHERE error IS NOT NULL;
SELECT type, database, user_name, address, netmask, auth_method FROM pg_hba_file_rules
WHERE address IS NOT NULL AND address NOT IN ('127.0.0.1', '::1') ORDER BY line_number;
-- hba_status: the /32 rule comes after the /16 one for the same role, which matches first
SELECT rule_id - :r1 AS rule, line_number - (SELECT min(line_number) FROM pgrepl_admin.hba_status) AS line,
       shadowed_by - (SELECT min(line_number) FROM pgrepl_admin.hba_status) AS shadowed_by_line, error
FROM pgrepl_admin.hba_status ORDER BY 1;

-- the same connection type, database, role and address with another method
SELECT pgrepl_admin.hba_add('10.1.0.0/16', 'regress_repl1', method => 'cert');
-- what could add, alter or widen a rule is an error and changes nothing
SELECT pg_temp.hba_md5() AS md5_before \gset
SELECT pgrepl_admin.hba_add(NULL, 'regress_repl1');
SELECT pgrepl_admin.hba_add('10.0.0.1', NULL);
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => NULL);
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', force => NULL);
SELECT pgrepl_admin.hba_add('10.0.0.1', E'regress_repl1\nhost all all 0.0.0.0/0 trust');
SELECT pgrepl_admin.hba_add('10.0.0.1', E'regress_repl1\rx');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', E'postgres\n');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1' || chr(0));
SELECT pgrepl_admin.hba_add('10.0.0.1', 'all');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'replication');
SELECT pgrepl_admin.hba_add('10.0.0.1', '+regress_repl1');
SELECT pgrepl_admin.hba_add('10.0.0.1', '@regress_file');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1,all');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1 all');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1"');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1#');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1\');
SELECT pgrepl_admin.hba_add('10.0.0.1', repeat('r', 100));
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => 'all');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => 'sameuser');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => repeat('d', 64));
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => '');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', method => 'trust');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', method => 'password');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', method => 'peer');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', method => 'scram-sha-256 clientcert=verify-ca');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', connection_type => 'host');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', connection_type => 'hostnossl');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', connection_type => 'local');
SELECT pgrepl_admin.hba_add('0.0.0.0/0', 'regress_repl1');
SELECT pgrepl_admin.hba_add('::/0', 'regress_repl1');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', comment => E'line\nhost all all 0.0.0.0/0 trust');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', comment => 'continued\');
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', comment => repeat('c', 201));
-- the server's parser refuses cert without TLS, naming the reason
SELECT pgrepl_admin.hba_add('10.0.0.1', 'regress_repl1', database => 'postgres', method => 'cert',
                            connection_type => 'host');
SELECT pg_temp.hba_md5() = :'md5_before' AS file_unchanged;

-- quoting: real roles and databases with special names stay literal names
CREATE ROLE "all" LOGIN;
CREATE ROLE "+regress_repl1" LOGIN;
CREATE ROLE "regress ""q"", #x \ y" LOGIN;
CREATE DATABASE "regress,all";
SELECT pgrepl_admin.hba_add('10.3.0.1', 'all', force => true, connection_type => 'host') AS q1 \gset
SELECT pgrepl_admin.hba_add('10.3.0.2', '+regress_repl1') AS q2 \gset
SELECT pgrepl_admin.hba_add('10.3.0.3', 'regress "q", #x \ y', database => 'regress,all') AS q3 \gset
SELECT l FROM pg_temp.managed_block() l WHERE l LIKE '%10.3.0.%';
SELECT type, database, user_name, address FROM pg_hba_file_rules WHERE address LIKE '10.3.0.%' ORDER BY line_number;
SELECT pgrepl_admin.hba_remove(:q1), pgrepl_admin.hba_remove(:q2), pgrepl_admin.hba_remove(:q3);
DROP ROLE "all", "+regress_repl1", "regress ""q"", #x \ y";
DROP DATABASE "regress,all";
-- force admits what is otherwise refused
SELECT pgrepl_admin.hba_add('0.0.0.0/0', 'regress_repl4', method => 'reject', force => true) AS f1 \gset
SELECT l FROM pg_temp.managed_block() l WHERE l LIKE '%0.0.0.0/0%';
SELECT pgrepl_admin.hba_remove(:f1);
SELECT pgrepl_admin.hba_remove(:f1);

-- a rolled-back transaction leaves the file as it was, byte for byte
SELECT pg_temp.hba_md5() AS md5_before \gset
BEGIN;
SELECT pgrepl_admin.hba_add('10.4.0.0/16', 'regress_repl1') IS NOT NULL AS added;
SELECT pgrepl_admin.hba_remove(:r1);
ROLLBACK;
SELECT pg_temp.hba_md5() = :'md5_before' AS file_unchanged;
-- many changes in one transaction reach the file at commit; a rule
-- inserted by hand (as a restored dump does) waits until applied
BEGIN;
SELECT pgrepl_admin.hba_remove(:r2);
INSERT INTO pgrepl_admin.hba_rules (role_name, address, applied) VALUES ('regress_repl4', '10.5.0.0/16', true);
SELECT count(*) AS not_yet FROM pg_temp.managed_block() l WHERE l LIKE '%10.5.0.0%';
COMMIT;
SELECT count(*) AS waits FROM pg_temp.managed_block() l WHERE l LIKE '%10.5.0.0%';
SELECT applied, status FROM pgrepl_admin.hba_rules, pgrepl_admin.check()
WHERE address = '10.5.0.0/16' AND check_name = 'hba_restored';
SELECT pgrepl_admin.hba_apply_restored();
SELECT count(*) AS written FROM pg_temp.managed_block() l WHERE l LIKE '%10.5.0.0%';
SELECT count(*) AS removed FROM pg_temp.managed_block() l WHERE l LIKE '%10.1.2.3%';
SELECT pgrepl_admin.hba_sync();
BEGIN;
SELECT pgrepl_admin.hba_sync();
PREPARE TRANSACTION 'regress_hba';

-- standbys
SELECT standby_name, role_name, length(password) AS password_length, slot_name,
       regexp_replace(primary_conninfo, 'port=[0-9]+', 'port=N') AS primary_conninfo,
       ca_certificate LIKE '-----BEGIN CERTIFICATE-----%' AS ca, client_certificate, client_key
FROM pgrepl_admin.add_standby('regress_sb1', '10.6.0.5');
SELECT slot_name, slot_type, restart_lsn IS NOT NULL AS reserves_wal, active FROM pg_replication_slots ORDER BY 1;
SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = 'regress_sb1';
SELECT name, role_name, address, auth, slot_name FROM pgrepl_admin.standbys;
SELECT l FROM pg_temp.managed_block() l WHERE l LIKE '%regress_sb1%';
-- the same call again changes nothing and returns no secret
SELECT standby_name, password, client_key FROM pgrepl_admin.add_standby('regress_sb1', '10.6.0.5/32');
SELECT count(*) AS rules FROM pgrepl_admin.hba_rules WHERE role_name = 'regress_sb1';
-- another address, other settings
SELECT * FROM pgrepl_admin.add_standby('regress_sb1', '10.6.0.6');
SELECT * FROM pgrepl_admin.add_standby('regress_sb1', '10.6.0.5', auth => 'cert');
-- cert authentication: a client certificate for the role, and a cert rule
SELECT standby_name, role_name, password, slot_name, client_certificate LIKE '-----BEGIN CERTIFICATE-----%' AS cert,
       client_key LIKE '-----BEGIN PRIVATE KEY-----%' AS key
FROM pgrepl_admin.add_standby('regress_sb2', '10.6.0.7', auth => 'cert', create_slot => false);
SELECT l FROM pg_temp.managed_block() l WHERE l LIKE '%regress_sb2%';
-- a given, existing role is used as it is
SELECT standby_name, role_name, password FROM pgrepl_admin.add_standby('regress_sb3', '10.6.0.8', role_name => 'regress_repl4');
-- a rolled-back add_standby leaves no role, rule, row or slot, and the file unchanged
SELECT pg_temp.hba_md5() AS md5_before \gset
BEGIN;
SELECT standby_name FROM pgrepl_admin.add_standby('regress_sb_rolled_back', '10.6.0.9');
ROLLBACK;
SELECT pg_temp.hba_md5() = :'md5_before' AS file_unchanged,
       (SELECT count(*) FROM pg_roles WHERE rolname = 'regress_sb_rolled_back') AS roles,
       (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'regress_sb_rolled_back') AS slots;
-- bad input
SELECT * FROM pgrepl_admin.add_standby(NULL, '10.6.0.9');
SELECT * FROM pgrepl_admin.add_standby('regress_x', NULL);
SELECT * FROM pgrepl_admin.add_standby('Regress-X', '10.6.0.9');
SELECT * FROM pgrepl_admin.add_standby('', '10.6.0.9');
SELECT * FROM pgrepl_admin.add_standby(repeat('s', 64), '10.6.0.9');
SELECT * FROM pgrepl_admin.add_standby('regress_x', '10.6.0.9', auth => 'md5');
SELECT * FROM pgrepl_admin.add_standby('regress_x', '0.0.0.0/0');
SELECT * FROM pgrepl_admin.add_standby('regress_repl1', '10.6.0.9');
SELECT * FROM pgrepl_admin.add_standby('regress_x', '10.6.0.9', create_slot => NULL);
SELECT pg_create_physical_replication_slot('regress_taken');
SELECT * FROM pgrepl_admin.add_standby('regress_taken', '10.6.0.9');
SELECT pg_drop_replication_slot('regress_taken');
-- a standby's rule goes with the standby
SELECT pgrepl_admin.hba_remove(rule_id) FROM pgrepl_admin.hba_rules WHERE role_name = 'regress_sb1';
SELECT pgrepl_admin.drop_replication_role('regress_sb1');
-- removed and added again in one transaction: another address, a new slot
SELECT restart_lsn AS old_restart_lsn FROM pg_replication_slots WHERE slot_name = 'regress_sb1' \gset
CHECKPOINT;
BEGIN;
SELECT pgrepl_admin.remove_standby('regress_sb1');
SELECT standby_name, slot_name FROM pgrepl_admin.add_standby('regress_sb1', '10.6.0.15');
COMMIT;
SELECT s.address, sl.restart_lsn > :'old_restart_lsn' AS new_slot
FROM pgrepl_admin.standbys s JOIN pg_replication_slots sl USING (slot_name) WHERE s.name = 'regress_sb1';

-- a commit that fails once the slots are made leaves no slot behind: the
-- last free slot is taken inside the transaction, so the second of its two
-- new slots cannot be made at commit; a retry then works
SELECT count(pg_create_physical_replication_slot('regress_fill_' || i))
FROM generate_series(1, current_setting('max_replication_slots')::int - 2 -
                        (SELECT count(*)::int FROM pg_replication_slots)) i;
BEGIN;
SELECT standby_name FROM pgrepl_admin.add_standby('regress_sb_a', '10.6.0.20');
SELECT standby_name FROM pgrepl_admin.add_standby('regress_sb_b', '10.6.0.21');
SELECT slot_name FROM pg_create_physical_replication_slot('regress_fill_last');
COMMIT;
SELECT count(*) AS slots_left FROM pg_replication_slots WHERE slot_name IN ('regress_sb_a', 'regress_sb_b');
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname IN ('regress_sb_a', 'regress_sb_b');
SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name LIKE 'regress_fill%';
SELECT standby_name, slot_name FROM pgrepl_admin.add_standby('regress_sb_a', '10.6.0.20');
SELECT pgrepl_admin.remove_standby('regress_sb_a');

-- a role the standby did not create stays when the standby goes; one it
-- created goes with the last standby that uses it
CREATE ROLE regress_shared LOGIN REPLICATION;
SELECT standby_name, role_name, password FROM pgrepl_admin.add_standby('regress_sb4', '10.6.0.10', role_name => 'regress_shared', create_slot => false);
SELECT standby_name, role_name, length(password) AS password_length FROM pgrepl_admin.add_standby('regress_sb5', '10.6.0.11', role_name => 'regress_pair', create_slot => false);
SELECT standby_name, role_name, password FROM pgrepl_admin.add_standby('regress_sb6', '10.6.0.12', role_name => 'regress_pair', create_slot => false);
SELECT name, role_name, role_created FROM pgrepl_admin.standbys WHERE name IN ('regress_sb4', 'regress_sb5', 'regress_sb6') ORDER BY name;
SELECT pgrepl_admin.remove_standby('regress_sb4');
SELECT pgrepl_admin.remove_standby('regress_sb5');
SELECT name, role_name, role_created FROM pgrepl_admin.standbys WHERE name = 'regress_sb6';
SELECT rolname FROM pg_roles WHERE rolname IN ('regress_shared', 'regress_pair') ORDER BY 1;
SELECT pgrepl_admin.remove_standby('regress_sb6');
SELECT rolname FROM pg_roles WHERE rolname IN ('regress_shared', 'regress_pair') ORDER BY 1;
DROP ROLE regress_shared;

-- removing
SELECT pgrepl_admin.remove_standby('regress_sb1');
SELECT pgrepl_admin.remove_standby('regress_sb1');
SELECT pgrepl_admin.remove_standby('regress_sb2');
SELECT pgrepl_admin.remove_standby('regress_sb3');
SELECT count(*) AS slots FROM pg_replication_slots;
SELECT rolname FROM pg_roles WHERE rolname IN ('regress_sb1', 'regress_sb2', 'regress_repl4') ORDER BY 1;
SELECT count(*) AS standby_rules FROM pg_temp.managed_block() l WHERE l LIKE '%regress_sb%';
SELECT pgrepl_admin.remove_standby(NULL);
SELECT count(*) AS lines_with_errors FROM pg_hba_file_rules WHERE error IS NOT NULL;

-- privileges: pg_monitor reads, nobody else changes anything
CREATE ROLE regress_monitor IN ROLE pg_monitor;
CREATE ROLE regress_nobody;
SET ROLE regress_monitor;
SELECT count(*) > 0 AS sees_rules FROM pgrepl_admin.hba_status;
SELECT count(*) >= 0 AS sees_standbys FROM pgrepl_admin.standbys;
SELECT pgrepl_admin.hba_add('10.7.0.1', 'regress_repl1');
SELECT * FROM pgrepl_admin.add_standby('regress_x', '10.7.0.1');
SELECT pgrepl_admin.create_replication_role('regress_x');
DELETE FROM pgrepl_admin.hba_rules;
SET ROLE regress_nobody;
SELECT count(*) FROM pgrepl_admin.hba_status;
SELECT count(*) FROM pgrepl_admin.hba_rules;
RESET ROLE;

-- once the server has reloaded, a new session sees every rule loaded
SELECT pg_sleep(1);
\c
\set VERBOSITY terse
SELECT bool_and(loaded) AS all_loaded, count(*) AS rules FROM pgrepl_admin.hba_status;

-- clean up
SELECT pgrepl_admin.hba_remove(rule_id) FROM pgrepl_admin.hba_rules ORDER BY rule_id;
SELECT count(*) AS managed_lines FROM regexp_split_to_table(pg_read_file(current_setting('hba_file')), E'\n') l
WHERE l LIKE '%# pgrepl_admin rule%';
DROP ROLE regress_monitor, regress_nobody, regress_plain, regress_norepl;
SELECT pgrepl_admin.drop_replication_role(r) FROM unnest(ARRAY['regress_repl1', 'regress_repl2', 'regress_repl4']) r;
