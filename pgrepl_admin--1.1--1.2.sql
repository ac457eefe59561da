/* pgrepl_admin--1.1--1.2.sql: update pgrepl_admin from 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.2'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.2.sql; t/091
-- checks that an install updated from 1.1 has exactly a fresh 1.2's objects.
-- A function created or replaced here carries its own
-- "SET search_path = pg_catalog, pg_temp", as in the full script.

-- replication_lag(), whose body changes little in 1.2, is patched, not
-- restated: each piece replaced must be found exactly once in the 1.1
-- definition.  check() changes in many places and is restated below.
--   replication_lag(): write_lag, flush_lag and replay_lag are zero once
--   the standby has the position up to date, on every version (19 keeps
--   the server's last measurement where 15-18 turned it NULL).
DO $do$
DECLARE
    edits text[][] := ARRAY[
        ['@extschema@.replication_lag()',
         $txt$                   COALESCE(rows.replay_lag,
                            CASE WHEN rows.replay_lsn >= here.lsn THEN interval '0' END) AS replay_interval,$txt$,
         $txt$                   -- zero once caught up, on every version: the server's column
                   -- turns NULL only on an idle primary, and from 19 (and the
                   -- minor releases with upstream's fix of premature NULL lag)
                   -- keeps its last measurement while WAL still moves
                   CASE WHEN rows.replay_lsn >= here.lsn THEN interval '0'
                        ELSE rows.replay_lag END AS replay_interval,$txt$],
        ['@extschema@.replication_lag()',
         $txt$               COALESCE(write_lag, CASE WHEN write_lsn >= lsn THEN interval '0' END) AS write_lag,
               COALESCE(flush_lag, CASE WHEN flush_lsn >= lsn THEN interval '0' END) AS flush_lag,$txt$,
         $txt$               CASE WHEN write_lsn >= lsn THEN interval '0' ELSE write_lag END AS write_lag,
               CASE WHEN flush_lsn >= lsn THEN interval '0' ELSE flush_lag END AS flush_lag,$txt$]];
    fn text;
    def text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['@extschema@.replication_lag()'] LOOP
        def := pg_catalog.pg_get_functiondef(fn::pg_catalog.regprocedure);
        FOR i IN 1 .. pg_catalog.array_length(edits, 1) LOOP
            CONTINUE WHEN edits[i][1] OPERATOR(pg_catalog.<>) fn;
            IF (pg_catalog.length(def) OPERATOR(pg_catalog.-)
                pg_catalog.length(pg_catalog.replace(def, edits[i][2], '')))
               OPERATOR(pg_catalog.<>) pg_catalog.length(edits[i][2]) THEN
                RAISE EXCEPTION 'pgrepl_admin--1.1--1.2.sql: % is not the definition this update expects (piece %)', fn, i;
            END IF;
            def := pg_catalog.replace(def, edits[i][2], edits[i][3]);
        END LOOP;
        -- pinned as in the full script (1.1 pinned md5_in_use() only)
        -- and, as there, about ten rows and no JIT for a polled view
        def := pg_catalog.replace(def, E'\nAS $function$',
                                  E'\n ROWS 10\n SET search_path TO pg_catalog, pg_temp\n SET jit TO off\nAS $function$');
        EXECUTE def;
    END LOOP;
END
$do$;

------------------------------------------------------------------------
-- Synchronous replication (issue 27 items 1 and 2, issue 22 items 8 and 9):
-- the note the worker leaves on the setting it computes at a promotion,
-- the standbys deferred by add_standby(synchronous => true) until they
-- stream, this server's own name, and check() showing them and
-- allow_alter_system.
------------------------------------------------------------------------
ALTER TABLE @extschema@.synchronous_setting ADD COLUMN note text;
ALTER TABLE @extschema@.synchronous_setting ADD COLUMN pending text[];
COMMENT ON COLUMN @extschema@.synchronous_setting.note IS 'NULL when the DBA chose the setting; set by the maintenance worker at a promotion: the stored value it started from and what it left out (this server itself, names that are not registered standbys) and why.';
COMMENT ON COLUMN @extschema@.synchronous_setting.pending IS 'Standbys add_standby(synchronous => true) deferred because they did not stream yet: the maintenance worker names them when they first stream; set_synchronous() forgets them. NULL when none.';

ALTER TYPE @extschema@.standby_provisioning ADD ATTRIBUTE synchronous text;
COMMENT ON TYPE @extschema@.standby_provisioning IS
'What add_standby() returns: the names, the secrets made by this call (NULL otherwise), a primary_conninfo for the standby, the CA bundle, and with synchronous => true what was done: named (a synchronous standby now), deferred (named when it first streams) or every standby (the setting names them all).';

CREATE FUNCTION @extschema@.synchronous_self()
RETURNS text
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'synchronous_self';

COMMENT ON FUNCTION @extschema@.synchronous_self() IS
'This server''s own name as a standby: application_name in primary_conninfo, else cluster_name, as the WAL receiver chooses it; NULL without primary_conninfo. A promoted server never waits for this name.';

REVOKE ALL ON FUNCTION @extschema@.synchronous_self() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.synchronous_self() TO pg_monitor;

CREATE OR REPLACE VIEW @extschema@.synchronous_status AS
WITH waits AS (
    -- backends whose commit waits for synchronous standbys now
    SELECT pg_catalog.count(*)::integer AS waiting_commits, pg_catalog.min(a.state_change) AS waiting_since
    FROM pg_catalog.pg_stat_activity a
    WHERE a.wait_event_type = 'IPC' AND a.wait_event = 'SyncRep'
)
SELECT pg_catalog.current_setting('synchronous_standby_names') AS setting,
       s.value AS stored_setting,
       m.method,
       COALESCE(m.num, 0) AS num,
       m.priority,
       m.standby_name,
       m.standby_name IS NOT NULL AND EXISTS (SELECT 1 FROM @extschema@.standbys r
                                              WHERE r.name = pg_catalog.lower(m.standby_name)) AS registered,
       r.pid IS NOT NULL AS connected,
       r.sync_state,
       w.waiting_commits,
       w.waiting_since,
       f.fallback_state,
       f.fallback_since,
       f.fallback_at,
       f.missing_standbys,
       f.restore_lsn AS fallback_restore_lsn,
       s.pending AS pending_standbys
FROM (SELECT 1) AS one
LEFT JOIN @extschema@.synchronous_members() m ON true
LEFT JOIN @extschema@.synchronous_setting s ON true
LEFT JOIN LATERAL (
    -- the walsender the server counts for this name (the best placed one
    -- when several share an application_name)
    SELECT p.pid, p.sync_state
    FROM pg_catalog.pg_stat_replication p
    WHERE pg_catalog.lower(p.application_name) = pg_catalog.lower(m.standby_name)
    ORDER BY p.sync_state = 'async', p.sync_priority
    LIMIT 1
) r ON true
CROSS JOIN waits w
CROSS JOIN @extschema@.synchronous_fallback() f;

COMMENT ON VIEW @extschema@.synchronous_status IS
'The synchronous setting in force and the one stored by set_synchronous(); one row per standby it names (one row with no standby when it is off): whether it is registered and connected, its sync_state (sync, quorum, potential, async), how many commits wait for synchronous standbys now and since when, and where the synchronous fallback stands (pgrepl_admin.synchronous_fallback_after: its state, since when, when it lowers the setting, the missing standbys, the position returning standbys must flush before the stored setting comes back), and the standbys deferred by add_standby(synchronous => true) until they first stream.';

------------------------------------------------------------------------
-- A restored dump does not rewrite this server's pg_hba.conf (issue 22
-- item 2): rules that reach hba_rules other than through the extension's
-- functions wait, not applied, until hba_apply_restored().  The rules of
-- 1.1 were all written by its functions, or applied by its trigger: they
-- stay applied.
------------------------------------------------------------------------
ALTER TABLE @extschema@.hba_rules ADD COLUMN applied boolean NOT NULL DEFAULT true;
ALTER TABLE @extschema@.hba_rules ALTER COLUMN applied SET DEFAULT false;
COMMENT ON COLUMN @extschema@.hba_rules.applied IS 'Whether pg_hba.conf holds the rule: true for rules added through pgrepl_admin''s functions; a rule restored from a dump or inserted by hand waits, false, until pgrepl_admin.hba_apply_restored().';

CREATE FUNCTION @extschema@.hba_rules_guard()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_rules_guard';

COMMENT ON FUNCTION @extschema@.hba_rules_guard() IS
'Trigger function: a rule that reaches pgrepl_admin.hba_rules other than through pgrepl_admin''s functions (a restored dump, a hand INSERT) is not applied, and waits for hba_apply_restored(); an UPDATE that changes what a rule admits makes it wait too, and none can mark it applied.';

CREATE TRIGGER hba_rules_guard
    BEFORE INSERT OR UPDATE ON @extschema@.hba_rules
    FOR EACH ROW EXECUTE FUNCTION @extschema@.hba_rules_guard();
-- also in a logical replication apply worker and under
-- session_replication_role = replica, which skip ordinary triggers: rows a
-- subscription copies from another server wait like restored ones
ALTER TABLE @extschema@.hba_rules ENABLE ALWAYS TRIGGER hba_rules_guard;

COMMENT ON TRIGGER hba_rules_guard ON @extschema@.hba_rules IS
'Marks rules that did not come through pgrepl_admin''s functions as not applied: a restored dump never rewrites this server''s pg_hba.conf.';

CREATE FUNCTION @extschema@.hba_apply_restored(force boolean DEFAULT false)
RETURNS bigint
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_apply_restored';

COMMENT ON FUNCTION @extschema@.hba_apply_restored(boolean) IS
'Applies the rules of pgrepl_admin.hba_rules that wait (restored from a dump, or inserted by hand): each is checked as hba_add() checks a new rule (trust, password, non-TLS replication and 0.0.0.0/0 or ::/0 need force => true), then pg_hba.conf takes them at commit. Returns how many; all or none.';

CREATE FUNCTION @extschema@.hba_discard_restored()
RETURNS bigint
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_discard_restored';

COMMENT ON FUNCTION @extschema@.hba_discard_restored() IS
'Deletes the rules of pgrepl_admin.hba_rules that wait to be applied (restored from a dump, or inserted by hand); pg_hba.conf, which never had them, does not change. Returns how many.';

REVOKE ALL ON FUNCTION @extschema@.hba_rules_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_apply_restored(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_discard_restored() FROM PUBLIC;

-- check(), restated here, after every object it reads: the synchronous
-- rows above, the password_expiry row, the waiting rules (hba_restored),
-- and a listen_addresses hint that needs no argument
CREATE OR REPLACE FUNCTION @extschema@.check()
RETURNS TABLE (check_name text, status text, detail text, hint text)
LANGUAGE sql STABLE
ROWS 30
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH certs AS MATERIALIZED (
    -- once per call: reading the certificates probes what the server
    -- presents over TLS
    SELECT * FROM @extschema@.certificates
),
standby_counts AS (
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
            WHEN s.served IS FALSE OR u.hosts IS NOT NULL THEN 'warning'
            WHEN s.expires_in < interval '7 days' THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN s.kind IS NULL THEN 'No managed server certificate.'
            ELSE format('The managed server certificate (serial %s) expires at %s%s%s.', s.serial, s.not_after,
                        CASE WHEN s.served IS FALSE THEN '; the server presents another certificate' ELSE '' END,
                        COALESCE('; it does not cover ' || u.hosts, '')) END,
       CASE WHEN s.kind IS NOT NULL AND u.hosts IS NOT NULL
            THEN 'A standby that verifies the certificate (sslmode=verify-full) cannot connect by a host it does not cover: run pgrepl_admin.rotate_server_cert() with hostnames that include it (NULL covers every host the standbys dial).'
            WHEN s.kind IS NOT NULL AND (s.expires_in < interval '7 days' OR s.served IS FALSE)
            THEN 'Run pgrepl_admin.rotate_server_cert(), and check that pgrepl_admin.cert_auto_renew is on and the cert_renew task succeeds.' END
FROM (SELECT 1) one LEFT JOIN certs s ON s.kind = 'server'
LEFT JOIN LATERAL (
    -- the hosts standbys dial (pgrepl_admin.primary_host, and the host
    -- add_standby() wrote for each registered standby) that the
    -- certificate's names leave out, each with who dials it
    SELECT string_agg(format('%s (%s)', d.host, d.dialed_by), ', ' ORDER BY d.host) AS hosts
    FROM (SELECT lower(x.host) AS host, string_agg(x.who, ', ' ORDER BY x.who) AS dialed_by
          FROM (SELECT NULLIF(current_setting('pgrepl_admin.primary_host', true), '') AS host,
                       'pgrepl_admin.primary_host' AS who
                UNION ALL
                SELECT b.primary_host, 'standby ' || b.name FROM @extschema@.standbys b) x
          WHERE x.host IS NOT NULL AND left(x.host, 1) NOT IN ('/', '@')   -- not a socket directory
          GROUP BY lower(x.host)) d
    WHERE NOT d.host = ANY (SELECT lower(n) FROM unnest(s.san) n)
) u ON s.kind IS NOT NULL
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
FROM (SELECT 1) one LEFT JOIN certs a ON a.kind = 'ca'
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
SELECT 'synchronous',
       CASE WHEN pg_is_in_recovery() THEN 'ok'
            WHEN x.self IS NOT NULL THEN 'error'
            WHEN x.num = 0 THEN CASE WHEN x.note LIKE '%left out%' THEN 'warning' ELSE 'ok' END
            WHEN x.waiting > 0 OR x.connected < x.num THEN 'error'
            WHEN x.unregistered IS NOT NULL OR x.disconnected IS NOT NULL OR x.note LIKE '%left out%' THEN 'warning'
            ELSE 'ok' END,
       CASE WHEN pg_is_in_recovery() THEN 'This server is a standby: its primary chooses the synchronous standbys; its own synchronous_standby_names stays empty until its promotion.'
            WHEN x.num = 0 THEN 'Synchronous replication is off: commits wait for no standby.'
            ELSE format('synchronous_standby_names is ''%s'': commits wait for %s of %s named standby(s), %s connected%s%s%s%s.',
                        x.setting, x.num, x.named, x.connected,
                        COALESCE('; ' || x.self || ' is this server itself', ''),
                        COALESCE('; not registered: ' || x.unregistered, ''),
                        COALESCE('; not connected: ' || x.disconnected, ''),
                        CASE WHEN x.waiting > 0 THEN format('; %s commit(s) waiting since %s', x.waiting, x.since) ELSE '' END) END
       || CASE WHEN pg_is_in_recovery() THEN '' ELSE COALESCE(' The stored setting was ' || x.note || '.', '')
               || COALESCE(' Deferred until they first stream (then synchronous): ' || x.pending || '.', '') END,
       CASE WHEN pg_is_in_recovery() THEN NULL
            WHEN x.self IS NOT NULL
            THEN 'Commits wait for this server''s own name, which never confirms: choose the standbys that stream from it with pgrepl_admin.set_synchronous() (num => 0 turns synchronous replication off).'
            WHEN x.num = 0 AND x.note LIKE '%left out%'
            THEN 'This server was promoted: choose its synchronous standbys with pgrepl_admin.set_synchronous() once they stream from it.'
            WHEN x.num = 0 THEN NULL
            WHEN x.waiting > 0 OR x.connected < x.num
            THEN 'Commits wait until enough of the named standbys confirm: start them, or choose others with pgrepl_admin.set_synchronous() (num => 0 turns synchronous replication off). See pgrepl_admin.synchronous_status.'
            WHEN x.unregistered IS NOT NULL OR x.disconnected IS NOT NULL
            THEN 'A named standby that is missing no longer counts toward num: start it, or name only registered standbys that stream with pgrepl_admin.set_synchronous().'
            WHEN x.note LIKE '%left out%'
            THEN 'This server was promoted: check that its synchronous standbys are the ones wanted, with pgrepl_admin.set_synchronous().' END
FROM (SELECT min(s.setting) AS setting, COALESCE(max(s.num), 0) AS num, count(s.standby_name) AS named,
             count(*) FILTER (WHERE s.connected) AS connected,
             string_agg(s.standby_name, ', ' ORDER BY s.priority) FILTER (WHERE s.standby_name IS NOT NULL AND NOT s.registered) AS unregistered,
             string_agg(s.standby_name, ', ' ORDER BY s.priority) FILTER (WHERE s.standby_name IS NOT NULL AND NOT s.connected) AS disconnected,
             string_agg(s.standby_name, ', ' ORDER BY s.priority)
               FILTER (WHERE pg_catalog.lower(s.standby_name) = pg_catalog.lower(@extschema@.synchronous_self())) AS self,
             (SELECT st.note FROM @extschema@.synchronous_setting st) AS note,
             (SELECT pg_catalog.array_to_string(st.pending, ', ') FROM @extschema@.synchronous_setting st) AS pending,
             max(s.waiting_commits) AS waiting, min(s.waiting_since) AS since
      FROM @extschema@.synchronous_status s) x
UNION ALL
SELECT 'allow_alter_system',
       CASE WHEN current_setting('allow_alter_system', true) = 'off' THEN 'warning' ELSE 'ok' END,
       CASE WHEN current_setting('allow_alter_system', true) IS NULL
            THEN 'ALTER SYSTEM is allowed (allow_alter_system exists from PostgreSQL 17).'
            ELSE format('allow_alter_system is %s.', current_setting('allow_alter_system', true)) END,
       CASE WHEN current_setting('allow_alter_system', true) = 'off'
            THEN 'pgrepl_admin cannot write postgresql.auto.conf: set_synchronous(), add_standby(synchronous => true), remove_standby() of a synchronous standby, the synchronous fallback, prepare_primary(apply => true) and certificate rotation are refused, and a standby''s synchronous_standby_names is not cleared before its promotion. Turn allow_alter_system on, or set those settings in postgresql.conf yourself.' END
UNION ALL
SELECT 'inactive_slots',
       CASE WHEN count(*) = 0 THEN 'ok'
            WHEN bool_or(l.slot_wal_status = 'lost' OR l.slot_invalidation_reason IS NOT NULL) THEN 'error'
            WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN 'warning'
            WHEN bool_or(l.slot_safe_wal_size < l.slot_retained_bytes) THEN 'warning'
            ELSE 'ok' END,
       format('%s inactive slot(s) hold %s bytes of WAL; max_slot_wal_keep_size is %s%s%s.',
              count(*), COALESCE(sum(l.slot_retained_bytes), 0), current_setting('max_slot_wal_keep_size'),
              COALESCE('; closest to the cap: ' || min(l.slot_safe_wal_size) || ' bytes left', ''),
              COALESCE('; lost: ' || string_agg(format('%s (%s%s)', l.slot_name, l.slot_invalidation_reason,
                                                       COALESCE(', inactive since ' || l.slot_inactive_since, '')),
                                                ', ' ORDER BY l.slot_name) FILTER (WHERE l.slot_wal_status = 'lost' OR l.slot_invalidation_reason IS NOT NULL), '')),
       CASE WHEN bool_or(l.slot_wal_status = 'lost' OR l.slot_invalidation_reason IS NOT NULL)
            THEN 'A lost slot keeps no WAL for its standby, which cannot catch up from it: clone the standby again (pgrepl_clone_standby) or remove it; an idle_timeout loss comes from idle_replication_slot_timeout.'
            WHEN count(*) > 0
            THEN 'Reconnect the standbys or drop what is no longer needed (pgrepl_admin.remove_standby or pg_drop_replication_slot); cap retention with max_slot_wal_keep_size.' END
FROM lag l
WHERE l.pid IS NULL AND (l.slot_wal_status IS NOT NULL OR l.slot_invalidation_reason IS NOT NULL)
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
SELECT 'synchronous_fallback',
       CASE WHEN f.fallback_state IN ('missing', 'active', 'catching-up') THEN 'warning' ELSE 'ok' END,
       CASE f.fallback_state
            WHEN 'active'
            THEN format('Synchronous replication is lowered since %s, standby(s) %s missing: synchronous_standby_names is ''%s'' instead of the stored ''%s''.',
                        f.fallback_since, COALESCE(NULLIF(array_to_string(f.missing_standbys, ', '), ''), 'of *'),
                        f.value_in_force, f.stored_value)
            WHEN 'catching-up'
            THEN format('Synchronous replication is lowered since %s to ''%s''; the standbys are back and the stored ''%s'' returns once they have flushed up to %s.',
                        f.fallback_since, f.value_in_force, f.stored_value, f.restore_lsn)
            WHEN 'missing'
            THEN format('Standby(s) %s of the stored synchronous setting ''%s'' missing since %s: commits wait for them until the fallback lowers the setting at %s.',
                        COALESCE(NULLIF(array_to_string(f.missing_standbys, ', '), ''), 'of *'),
                        f.stored_value, f.fallback_since, f.fallback_at)
            WHEN 'off' THEN 'pgrepl_admin.synchronous_fallback_after is off: commits wait for missing synchronous standbys for as long as they are gone.'
            WHEN 'ok' THEN format('The stored synchronous setting ''%s'' is in force and met.', f.stored_value)
            WHEN 'idle' THEN 'No synchronous setting stored by set_synchronous() to fall back from.'
            WHEN 'manual' THEN format('synchronous_standby_names (''%s'') is not the setting stored by set_synchronous() (''%s''): the fallback leaves it alone.',
                                      f.value_in_force, f.stored_value)
            WHEN 'standby' THEN 'This server is a standby: the fallback runs on the primary.'
            ELSE format('The synchronous fallback is %s.', f.fallback_state) END,
       CASE WHEN f.fallback_state IN ('active', 'catching-up')
            THEN 'Commits no longer wait for the missing standbys: bring them back (runbook "Losing a synchronous standby"); the stored setting returns once they have caught up.'
            WHEN f.fallback_state = 'missing'
            THEN 'Bring the standbys back; see pgrepl_admin.synchronous_status.' END
FROM @extschema@.synchronous_fallback() f
UNION ALL
SELECT 'password_encryption',
       CASE WHEN current_setting('password_encryption') = 'scram-sha-256' THEN 'ok' ELSE 'warning' END,
       format('password_encryption is %s.', current_setting('password_encryption')),
       CASE WHEN current_setting('password_encryption') <> 'scram-sha-256'
            THEN 'Set password_encryption = scram-sha-256; md5 hashes can be replayed.' END
UNION ALL
SELECT 'md5',
       CASE WHEN count(*) > 0 THEN 'warning' ELSE 'ok' END,
       CASE WHEN count(*) = 0 THEN 'No replication role has an md5 password and no pg_hba.conf line uses md5.'
            ELSE format('md5 is deprecated from PostgreSQL 18 on%s: %s.',
                        CASE WHEN current_setting('server_version_num')::int >= 190000
                             THEN ' and this server (19) logs a warning at every md5 login' ELSE '' END,
                        string_agg(m.kind || ' ' || m.name, ', ' ORDER BY m.kind, m.name)) END,
       CASE WHEN count(*) > 0
            THEN 'Give each role a new password while password_encryption = scram-sha-256 (ALTER ROLE ... PASSWORD, then the standby''s passfile), and use scram-sha-256 in pg_hba.conf.' END
FROM @extschema@.md5_in_use() m
UNION ALL
-- a standby's role whose password expires can no longer log in: the
-- standby streams on until it reconnects, then is locked out.  19 warns
-- at login within password_expiration_warning_threshold; the same window
-- here (7 days before 19, or when the setting is 0)
SELECT 'password_expiry',
       CASE WHEN bool_or(r.rolvaliduntil <= now()) THEN 'error'
            WHEN count(r.rolname) > 0 THEN 'warning' ELSE 'ok' END,
       CASE WHEN count(r.rolname) = 0
            THEN format('No replication role''s password expires within %s.', w.threshold)
            ELSE format('Replication role passwords expired or expiring within %s: %s.', w.threshold,
                        string_agg(format('%s (valid until %s)', r.rolname, r.rolvaliduntil), ', ' ORDER BY r.rolname)) END,
       CASE WHEN count(r.rolname) > 0
            THEN 'A standby streams on with an expired password only until it reconnects: give the role a new password (ALTER ROLE ... PASSWORD, then the standby''s passfile) or ALTER ROLE ... VALID UNTIL ''infinity''.' END
FROM (SELECT COALESCE(NULLIF(NULLIF(current_setting('password_expiration_warning_threshold', true), ''), '0')::interval,
                      interval '7 days') AS threshold) w
LEFT JOIN pg_catalog.pg_roles r ON r.rolreplication AND r.rolcanlogin AND r.rolvaliduntil < now() + w.threshold
GROUP BY w.threshold
UNION ALL
-- logical slots a failover keeps (17 and later): on a standby, the slots
-- the slot sync worker copies from the primary (synced), usable after a
-- promotion only once persisted; 19 says why the last sync was skipped
-- (slotsync_skip_reason).  The columns are read by name, as in
-- replication_lag(), so that one query serves every version.
SELECT 'failover_slots',
       CASE WHEN pg_is_in_recovery() AND count(*) FILTER (WHERE f.synced AND NOT f.ready) > 0
            THEN 'warning' ELSE 'ok' END,
       CASE WHEN current_setting('server_version_num')::int < 170000
            THEN 'Logical slots are synchronized to standbys from PostgreSQL 17 on.'
            WHEN pg_is_in_recovery() AND count(*) FILTER (WHERE f.synced) = 0
            THEN 'No logical slot is synchronized to this standby (sync_replication_slots is '
                 || COALESCE(current_setting('sync_replication_slots', true), 'off') || ').'
            WHEN pg_is_in_recovery()
            THEN format('%s logical slot(s) synchronized from the primary%s%s.',
                        count(*) FILTER (WHERE f.synced),
                        COALESCE('; not ready for a failover: '
                                 || string_agg(f.slot_name || COALESCE(' (' || f.reason || ')', ''), ', ' ORDER BY f.slot_name)
                                      FILTER (WHERE f.synced AND NOT f.ready), ''),
                        COALESCE('; ready: ' || string_agg(f.slot_name, ', ' ORDER BY f.slot_name)
                                                  FILTER (WHERE f.synced AND f.ready), ''))
            WHEN count(*) FILTER (WHERE f.failover) = 0
            THEN 'No logical slot of this server is marked for failover.'
            ELSE format('Logical slots marked for failover, which standbys with sync_replication_slots = on synchronize: %s.',
                        string_agg(f.slot_name, ', ' ORDER BY f.slot_name) FILTER (WHERE f.failover)) END,
       CASE WHEN pg_is_in_recovery() AND count(*) FILTER (WHERE f.synced AND NOT f.ready) > 0
            THEN 'A synchronized slot survives a promotion of this standby only once the slot sync worker has persisted it: until its subscriber consumes past what this standby holds (wal_or_rows_removed), or this standby has flushed what the primary''s slot confirms (wal_not_flushed), it is temporary; the standby''s log says "could not synchronize replication slot" with the positions. Do not promote this standby for the sake of those subscribers before the slots are ready.' END
FROM (SELECT s.slot_name,
             COALESCE((pg_catalog.to_jsonb(s) ->> 'synced')::boolean, false) AS synced,
             COALESCE((pg_catalog.to_jsonb(s) ->> 'failover')::boolean, false) AS failover,
             NOT s.temporary AND s.wal_status IS DISTINCT FROM 'lost'
                 AND (pg_catalog.to_jsonb(s) ->> 'invalidation_reason') IS NULL AS ready,
             COALESCE(pg_catalog.to_jsonb(s) ->> 'slotsync_skip_reason',
                      pg_catalog.to_jsonb(s) ->> 'invalidation_reason',
                      CASE WHEN s.temporary THEN 'not persisted yet' END) AS reason
      FROM pg_catalog.pg_replication_slots s
      WHERE s.slot_type = 'logical') f
UNION ALL
SELECT 'listen_addresses',
       CASE WHEN current_setting('listen_addresses') = '' THEN 'warning' ELSE 'ok' END,
       format('listen_addresses is ''%s''.', current_setting('listen_addresses')),
       CASE WHEN current_setting('listen_addresses') = ''
            THEN 'Standbys connect over TCP: run pgrepl_admin.prepare_primary(apply => true), which recommends listen_addresses from this machine''s interfaces, and restart.' END
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
SELECT 'hba_restored',
       CASE WHEN count(*) > 0 THEN 'warning' ELSE 'ok' END,
       CASE WHEN count(*) = 0 THEN 'Every rule of pgrepl_admin.hba_rules is applied.'
            ELSE format('%s rule(s) of pgrepl_admin.hba_rules arrived other than through pgrepl_admin''s functions (a restored dump, a hand INSERT) and are not in pg_hba.conf: %s.',
                        count(*), string_agg(format('rule %s (%s from %s)', r.rule_id, r.role_name, r.address), ', ' ORDER BY r.rule_id)) END,
       CASE WHEN count(*) > 0
            THEN 'Review them in pgrepl_admin.hba_rules (WHERE NOT applied), then put them in pg_hba.conf with pgrepl_admin.hba_apply_restored() or drop them with pgrepl_admin.hba_discard_restored().' END
FROM @extschema@.hba_rules r
WHERE NOT r.applied
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

COMMENT ON FUNCTION @extschema@.check() IS
'Health check of the primary and its replication: one row per check with status ok, warning or error, a detail and, when not ok, a hint.';

REVOKE ALL ON FUNCTION @extschema@.check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.check() TO pg_monitor;

------------------------------------------------------------------------
-- Keep this last: no function of the extension resolves a name through
-- its caller's search_path.  1.1 pinned md5_in_use() only; every other
-- function, the C ones included (their SPI statements run under it), now
-- runs with pg_catalog first and pg_temp last, whoever calls it, so that
-- an operator or function planted in a schema the caller searches can
-- never be chosen over the built-in one.
------------------------------------------------------------------------
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.refobjid OPERATOR(pg_catalog.=)
              (SELECT e.oid FROM pg_catalog.pg_extension e
               WHERE e.extname OPERATOR(pg_catalog.=) 'pgrepl_admin')
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND p.proconfig IS NULL
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
