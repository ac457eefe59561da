-- Monitoring on a server without replication: replication_lag, standby_status
-- and check() work and say so (empty results, not errors); a registered
-- standby that never connected and a slot nobody owns show up.
\set VERBOSITY terse

SELECT count(*) AS rows FROM pgrepl_admin.replication_lag;
SELECT in_recovery, receive_lsn, replay_lsn, receive_replay_lag_bytes, replay_delay,
       wal_receiver_status, sender_host, sender_port, slot_name, ssl
FROM pgrepl_admin.standby_status;
SELECT pgrepl_admin.wal_position() = pg_current_wal_lsn() AS measured_against_current_wal;

-- a registered standby that is not connected, with its slot, and a slot
-- that no registered standby owns
SELECT 'reserved' FROM pg_create_physical_replication_slot('regress_standby_slot', true);
SELECT 'reserved' FROM pg_create_physical_replication_slot('regress_orphan_slot', true);
SELECT 'unreserved' FROM pg_create_physical_replication_slot('regress_unreserved_slot', false);
INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth, slot_name)
VALUES ('regress_standby', 'regress_repl', '203.0.113.210/32', 'scram-sha-256', 'regress_standby_slot');
SELECT standby_name, application_name, pid, state, status, slot_name, slot_wal_status,
       slot_retained_bytes >= 0 AS retains, pg_typeof(slot_retained_bytes) AS bytes_type,
       replay_lag_bytes, replay_lag
FROM pgrepl_admin.replication_lag ORDER BY status, slot_name;

-- the checks, with a hint wherever the status is not ok
SELECT check_name, status, hint IS NOT NULL AS has_hint, detail IS NOT NULL AS has_detail
FROM pgrepl_admin.check() ORDER BY check_name;
SELECT detail FROM pgrepl_admin.check() WHERE check_name IN ('standbys', 'fsync')
ORDER BY check_name;
-- the listen_addresses hint (listen_addresses is empty here) gives a call
-- that runs as written: here as a dry run, which recommends addresses
SELECT hint FROM pgrepl_admin.check() WHERE check_name = 'listen_addresses';
SELECT format('SELECT recommended_value <> %L AS recommends_addresses FROM %s WHERE setting = %L', '',
              replace(substring(hint FROM 'pgrepl_admin\.prepare_primary\([^)]*\)'), 'apply => true', 'apply => false'),
              'listen_addresses')
FROM pgrepl_admin.check() WHERE check_name = 'listen_addresses' \gexec

-- readable by pg_monitor, never by PUBLIC
CREATE ROLE regress_plain;
CREATE ROLE regress_monitor IN ROLE pg_monitor;
SET ROLE regress_plain;
SELECT count(*) FROM pgrepl_admin.replication_lag;
SELECT count(*) FROM pgrepl_admin.standby_status;
SELECT count(*) FROM pgrepl_admin.check();
SELECT count(*) FROM pgrepl_admin.standbys;
RESET ROLE;
SET ROLE regress_monitor;
SELECT count(*) AS lag_rows FROM pgrepl_admin.replication_lag;
SELECT in_recovery FROM pgrepl_admin.standby_status;
SELECT count(*) AS checks FROM pgrepl_admin.check();
INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth) VALUES ('x', 'x', '10.0.0.1', 'cert');
RESET ROLE;

DELETE FROM pgrepl_admin.standbys WHERE name = 'regress_standby';
SELECT pg_drop_replication_slot(s) FROM unnest(ARRAY['regress_standby_slot', 'regress_orphan_slot', 'regress_unreserved_slot']) s;
DROP ROLE regress_plain;
DROP ROLE regress_monitor;
