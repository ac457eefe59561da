/* pgrepl_admin--1.0--1.1.sql: update pgrepl_admin from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.1'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.1.sql; t/091
-- checks that an install updated from 1.0 has exactly a fresh 1.1's objects.

-- The CA's private key moves out of the data directory, into
-- pgrepl_admin.ca_key_directory: the key file is written and synced first,
-- ca.pem keeps the certificate alone second, so a crash leaves a usable key
-- (and the server finishes the move at its next start).
CREATE FUNCTION @extschema@.migrate_ca_key_1_1()
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'migrate_ca_key_1_1';
SELECT @extschema@.migrate_ca_key_1_1();
DROP FUNCTION @extschema@.migrate_ca_key_1_1();

-- check(): the ca_certificate row says when this server has no CA key
CREATE OR REPLACE FUNCTION @extschema@.check()
RETURNS TABLE (check_name text, status text, detail text, hint text)
LANGUAGE sql STABLE
AS $$
WITH standby_counts AS (
    SELECT count(*) AS standbys, count(slot_name) AS slots FROM @extschema@.standbys
),
lag AS (
    SELECT * FROM @extschema@.replication_lag
)
SELECT 'wal_level',
       CASE WHEN current_setting('wal_level') = 'minimal' THEN 'error' ELSE 'ok' END,
       format('wal_level is %s.', current_setting('wal_level')),
       CASE WHEN current_setting('wal_level') = 'minimal'
            THEN 'Standbys need wal_level = replica: run pgrepl_admin.prepare_primary(apply => true) and restart.' END
UNION ALL
SELECT 'max_wal_senders',
       CASE WHEN current_setting('max_wal_senders')::int < c.standbys THEN 'error'
            WHEN current_setting('max_wal_senders')::int < c.standbys + 2 THEN 'warning'
            ELSE 'ok' END,
       format('max_wal_senders is %s for %s registered standby(s).', current_setting('max_wal_senders'), c.standbys),
       CASE WHEN current_setting('max_wal_senders')::int < c.standbys + 2
            THEN 'Each standby needs a WAL sender and a base backup two more: run pgrepl_admin.prepare_primary(apply => true) and restart.' END
FROM standby_counts c
UNION ALL
SELECT 'max_replication_slots',
       CASE WHEN current_setting('max_replication_slots')::int < c.slots THEN 'error'
            WHEN current_setting('max_replication_slots')::int < c.slots + 1 THEN 'warning'
            ELSE 'ok' END,
       format('max_replication_slots is %s for %s registered slot(s).', current_setting('max_replication_slots'), c.slots),
       CASE WHEN current_setting('max_replication_slots')::int < c.slots + 1
            THEN 'Each standby''s slot and a base backup''s temporary slot need one: run pgrepl_admin.prepare_primary(apply => true) and restart.' END
FROM standby_counts c
UNION ALL
SELECT 'ssl',
       CASE WHEN current_setting('ssl') = 'on' THEN 'ok' ELSE 'warning' END,
       format('ssl is %s.', current_setting('ssl')),
       CASE WHEN current_setting('ssl') <> 'on'
            THEN 'Without TLS, replication carries every change in clear text: run pgrepl_admin.rotate_server_cert().' END
UNION ALL
SELECT 'server_certificate',
       CASE WHEN s.kind IS NULL THEN 'ok'
            WHEN s.expires_in < interval '0' THEN 'error'
            WHEN s.served IS FALSE THEN 'warning'
            WHEN s.expires_in < interval '7 days' THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN s.kind IS NULL THEN 'No managed server certificate.'
            ELSE format('The managed server certificate (serial %s) expires at %s%s.', s.serial, s.not_after,
                        CASE WHEN s.served IS FALSE THEN '; the server presents another certificate' ELSE '' END) END,
       CASE WHEN s.kind IS NOT NULL AND (s.expires_in < interval '7 days' OR s.served IS FALSE)
            THEN 'Run pgrepl_admin.rotate_server_cert(), and check that pgrepl_admin.cert_auto_renew is on and the cert_renew task succeeds.' END
FROM (SELECT 1) one LEFT JOIN @extschema@.certificates s ON s.kind = 'server'
UNION ALL
SELECT 'ca_certificate',
       CASE WHEN a.kind IS NULL THEN 'ok'
            WHEN a.expires_in < interval '0' OR a.key_matches IS FALSE THEN 'error'
            WHEN a.key_matches IS NULL AND NOT pg_catalog.pg_is_in_recovery() THEN 'warning'
            WHEN a.expires_in < (a.not_after - a.not_before) / 3 THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN a.kind IS NULL THEN 'No certificate authority.'
            ELSE format('The CA (serial %s) expires at %s%s.', a.serial, a.not_after,
                        CASE WHEN a.key_matches IS NULL
                             THEN format('; CA key not available here (no ca-%s.key in pgrepl_admin.ca_key_directory%s)',
                                         a.serial, CASE WHEN pg_catalog.pg_is_in_recovery() THEN ', as expected on a standby' ELSE '' END)
                             WHEN a.key_matches IS FALSE THEN '; its stored key does not match it'
                             ELSE '' END) END,
       CASE WHEN a.kind IS NOT NULL AND a.key_matches IS NULL AND NOT pg_catalog.pg_is_in_recovery()
            THEN format('Copy ca-%s.key from the old primary''s pgrepl_admin.ca_key_directory into this server''s (mode 0600), or replace the CA with pgrepl_admin.ca_init(replace => true).', a.serial)
            WHEN a.kind IS NOT NULL AND (a.key_matches IS FALSE OR a.expires_in < (a.not_after - a.not_before) / 3)
            THEN 'Replace it with pgrepl_admin.ca_init(replace => true), give the new pgrepl_admin.ca_certificate() to the standbys, rotate, then retire the old CA.' END
FROM (SELECT 1) one LEFT JOIN @extschema@.certificates a ON a.kind = 'ca'
UNION ALL
SELECT 'fsync',
       CASE WHEN current_setting('fsync') = 'on' THEN 'ok' ELSE 'error' END,
       format('fsync is %s.', current_setting('fsync')),
       CASE WHEN current_setting('fsync') <> 'on'
            THEN 'With fsync off a crash can corrupt the primary and every standby that follows it: set fsync = on.' END
UNION ALL
SELECT 'full_page_writes',
       CASE WHEN current_setting('full_page_writes') = 'on' THEN 'ok' ELSE 'error' END,
       format('full_page_writes is %s.', current_setting('full_page_writes')),
       CASE WHEN current_setting('full_page_writes') <> 'on'
            THEN 'Torn pages after a crash cannot be repaired without it: set full_page_writes = on.' END
UNION ALL
SELECT 'synchronous_commit',
       CASE WHEN current_setting('synchronous_commit') = 'off' THEN 'warning' ELSE 'ok' END,
       format('synchronous_commit is %s; synchronous_standby_names is ''%s''.',
              current_setting('synchronous_commit'), current_setting('synchronous_standby_names')),
       CASE WHEN current_setting('synchronous_commit') = 'off'
            THEN 'Transactions are acknowledged before their WAL is flushed: a crash can lose the last ones. Set it to on unless that loss is accepted.' END
UNION ALL
SELECT 'inactive_slots',
       CASE WHEN count(*) = 0 THEN 'ok'
            WHEN bool_or(l.slot_wal_status = 'lost') THEN 'error'
            WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN 'warning'
            WHEN bool_or(l.slot_safe_wal_size < l.slot_retained_bytes) THEN 'warning'
            ELSE 'ok' END,
       format('%s inactive slot(s) hold %s bytes of WAL; max_slot_wal_keep_size is %s%s.',
              count(*), COALESCE(sum(l.slot_retained_bytes), 0), current_setting('max_slot_wal_keep_size'),
              COALESCE('; closest to the cap: ' || min(l.slot_safe_wal_size) || ' bytes left', '')),
       CASE WHEN count(*) > 0
            THEN 'Reconnect the standbys or drop what is no longer needed (pgrepl_admin.remove_standby or pg_drop_replication_slot); cap retention with max_slot_wal_keep_size.' END
FROM lag l
WHERE l.pid IS NULL AND l.slot_wal_status IS NOT NULL AND l.slot_retained_bytes IS NOT NULL
UNION ALL
SELECT 'standbys',
       CASE WHEN pg_is_in_recovery() THEN 'ok'
            WHEN bool_or(l.status = 'stalled') THEN 'error'
            WHEN bool_or(l.status IN ('disconnected', 'lagging')) THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN pg_is_in_recovery() THEN 'This server is a standby: see pgrepl_admin.standby_status.'
            ELSE format('%s streaming, %s catching up, %s lagging, %s stalled, %s disconnected%s.',
                        count(*) FILTER (WHERE l.status = 'streaming'), count(*) FILTER (WHERE l.status = 'catchup'),
                        count(*) FILTER (WHERE l.status = 'lagging'), count(*) FILTER (WHERE l.status = 'stalled'),
                        count(*) FILTER (WHERE l.status = 'disconnected'),
                        COALESCE(': ' || string_agg(l.standby_name || ' ' || l.status, ', ' ORDER BY l.standby_name)
                                 FILTER (WHERE l.status IN ('lagging', 'stalled', 'disconnected')), '')) END,
       CASE WHEN NOT pg_is_in_recovery() AND bool_or(l.status IN ('stalled', 'disconnected', 'lagging'))
            THEN 'Look at pgrepl_admin.replication_lag and the standbys'' logs.' END
FROM (SELECT 1) one LEFT JOIN lag l ON l.status <> 'orphaned-slot'
UNION ALL
SELECT 'password_encryption',
       CASE WHEN current_setting('password_encryption') = 'scram-sha-256' THEN 'ok' ELSE 'warning' END,
       format('password_encryption is %s.', current_setting('password_encryption')),
       CASE WHEN current_setting('password_encryption') <> 'scram-sha-256'
            THEN 'Set password_encryption = scram-sha-256; md5 hashes can be replayed.' END
UNION ALL
SELECT 'listen_addresses',
       CASE WHEN current_setting('listen_addresses') = '' THEN 'warning' ELSE 'ok' END,
       format('listen_addresses is ''%s''.', current_setting('listen_addresses')),
       CASE WHEN current_setting('listen_addresses') = ''
            THEN 'Standbys connect over TCP: run pgrepl_admin.prepare_primary(listen_addresses => ..., apply => true) and restart.' END
UNION ALL
SELECT 'archiving',
       CASE WHEN current_setting('archive_mode') = 'off' THEN 'ok'
            WHEN a.last_failed_time > COALESCE(a.last_archived_time, '-infinity') THEN 'error'
            ELSE 'ok' END,
       CASE WHEN current_setting('archive_mode') = 'off' THEN 'archive_mode is off; standbys rely on their slots for WAL.'
            ELSE format('archive_mode is %s; %s archived, %s failed, last failure at %s.', current_setting('archive_mode'),
                        a.archived_count, a.failed_count, COALESCE(a.last_failed_time::text, 'none')) END,
       CASE WHEN current_setting('archive_mode') <> 'off' AND a.last_failed_time > COALESCE(a.last_archived_time, '-infinity')
            THEN 'archive_command is failing: WAL piles up in pg_wal. Look at the server log.' END
FROM pg_stat_archiver a
UNION ALL
SELECT 'hba_rules',
       CASE WHEN count(*) FILTER (WHERE h.line_number IS NULL OR h.error IS NOT NULL) > 0 THEN 'error'
            WHEN count(*) FILTER (WHERE NOT h.loaded OR h.shadowed_by IS NOT NULL) > 0 THEN 'warning'
            ELSE 'ok' END,
       format('%s managed rule(s): %s missing from pg_hba.conf or in error, %s not loaded, %s shadowed by an earlier line.',
              count(*), count(*) FILTER (WHERE h.line_number IS NULL OR h.error IS NOT NULL),
              count(*) FILTER (WHERE NOT h.loaded), count(*) FILTER (WHERE h.shadowed_by IS NOT NULL)),
       CASE WHEN count(*) FILTER (WHERE h.line_number IS NULL OR h.error IS NOT NULL OR NOT h.loaded
                                  OR h.shadowed_by IS NOT NULL) > 0
            THEN 'See pgrepl_admin.hba_status; pgrepl_admin.hba_sync() rewrites the managed block and reloads.' END
FROM @extschema@.hba_status h
UNION ALL
SELECT 'backups',
       CASE WHEN NOT preloaded THEN 'ok'
            WHEN (SELECT count(*) FROM @extschema@.backups b
                  WHERE b.state IN ('starting', 'running', 'stopping')
                    AND b.started_at < now() - interval '1 hour') > 0 THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN NOT preloaded THEN 'Backups need pgrepl_admin in shared_preload_libraries.'
            ELSE (SELECT format('%s backup(s) in progress%s.', count(*),
                                COALESCE(', the oldest started at ' || min(b.started_at), ''))
                  FROM @extschema@.backups b
                  WHERE b.state IN ('starting', 'running', 'stopping')) END,
       CASE WHEN preloaded AND (SELECT count(*) FROM @extschema@.backups b
                                WHERE b.state IN ('starting', 'running', 'stopping')
                                  AND b.started_at < now() - interval '1 hour') > 0
            THEN 'A backup has run for more than an hour: finish it with pgrepl_admin.backup_stop() or give up with pgrepl_admin.backup_abort(); it ends by itself at its time-out.' END
FROM (SELECT current_setting('shared_preload_libraries') ~ '(^|[\s,])pgrepl_admin([\s,]|$)' AS preloaded) p
UNION ALL
SELECT 'maintenance_worker',
       CASE WHEN NOT preloaded THEN 'error'
            ELSE (SELECT CASE WHEN bool_or(w.worker_pid IS NULL) THEN 'error'
                              WHEN bool_or(w.last_outcome = 'error') THEN 'warning'
                              ELSE 'ok' END
                  FROM @extschema@.worker_status w) END,
       CASE WHEN NOT preloaded THEN 'pgrepl_admin is not in shared_preload_libraries.'
            ELSE (SELECT CASE WHEN bool_or(w.worker_pid IS NULL) THEN 'The maintenance worker is not running.'
                              ELSE format('The worker (pid %s) runs in database %s%s.', min(w.worker_pid),
                                          current_setting('pgrepl_admin.database', true),
                                          COALESCE('; failing: ' || string_agg(w.task, ', ') FILTER (WHERE w.last_outcome = 'error'), ''))
                         END
                  FROM @extschema@.worker_status w) END,
       CASE WHEN NOT preloaded THEN 'Add pgrepl_admin to shared_preload_libraries and restart the server.'
            ELSE (SELECT CASE WHEN bool_or(w.worker_pid IS NULL)
                              THEN 'Look in the server log for the worker; it restarts by itself after a crash.'
                              WHEN bool_or(w.last_outcome = 'error')
                              THEN 'See pgrepl_admin.worker_status for the failing tasks'' errors.' END
                  FROM @extschema@.worker_status w) END
FROM (SELECT current_setting('shared_preload_libraries') ~ '(^|[\s,])pgrepl_admin([\s,]|$)' AS preloaded) p
$$;
