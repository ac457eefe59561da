/* pgrepl_admin--1.2.sql: objects of pgrepl_admin 1.2 (schema pgrepl_admin) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgrepl_admin" to load this file. \quit

-- pg_hba.conf, the certificates and the backups are one set per server:
-- the extension lives in pgrepl_admin.database only (a function made and
-- dropped here refuses any other database, with a hint).
CREATE FUNCTION @extschema@.require_home_database()
RETURNS void
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'require_home_database';
SELECT @extschema@.require_home_database();
DROP FUNCTION @extschema@.require_home_database();

COMMENT ON SCHEMA @extschema@ IS
'Objects of the pgrepl_admin extension: administration of streaming replication from SQL.';

-- Every role may look into the schema; each object below grants its own
-- privileges (most are superuser-only, monitoring is for pg_monitor).
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

------------------------------------------------------------------------
-- The maintenance worker
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.worker_status(
    OUT task text,
    OUT description text,
    OUT runs_on_standby boolean,
    OUT run_interval interval,
    OUT state text,
    OUT last_run timestamptz,
    OUT next_run timestamptz,
    OUT last_outcome text,
    OUT last_error text,
    OUT runs bigint,
    OUT failures bigint,
    OUT worker_pid integer)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'worker_status';

COMMENT ON FUNCTION @extschema@.worker_status() IS
'One row per maintenance task with its state in the pgrepl_admin maintenance worker; needs pgrepl_admin in shared_preload_libraries.';

CREATE VIEW @extschema@.worker_status AS
    SELECT * FROM @extschema@.worker_status();

COMMENT ON VIEW @extschema@.worker_status IS
'One row per maintenance task: interval, state (scheduled, running, disabled, waiting-promotion, waiting-extension, stopped), last and next run, last outcome and error, run and failure counts, and the worker''s pid.';

REVOKE ALL ON FUNCTION @extschema@.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.worker_status() TO pg_monitor;
REVOKE ALL ON @extschema@.worker_status FROM PUBLIC;
GRANT SELECT ON @extschema@.worker_status TO pg_monitor;

------------------------------------------------------------------------
-- Monitoring: replication lag, its history, the standby's view
------------------------------------------------------------------------

CREATE TABLE @extschema@.lag_history (
    sampled_at          timestamptz NOT NULL,
    standby_name        text,
    client_addr         inet,
    state               text,
    sync_state          text,
    sent_lag_bytes      numeric,
    write_lag_bytes     numeric,
    flush_lag_bytes     numeric,
    replay_lag_bytes    numeric,
    write_lag           interval,
    flush_lag           interval,
    replay_lag          interval,
    slot_name           name,
    slot_retained_bytes numeric,
    status              text NOT NULL,
    wal_lsn             pg_lsn NOT NULL,
    replay_lsn          pg_lsn,
    event               text,
    event_detail        text
);

CREATE INDEX lag_history_standby_time_idx
    ON @extschema@.lag_history (standby_name, sampled_at);
CREATE INDEX lag_history_time_idx
    ON @extschema@.lag_history (sampled_at);

COMMENT ON TABLE @extschema@.lag_history IS
'Rows of replication_lag sampled every pgrepl_admin.lag_sample_interval by the maintenance worker and kept for pgrepl_admin.lag_history_retention.';
COMMENT ON COLUMN @extschema@.lag_history.sampled_at IS 'When the sample was taken.';
COMMENT ON COLUMN @extschema@.lag_history.standby_name IS 'The registered standby''s name, else its application_name; NULL for an orphaned slot.';
COMMENT ON COLUMN @extschema@.lag_history.client_addr IS 'Address the standby connects from.';
COMMENT ON COLUMN @extschema@.lag_history.state IS 'Walsender state (startup, catchup, streaming, backup, stopping); NULL when not connected.';
COMMENT ON COLUMN @extschema@.lag_history.sync_state IS 'Synchronous state (async, potential, sync, quorum).';
COMMENT ON COLUMN @extschema@.lag_history.sent_lag_bytes IS 'Bytes of WAL the primary had written but not yet sent.';
COMMENT ON COLUMN @extschema@.lag_history.write_lag_bytes IS 'Bytes of WAL not yet written by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.flush_lag_bytes IS 'Bytes of WAL not yet flushed by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.replay_lag_bytes IS 'Bytes of WAL not yet replayed by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.write_lag IS 'Time lag of the standby''s write position; zero once it has written everything.';
COMMENT ON COLUMN @extschema@.lag_history.flush_lag IS 'Time lag of the standby''s flush position; zero once it has flushed everything.';
COMMENT ON COLUMN @extschema@.lag_history.replay_lag IS 'Time lag of the standby''s replay position; zero once it has replayed everything.';
COMMENT ON COLUMN @extschema@.lag_history.slot_name IS 'Replication slot of the row, if any.';
COMMENT ON COLUMN @extschema@.lag_history.slot_retained_bytes IS 'Bytes of WAL the slot keeps on the primary.';
COMMENT ON COLUMN @extschema@.lag_history.status IS 'Status as in replication_lag (streaming, catchup, lagging, stalled, disconnected, orphaned-slot).';
COMMENT ON COLUMN @extschema@.lag_history.wal_lsn IS 'The primary''s WAL position when the sample was taken.';
COMMENT ON COLUMN @extschema@.lag_history.replay_lsn IS 'The standby''s replay position when the sample was taken.';
COMMENT ON COLUMN @extschema@.lag_history.event IS 'NULL for a periodic sample; synchronous-fallback or synchronous-restore for a row written when the maintenance worker lowered synchronous_standby_names or put the stored setting back (one row per standby the stored setting names).';
COMMENT ON COLUMN @extschema@.lag_history.event_detail IS 'What the event changed and why.';
COMMENT ON INDEX @extschema@.lag_history_standby_time_idx IS 'Time-range queries per standby, and stall detection.';
COMMENT ON INDEX @extschema@.lag_history_time_idx IS 'Pruning of old samples.';

REVOKE ALL ON @extschema@.lag_history FROM PUBLIC;
GRANT SELECT ON @extschema@.lag_history TO pg_monitor;

-- The position lag is measured against: the WAL written here, or on a
-- cascading standby the WAL it has (received or replayed).
CREATE FUNCTION @extschema@.wal_position()
RETURNS pg_lsn
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
                THEN pg_catalog.pg_last_wal_receive_lsn()
                ELSE pg_catalog.pg_current_wal_lsn() END
$$;
COMMENT ON FUNCTION @extschema@.wal_position() IS
'The WAL position replication lag is measured against: pg_current_wal_lsn() on a primary, pg_last_wal_receive_lsn() on a standby.';

-- The rows behind the replication_lag view.  PL/pgSQL keeps the query's
-- plan for the session, so a dashboard that polls the view does not plan
-- this query again each time.
CREATE FUNCTION @extschema@.replication_lag(
    OUT standby_name text,
    OUT application_name text,
    OUT client_addr inet,
    OUT pid integer,
    OUT state text,
    OUT sync_state text,
    OUT sent_lsn pg_lsn,
    OUT write_lsn pg_lsn,
    OUT flush_lsn pg_lsn,
    OUT replay_lsn pg_lsn,
    OUT sent_lag_bytes numeric,
    OUT write_lag_bytes numeric,
    OUT flush_lag_bytes numeric,
    OUT replay_lag_bytes numeric,
    OUT write_lag interval,
    OUT flush_lag interval,
    OUT replay_lag interval,
    OUT reply_age interval,
    OUT slot_name name,
    OUT slot_wal_status text,
    OUT slot_retained_bytes numeric,
    OUT slot_safe_wal_size bigint,
    OUT slot_invalidation_reason text,
    OUT slot_inactive_since timestamptz,
    OUT status text,
    OUT sync_role text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
-- (about one row per standby; and a dashboard polling the view must never
-- pay for JIT compilation, which the planner's estimates of the
-- statistics functions would otherwise ask for)
ROWS 10
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH here AS MATERIALIZED (
            -- once per query, not once per use
            SELECT @extschema@.wal_position() AS lsn,
                   COALESCE(pg_catalog.pg_size_bytes(pg_catalog.current_setting('pgrepl_admin.lag_warn_bytes', true)),
                            16777216) AS warn_bytes,
                   COALESCE(pg_catalog.current_setting('pgrepl_admin.lag_warn_time', true)::interval,
                            interval '30 seconds') AS warn_time,
                   COALESCE(pg_catalog.current_setting('pgrepl_admin.lag_stall_after', true)::interval,
                            interval '60 seconds') AS stall_after
        ),
        senders AS (
            -- what pg_stat_replication joins, with only the columns used
            SELECT w.*, a.application_name, a.client_addr
            FROM pg_catalog.pg_stat_get_wal_senders() w
            LEFT JOIN pg_catalog.pg_stat_get_activity(NULL) a ON a.pid = w.pid
        ),
        slots AS (
            -- From 17 the view says why a slot was invalidated and since when
            -- it is inactive (read by name, so that one query serves every
            -- version); before 17 a lost physical slot lost its WAL.
            SELECT s.slot_name, s.active, s.active_pid, s.wal_status, s.restart_lsn, s.safe_wal_size,
                   COALESCE(pg_catalog.to_jsonb(s) ->> 'invalidation_reason',
                            CASE WHEN s.wal_status = 'lost' THEN 'wal_removed' END) AS invalidation_reason,
                   (pg_catalog.to_jsonb(s) ->> 'inactive_since')::timestamptz AS inactive_since
            FROM pg_catalog.pg_replication_slots s
            WHERE s.slot_type = 'physical'
        ),
        rows AS (
            -- every connected walsender
            SELECT COALESCE(r.name, s.application_name) AS standby_name, s.application_name,
                   s.client_addr, s.pid, s.state, s.sync_state,
                   s.sent_lsn, s.write_lsn, s.flush_lsn, s.replay_lsn,
                   s.write_lag, s.flush_lag, s.replay_lag, s.reply_time,
                   COALESCE(sl.slot_name, r.slot_name) AS slot_name,
                   sl.wal_status, sl.restart_lsn, sl.safe_wal_size, sl.invalidation_reason,
                   sl.inactive_since, 'connected' AS kind
            FROM senders s
            LEFT JOIN @extschema@.standbys r ON r.name = s.application_name
            LEFT JOIN slots sl ON sl.active_pid = s.pid
            UNION ALL
            -- every registered standby that is not connected (on a primary: on a
            -- standby, the replicated registrations are the primary's standbys)
            SELECT r.name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, r.slot_name, sl.wal_status, sl.restart_lsn, sl.safe_wal_size,
                   sl.invalidation_reason, sl.inactive_since, 'disconnected'
            FROM @extschema@.standbys r
            LEFT JOIN slots sl ON sl.slot_name = r.slot_name
            WHERE NOT EXISTS (SELECT 1 FROM senders s WHERE s.application_name = r.name)
              AND NOT pg_catalog.pg_is_in_recovery()
            UNION ALL
            -- every inactive slot holding WAL that no registered standby owns
            SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, sl.slot_name, sl.wal_status, sl.restart_lsn, sl.safe_wal_size,
                   sl.invalidation_reason, sl.inactive_since, 'orphan'
            FROM slots sl
            WHERE NOT sl.active AND sl.restart_lsn IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM @extschema@.standbys r WHERE r.slot_name = sl.slot_name)
        ),
        named AS (
            -- the standbys synchronous_standby_names names, as the server parsed it
            SELECT pg_catalog.lower(m.standby_name) AS name FROM @extschema@.synchronous_members() m
        ),
        measured AS (
            SELECT rows.*, here.*,
                   pg_catalog.pg_wal_lsn_diff(here.lsn, rows.replay_lsn) AS replay_bytes,
                   -- zero once caught up, on every version: the server's column
                   -- turns NULL only on an idle primary, and from 19 (and the
                   -- minor releases with upstream's fix of premature NULL lag)
                   -- keeps its last measurement while WAL still moves
                   CASE WHEN rows.replay_lsn >= here.lsn THEN interval '0'
                        ELSE rows.replay_lag END AS replay_interval,
                   -- stalled: the newest sample older than stall_after shows the same
                   -- replay position, and the primary's WAL has moved since
                   CASE WHEN rows.kind = 'connected' AND rows.state = 'streaming' AND rows.replay_lsn < here.lsn
                   THEN EXISTS (SELECT 1
                                FROM (SELECT h.replay_lsn, h.wal_lsn
                                      FROM @extschema@.lag_history h
                                      WHERE h.standby_name = rows.standby_name
                                        AND h.sampled_at <= pg_catalog.now() - here.stall_after
                                      ORDER BY h.sampled_at DESC LIMIT 1) last
                                WHERE last.replay_lsn = rows.replay_lsn AND last.wal_lsn < here.lsn)
                   ELSE false END AS stalled
            FROM rows CROSS JOIN here
        )
        SELECT standby_name, application_name, client_addr, pid, state, sync_state,
               sent_lsn, write_lsn, flush_lsn, replay_lsn,
               pg_catalog.pg_wal_lsn_diff(lsn, sent_lsn) AS sent_lag_bytes,
               pg_catalog.pg_wal_lsn_diff(lsn, write_lsn) AS write_lag_bytes,
               pg_catalog.pg_wal_lsn_diff(lsn, flush_lsn) AS flush_lag_bytes,
               replay_bytes AS replay_lag_bytes,
               CASE WHEN write_lsn >= lsn THEN interval '0' ELSE write_lag END AS write_lag,
               CASE WHEN flush_lsn >= lsn THEN interval '0' ELSE flush_lag END AS flush_lag,
               replay_interval AS replay_lag,
               pg_catalog.now() - reply_time AS reply_age,
               slot_name,
               wal_status AS slot_wal_status,
               pg_catalog.pg_wal_lsn_diff(lsn, restart_lsn) AS slot_retained_bytes,
               safe_wal_size AS slot_safe_wal_size,
               invalidation_reason AS slot_invalidation_reason,
               inactive_since AS slot_inactive_since,
               CASE
                   WHEN kind = 'orphan' THEN 'orphaned-slot'
                   WHEN kind = 'disconnected' THEN 'disconnected'
                   WHEN state IS DISTINCT FROM 'streaming' THEN 'catchup'
                   WHEN stalled THEN 'stalled'
                   WHEN replay_bytes > warn_bytes OR replay_interval > warn_time THEN 'lagging'
                   ELSE 'streaming'
               END AS status,
               CASE
                   WHEN kind = 'orphan' THEN NULL
                   WHEN NOT EXISTS (SELECT 1 FROM named n
                                    WHERE n.name = pg_catalog.lower(COALESCE(application_name, standby_name)))
                   THEN 'async'
                   WHEN kind = 'disconnected' THEN 'missing'
                   ELSE sync_state
               END AS sync_role
        FROM measured;
END
$fn$;

COMMENT ON FUNCTION @extschema@.replication_lag() IS
'The rows of the replication_lag view.';
REVOKE ALL ON FUNCTION @extschema@.replication_lag() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replication_lag() TO pg_monitor;

CREATE VIEW @extschema@.replication_lag AS
    SELECT * FROM @extschema@.replication_lag();

COMMENT ON VIEW @extschema@.replication_lag IS
'One row per connected walsender, per registered standby that is not connected, and per inactive slot holding WAL that no registered standby owns: positions, lags in bytes (numbers) and time (zero once caught up), slot retention, a status (streaming, catchup, lagging, stalled, disconnected, orphaned-slot) and the synchronous role (sync, quorum, potential, missing, async).';

REVOKE ALL ON @extschema@.replication_lag FROM PUBLIC;
GRANT SELECT ON @extschema@.replication_lag TO pg_monitor;

------------------------------------------------------------------------
-- Certificates: a local CA, the server certificate, client certificates
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.certificates(
    OUT kind text,
    OUT path text,
    OUT subject text,
    OUT issuer text,
    OUT serial text,
    OUT not_before timestamptz,
    OUT not_after timestamptz,
    OUT expires_in interval,
    OUT fingerprint_sha256 text,
    OUT key_type text,
    OUT san text[],
    OUT is_ca boolean,
    OUT key_matches boolean,
    OUT served boolean)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'certificates';

COMMENT ON FUNCTION @extschema@.certificates() IS
'Every certificate pgrepl_admin manages under $PGDATA/pgrepl_admin, without key material.';

CREATE VIEW @extschema@.certificates AS
    SELECT * FROM @extschema@.certificates();

COMMENT ON VIEW @extschema@.certificates IS
'Managed certificates: kind (ca, ca-retiring, server, server-previous), file, subject, issuer, serial, validity, SHA-256 fingerprint, key type, subjectAltName, whether the stored key matches and whether the running server presents it.';

REVOKE ALL ON FUNCTION @extschema@.certificates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.certificates() TO pg_monitor;
REVOKE ALL ON @extschema@.certificates FROM PUBLIC;
GRANT SELECT ON @extschema@.certificates TO pg_monitor;

CREATE FUNCTION @extschema@.ca_init(
    common_name text DEFAULT 'pgrepl_admin CA',
    valid_for interval DEFAULT '10 years',
    key_type text DEFAULT 'ec-p256',
    replace boolean DEFAULT false)
RETURNS @extschema@.certificates
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ca_init';

COMMENT ON FUNCTION @extschema@.ca_init(text, interval, text, boolean) IS
'Creates the certificate authority. With replace => true, a new CA signs from now on while the old one stays trusted until ca_retire().';

CREATE FUNCTION @extschema@.ca_retire(serial text)
RETURNS boolean
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ca_retire';

COMMENT ON FUNCTION @extschema@.ca_retire(text) IS
'Stops trusting a replaced CA (by serial, as in the certificates view); false when no retiring CA has that serial.';

CREATE FUNCTION @extschema@.ca_certificate()
RETURNS text
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ca_certificate';

COMMENT ON FUNCTION @extschema@.ca_certificate() IS
'The PEM bundle of trusted CA certificates, for a standby''s root.crt (sslrootcert).';

CREATE FUNCTION @extschema@.rotate_server_cert(
    hostnames text[] DEFAULT NULL,
    valid_for interval DEFAULT '90 days',
    key_type text DEFAULT 'ec-p256',
    force boolean DEFAULT false)
RETURNS @extschema@.certificates
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'rotate_server_cert';

COMMENT ON FUNCTION @extschema@.rotate_server_cert(text[], interval, text, boolean) IS
'Makes a new server key and certificate signed by the CA, installs them atomically, points the server at them, reloads, and returns once the server presents the new certificate. Refuses, unless force, hostnames that leave out a host the standbys dial.';

CREATE FUNCTION @extschema@.issue_client_cert(
    role_name name,
    valid_for interval DEFAULT '90 days',
    key_type text DEFAULT 'ec-p256',
    force boolean DEFAULT false)
RETURNS TABLE (certificate text, private_key text, ca_certificate text, not_after timestamptz)
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'issue_client_cert';

COMMENT ON FUNCTION @extschema@.issue_client_cert(name, interval, text, boolean) IS
'Issues a client certificate with CN = role_name for cert authentication, for an existing role that is not a superuser unless force is true; the private key is returned once and stored nowhere.';

REVOKE ALL ON FUNCTION @extschema@.ca_init(text, interval, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ca_retire(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ca_certificate() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rotate_server_cert(text[], interval, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.issue_client_cert(name, interval, text, boolean) FROM PUBLIC;

------------------------------------------------------------------------
-- Preparing the primary's settings for the standbys it will serve
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.prepare_primary(
    max_standbys integer DEFAULT 4,
    listen_addresses text DEFAULT NULL,
    apply boolean DEFAULT false)
RETURNS TABLE (
    setting text,
    current_value text,
    recommended_value text,
    needs_restart boolean,
    applied boolean,
    reason text)
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'prepare_primary';

COMMENT ON FUNCTION @extschema@.prepare_primary(integer, text, boolean) IS
'One row per setting a primary needs for max_standbys streaming standbys: the running value, the recommended one (never lower than what the administrator set), whether it needs a restart, and why. A dry run unless apply is true, which writes the changes with ALTER SYSTEM and reloads. A NULL listen_addresses recommends one from this machine''s interfaces when standbys on other hosts could not reach it.';

REVOKE ALL ON FUNCTION @extschema@.prepare_primary(integer, text, boolean) FROM PUBLIC;

-- Backups held by background workers: start in one session, stop in another
------------------------------------------------------------------------

CREATE TABLE @extschema@.backup_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label       text NOT NULL,
    state       text NOT NULL
                CHECK (state IN ('starting', 'running', 'stopping', 'stopped', 'aborted', 'failed')),
    worker_pid  integer,
    start_lsn   pg_lsn,
    started_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    stop_lsn    pg_lsn,
    stopped_at  timestamptz,
    error       text,
    labelfile   text,
    spcmapfile  text
);

CREATE INDEX backup_history_label_idx ON @extschema@.backup_history (label);

COMMENT ON TABLE @extschema@.backup_history IS
'Backups started with backup_start(), written by their workers when the backup runs and when it ends; rows are pruned pgrepl_admin.backup_history_retention after the end.';
COMMENT ON COLUMN @extschema@.backup_history.id IS 'Row number.';
COMMENT ON COLUMN @extschema@.backup_history.label IS 'The backup''s label.';
COMMENT ON COLUMN @extschema@.backup_history.state IS 'running while held; then stopped, aborted or failed. A row left running by a crash is shown as failed by the backups view.';
COMMENT ON COLUMN @extschema@.backup_history.worker_pid IS 'Process id of the worker that held the backup.';
COMMENT ON COLUMN @extschema@.backup_history.start_lsn IS 'WAL location where the backup started.';
COMMENT ON COLUMN @extschema@.backup_history.started_at IS 'When backup_start() was called.';
COMMENT ON COLUMN @extschema@.backup_history.expires_at IS 'When the worker aborts the backup unless it was stopped.';
COMMENT ON COLUMN @extschema@.backup_history.stop_lsn IS 'WAL location where the backup stopped.';
COMMENT ON COLUMN @extschema@.backup_history.stopped_at IS 'When the backup ended, however it ended.';
COMMENT ON COLUMN @extschema@.backup_history.error IS 'Why it was aborted or failed.';
COMMENT ON COLUMN @extschema@.backup_history.labelfile IS 'Contents of the backup_label file of a stopped backup.';
COMMENT ON COLUMN @extschema@.backup_history.spcmapfile IS 'Contents of the tablespace_map file of a stopped backup (empty without tablespaces).';
COMMENT ON INDEX @extschema@.backup_history_label_idx IS 'Look-up by label.';
COMMENT ON SEQUENCE @extschema@.backup_history_id_seq IS 'Numbers of backup_history rows.';

REVOKE ALL ON @extschema@.backup_history FROM PUBLIC;
GRANT SELECT ON @extschema@.backup_history TO pg_monitor;

CREATE FUNCTION @extschema@.backup_start(
    label text,
    fast boolean DEFAULT true,
    timeout interval DEFAULT NULL)
RETURNS pg_lsn
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'backup_start';

COMMENT ON FUNCTION @extschema@.backup_start(text, boolean, interval) IS
'Starts a non-exclusive backup held by a background worker, so that it outlives this session, and returns its start LSN once it runs. It is aborted after timeout (default pgrepl_admin.backup_timeout) unless stopped.';

CREATE FUNCTION @extschema@.backup_stop(
    label text,
    wait_for_archive boolean DEFAULT true)
RETURNS TABLE (lsn pg_lsn, labelfile text, spcmapfile text)
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'backup_stop';

COMMENT ON FUNCTION @extschema@.backup_stop(text, boolean) IS
'Stops a backup started with backup_start(), from any session: the stop LSN and the contents of backup_label and tablespace_map to write into the copy.';

CREATE FUNCTION @extschema@.backup_abort(label text)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'backup_abort';

COMMENT ON FUNCTION @extschema@.backup_abort(text) IS
'Aborts a backup started with backup_start(), from any session; false when no backup with that label is in progress.';

CREATE FUNCTION @extschema@.backup_extend(
    label text,
    timeout interval)
RETURNS timestamptz
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'backup_extend';

COMMENT ON FUNCTION @extschema@.backup_extend(text, interval) IS
'Moves the expiry of a running backup started with backup_start() to now + timeout (1 second to 100 years), from any session, and returns it: a lease that the copy renews while it runs, so that a copy cut off from the server lets the backup end soon.';

CREATE FUNCTION @extschema@.backup_slots(
    OUT history_id bigint,
    OUT label text,
    OUT state text,
    OUT worker_pid integer,
    OUT start_lsn pg_lsn,
    OUT started_at timestamptz,
    OUT expires_at timestamptz,
    OUT stop_lsn pg_lsn,
    OUT stopped_at timestamptz,
    OUT error text)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'backup_slots';

COMMENT ON FUNCTION @extschema@.backup_slots() IS
'The backups in pgrepl_admin''s shared memory: running, or ended since the server started (until their slot is reused); needs pgrepl_admin in shared_preload_libraries.';

CREATE VIEW @extschema@.backups AS
    WITH live AS MATERIALIZED (SELECT * FROM @extschema@.backup_slots())
    SELECT label, state, worker_pid, start_lsn, started_at, expires_at, stop_lsn, stopped_at, error
    FROM live
    UNION ALL
    SELECT h.label,
           CASE WHEN h.state IN ('starting', 'running', 'stopping') THEN 'failed' ELSE h.state END,
           h.worker_pid, h.start_lsn, h.started_at, h.expires_at, h.stop_lsn, h.stopped_at,
           CASE WHEN h.state IN ('starting', 'running', 'stopping')
                THEN 'the server stopped or crashed while the backup was ' || h.state
                ELSE h.error END
    FROM @extschema@.backup_history h
    WHERE NOT EXISTS (SELECT FROM live WHERE live.history_id = h.id);

COMMENT ON VIEW @extschema@.backups IS
'Backups held by pgrepl_admin''s workers and those of backup_history: label, state (starting, running, stopping, stopped, aborted, failed), worker pid, start and stop LSN and time, expiry, and why an aborted or failed one ended.';

REVOKE ALL ON FUNCTION @extschema@.backup_start(text, boolean, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.backup_stop(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.backup_abort(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.backup_extend(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.backup_slots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.backup_slots() TO pg_monitor;
REVOKE ALL ON @extschema@.backups FROM PUBLIC;
GRANT SELECT ON @extschema@.backups TO pg_monitor;

------------------------------------------------------------------------
-- Standby provisioning: replication roles, pg_hba.conf rules, standbys
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.create_replication_role(
    role_name name,
    password text DEFAULT NULL,
    if_not_exists boolean DEFAULT false)
RETURNS text
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'create_replication_role';

COMMENT ON FUNCTION @extschema@.create_replication_role(name, text, boolean) IS
'Creates a LOGIN REPLICATION role whose password is stored as a SCRAM-SHA-256 verifier computed in the server; without a password, a 192-bit one is generated and returned once. With if_not_exists and an existing role: makes it LOGIN REPLICATION, keeps its password, returns NULL.';

CREATE FUNCTION @extschema@.drop_replication_role(role_name name)
RETURNS boolean
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'drop_replication_role';

COMMENT ON FUNCTION @extschema@.drop_replication_role(name) IS
'Drops a replication role that no standby or managed rule uses; false when it does not exist.';

CREATE TABLE @extschema@.hba_rules (
    rule_id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    connection_type text NOT NULL DEFAULT 'hostssl'
                    CHECK (connection_type IN ('hostssl', 'host', 'hostnossl')),
    database        text NOT NULL DEFAULT 'replication',
    role_name       name NOT NULL,
    address         cidr NOT NULL,
    method          text NOT NULL DEFAULT 'scram-sha-256'
                    CHECK (method IN ('scram-sha-256', 'cert', 'md5', 'reject', 'trust', 'password')),
    comment         text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    applied         boolean NOT NULL DEFAULT false,
    UNIQUE (connection_type, database, role_name, address)
);

COMMENT ON TABLE @extschema@.hba_rules IS
'The pg_hba.conf rules pgrepl_admin manages: the source of truth for the managed block of pg_hba.conf, which follows each committed change. Kept by pg_dump.';
COMMENT ON COLUMN @extschema@.hba_rules.rule_id IS 'Identifier of the rule, written in a comment at the end of its line.';
COMMENT ON COLUMN @extschema@.hba_rules.connection_type IS 'hostssl, host or hostnossl.';
COMMENT ON COLUMN @extschema@.hba_rules.database IS 'A database name, or replication for streaming replication connections.';
COMMENT ON COLUMN @extschema@.hba_rules.role_name IS 'The one role the rule admits (written quoted: never a keyword, group or file).';
COMMENT ON COLUMN @extschema@.hba_rules.address IS 'The client address or network.';
COMMENT ON COLUMN @extschema@.hba_rules.method IS 'Authentication method.';
COMMENT ON COLUMN @extschema@.hba_rules.comment IS 'Free text, written after the rule id on its line.';
COMMENT ON COLUMN @extschema@.hba_rules.created_at IS 'When the rule was added.';
COMMENT ON COLUMN @extschema@.hba_rules.applied IS 'Whether pg_hba.conf holds the rule: true for rules added through pgrepl_admin''s functions; a rule restored from a dump or inserted by hand waits, false, until pgrepl_admin.hba_apply_restored().';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.hba_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.hba_rules_rule_id_seq', '');

CREATE FUNCTION @extschema@.hba_rules_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_rules_changed';

COMMENT ON FUNCTION @extschema@.hba_rules_changed() IS
'Trigger function: whatever changes pgrepl_admin.hba_rules, pg_hba.conf is rewritten and checked when the transaction commits.';

CREATE TRIGGER hba_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.hba_rules
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.hba_rules_changed();

COMMENT ON TRIGGER hba_rules_changed ON @extschema@.hba_rules IS
'Rewrites pg_hba.conf from the table at commit.';

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

CREATE FUNCTION @extschema@.hba_add(
    address cidr,
    role_name name,
    database text DEFAULT 'replication',
    method text DEFAULT 'scram-sha-256',
    connection_type text DEFAULT 'hostssl',
    comment text DEFAULT NULL,
    force boolean DEFAULT false)
RETURNS bigint
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_add';

COMMENT ON FUNCTION @extschema@.hba_add(cidr, name, text, text, text, text, boolean) IS
'Adds a rule to the managed block of pg_hba.conf, written and checked by the server''s parser at commit; the same rule again returns its existing id. trust, password, non-TLS replication and 0.0.0.0/0 or ::/0 need force => true.';

CREATE FUNCTION @extschema@.hba_remove(rule_id bigint)
RETURNS boolean
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_remove';

COMMENT ON FUNCTION @extschema@.hba_remove(bigint) IS
'Removes a managed rule (pg_hba.conf follows at commit); false when there is none.';

CREATE FUNCTION @extschema@.hba_sync()
RETURNS void
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_sync';

COMMENT ON FUNCTION @extschema@.hba_sync() IS
'Rewrites the managed block of pg_hba.conf from pgrepl_admin.hba_rules at commit, and reloads.';

CREATE FUNCTION @extschema@.hba_file_status(
    OUT rule_id bigint,
    OUT line_number integer,
    OUT loaded boolean,
    OUT shadowed_by integer,
    OUT error text)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hba_file_status';

COMMENT ON FUNCTION @extschema@.hba_file_status() IS
'For each managed rule: its line in the live pg_hba.conf, whether the server has loaded it, the earlier line that shadows it, and any error.';

CREATE VIEW @extschema@.hba_status AS
    SELECT r.rule_id, r.connection_type, r.database, r.role_name, r.address, r.method, r.comment,
           r.created_at, s.line_number, s.loaded, s.shadowed_by, s.error
    FROM @extschema@.hba_rules r
    JOIN @extschema@.hba_file_status() s USING (rule_id);

COMMENT ON VIEW @extschema@.hba_status IS
'Each managed rule with its line number in the live pg_hba.conf, whether the loaded configuration has it, the number of an earlier line that matches its connections first, and any error.';

CREATE TABLE @extschema@.standbys (
    name        text PRIMARY KEY,
    role_name   name NOT NULL,
    address     cidr NOT NULL,
    auth        text NOT NULL CHECK (auth IN ('scram-sha-256', 'cert')),
    slot_name   name UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role_created boolean NOT NULL DEFAULT false,
    primary_host text
);

COMMENT ON TABLE @extschema@.standbys IS
'Standbys provisioned with add_standby(). Kept by pg_dump.';
COMMENT ON COLUMN @extschema@.standbys.name IS 'The standby''s name: its application_name and slot name.';
COMMENT ON COLUMN @extschema@.standbys.role_name IS 'The role it logs in as.';
COMMENT ON COLUMN @extschema@.standbys.address IS 'The address it connects from.';
COMMENT ON COLUMN @extschema@.standbys.auth IS 'scram-sha-256 or cert.';
COMMENT ON COLUMN @extschema@.standbys.slot_name IS 'Its physical replication slot; NULL when it has none.';
COMMENT ON COLUMN @extschema@.standbys.created_at IS 'When it was provisioned.';
COMMENT ON COLUMN @extschema@.standbys.role_created IS 'Whether add_standby() created its role, which then goes with the last standby that uses it; a role that existed before is never dropped.';
COMMENT ON COLUMN @extschema@.standbys.primary_host IS 'The host add_standby() wrote into its primary_conninfo: the name or address it dials, which the server certificate must cover.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.standbys', '');

CREATE TYPE @extschema@.standby_provisioning AS (
    standby_name       text,
    role_name          name,
    password           text,
    slot_name          name,
    primary_conninfo   text,
    ca_certificate     text,
    client_certificate text,
    client_key         text,
    synchronous        text
);

COMMENT ON TYPE @extschema@.standby_provisioning IS
'What add_standby() returns: the names, the secrets made by this call (NULL otherwise), a primary_conninfo for the standby, the CA bundle, and with synchronous => true what was done: named (a synchronous standby now), deferred (named when it first streams) or every standby (the setting names them all).';

CREATE FUNCTION @extschema@.add_standby(
    name text,
    address cidr,
    auth text DEFAULT 'scram-sha-256',
    role_name name DEFAULT NULL,
    create_slot boolean DEFAULT true,
    synchronous boolean DEFAULT false)
RETURNS SETOF @extschema@.standby_provisioning
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'add_standby';

COMMENT ON FUNCTION @extschema@.add_standby(text, cidr, text, name, boolean, boolean) IS
'Provisions a standby in one call: its LOGIN REPLICATION role, a hostssl replication rule for its address, a physical slot that reserves WAL from commit, for auth => ''cert'' a client certificate, and with synchronous => true a place among the synchronous standbys. Secrets are returned once; called again with the same arguments it changes nothing.';

CREATE FUNCTION @extschema@.remove_standby(name text, drop_slot boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'remove_standby';

COMMENT ON FUNCTION @extschema@.remove_standby(text, boolean) IS
'Removes a provisioned standby: its rule, its role, with drop_slot its slot (refused while the slot is active), and its place among the synchronous standbys (refused when fewer than they wait for would be left); false when there is no such standby.';

REVOKE ALL ON FUNCTION @extschema@.create_replication_role(name, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.drop_replication_role(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_rules_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_add(cidr, name, text, text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_remove(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_sync() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_file_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.hba_file_status() TO pg_monitor;
REVOKE ALL ON FUNCTION @extschema@.add_standby(text, cidr, text, name, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.remove_standby(text, boolean) FROM PUBLIC;
REVOKE ALL ON @extschema@.hba_rules FROM PUBLIC;
GRANT SELECT ON @extschema@.hba_rules TO pg_monitor;
REVOKE ALL ON @extschema@.hba_status FROM PUBLIC;
GRANT SELECT ON @extschema@.hba_status TO pg_monitor;
REVOKE ALL ON @extschema@.standbys FROM PUBLIC;
GRANT SELECT ON @extschema@.standbys TO pg_monitor;

------------------------------------------------------------------------
-- Synchronous replication: the fallback when synchronous standbys are lost
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.synchronous_fallback(
    OUT fallback_state text,
    OUT fallback_since timestamptz,
    OUT fallback_at timestamptz,
    OUT missing_standbys text[],
    OUT value_in_force text,
    OUT stored_value text,
    OUT restore_lsn pg_lsn)
RETURNS record
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'synchronous_fallback';

COMMENT ON FUNCTION @extschema@.synchronous_fallback() IS
'Where the maintenance worker''s synchronous fallback (pgrepl_admin.synchronous_fallback_after) stands: its state, since when, when it lowers, the missing standbys, the value it keeps in force and the stored one, and the position returning standbys must flush before the stored setting comes back.';

REVOKE ALL ON FUNCTION @extschema@.synchronous_fallback() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.synchronous_fallback() TO pg_monitor;

------------------------------------------------------------------------
-- Synchronous replication: the standbys commits wait for
------------------------------------------------------------------------

CREATE TABLE @extschema@.synchronous_setting (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    standbys    text[],
    num         integer NOT NULL CHECK (num >= 0),
    method      text NOT NULL CHECK (method IN ('any', 'first')),
    value       text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    note        text,
    pending     text[]
);

COMMENT ON TABLE @extschema@.synchronous_setting IS
'The synchronous standbys chosen with set_synchronous() (and add_standby(synchronous => true), remove_standby()): at most one row. synchronous_standby_names is written from it at commit. Kept by pg_dump.';
COMMENT ON COLUMN @extschema@.synchronous_setting.singleton IS 'Always true: the table has one row at most.';
COMMENT ON COLUMN @extschema@.synchronous_setting.standbys IS 'The standbys named, in priority order; NULL for every registered standby, those added later included.';
COMMENT ON COLUMN @extschema@.synchronous_setting.num IS 'How many of them must confirm a commit; 0 is off.';
COMMENT ON COLUMN @extschema@.synchronous_setting.method IS 'any (quorum: any num of them) or first (priority: the first num connected, in order).';
COMMENT ON COLUMN @extschema@.synchronous_setting.value IS 'The synchronous_standby_names it renders to, as written.';
COMMENT ON COLUMN @extschema@.synchronous_setting.set_at IS 'When it last changed.';
COMMENT ON COLUMN @extschema@.synchronous_setting.note IS 'NULL when the DBA chose the setting; set by the maintenance worker at a promotion: the stored value it started from and what it left out (this server itself, names that are not registered standbys) and why.';
COMMENT ON COLUMN @extschema@.synchronous_setting.pending IS 'Standbys add_standby(synchronous => true) deferred because they did not stream yet: the maintenance worker names them when they first stream; set_synchronous() forgets them. NULL when none.';

CREATE FUNCTION @extschema@.synchronous_self()
RETURNS text
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'synchronous_self';

COMMENT ON FUNCTION @extschema@.synchronous_self() IS
'This server''s own name as a standby: application_name in primary_conninfo, else cluster_name, as the WAL receiver chooses it; NULL without primary_conninfo. A promoted server never waits for this name.';

REVOKE ALL ON FUNCTION @extschema@.synchronous_self() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.synchronous_self() TO pg_monitor;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.synchronous_setting', '');

CREATE FUNCTION @extschema@.set_synchronous(
    standbys text[] DEFAULT NULL,
    num integer DEFAULT 1,
    method text DEFAULT 'any',
    apply boolean DEFAULT true)
RETURNS text
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'set_synchronous';

COMMENT ON FUNCTION @extschema@.set_synchronous(text[], integer, text, boolean) IS
'Chooses the registered standbys whose confirmation commits wait for (NULL: all of them), how many (num; 0 turns synchronous replication off) and how (any or first); stores the choice and writes synchronous_standby_names with ALTER SYSTEM at commit, then reloads. Returns the value; with apply => false only shows it.';

CREATE FUNCTION @extschema@.synchronous_members(
    OUT priority integer,
    OUT standby_name text,
    OUT method text,
    OUT num integer)
RETURNS SETOF record
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'synchronous_members';

COMMENT ON FUNCTION @extschema@.synchronous_members() IS
'The standbys named by the synchronous_standby_names in force, as the server parsed it, in order, with its method (any or first) and num; no row when it is empty.';

CREATE VIEW @extschema@.synchronous_status AS
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

CREATE VIEW @extschema@.standby_status AS
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.pg_last_wal_receive_lsn() AS receive_lsn,
       pg_catalog.pg_last_wal_replay_lsn() AS replay_lsn,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),
                                  pg_catalog.pg_last_wal_replay_lsn()) AS receive_replay_lag_bytes,
       pg_catalog.pg_last_xact_replay_timestamp() AS last_replay_at,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN
           CASE WHEN pg_catalog.pg_last_wal_replay_lsn() >= pg_catalog.pg_last_wal_receive_lsn()
                THEN interval '0'
                ELSE pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp() END
       END AS replay_delay,
       w.status AS wal_receiver_status,
       w.sender_host,
       w.sender_port,
       w.slot_name,
       CASE WHEN w.conninfo ~ '(^| )sslmode=(require|verify-ca|verify-full)( |$)' THEN true
            WHEN w.conninfo ~ '(^| )sslmode=disable( |$)' THEN false
       END AS ssl,
       -- whether the primary's stored choice (replicated here) names this
       -- standby, known by the application_name it streams with
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN
           COALESCE((SELECT s.num > 0 AND COALESCE(a.name = ANY (s.standbys),
                                                   EXISTS (SELECT 1 FROM @extschema@.standbys r WHERE r.name = a.name))
                     FROM @extschema@.synchronous_setting s), false)
       END AS synchronous
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_stat_wal_receiver w ON true
LEFT JOIN LATERAL (
    SELECT pg_catalog.lower(COALESCE(pg_catalog.substring(w.conninfo, '(?:^| )application_name=([^ ]+)'),
                                     NULLIF(pg_catalog.current_setting('cluster_name'), ''))) AS name
) a ON true;

COMMENT ON VIEW @extschema@.standby_status IS
'One row on any server, meant for standbys: received and replayed positions and their distance, the last replayed transaction and the replay delay (zero once everything received is replayed), the WAL receiver, whether its connection must use TLS, and whether the primary''s synchronous setting names this standby.';

REVOKE ALL ON @extschema@.standby_status FROM PUBLIC;
GRANT SELECT ON @extschema@.standby_status TO pg_monitor;

REVOKE ALL ON FUNCTION @extschema@.set_synchronous(text[], integer, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.synchronous_members() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.synchronous_members() TO pg_monitor;
REVOKE ALL ON @extschema@.synchronous_setting FROM PUBLIC;
GRANT SELECT ON @extschema@.synchronous_setting TO pg_monitor;
REVOKE ALL ON @extschema@.synchronous_status FROM PUBLIC;
GRANT SELECT ON @extschema@.synchronous_status TO pg_monitor;

------------------------------------------------------------------------
-- Health check
------------------------------------------------------------------------

-- What check() reports of md5: replication roles whose password is an md5
-- hash, and pg_hba.conf lines with the md5 method.  Security definer,
-- since pg_authid and pg_hba_file_rules are for superusers: it returns
-- role names and file positions, never a secret or a line's text.
CREATE FUNCTION @extschema@.md5_in_use(OUT kind text, OUT name text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'role', a.rolname::text
    FROM pg_catalog.pg_authid a
    WHERE a.rolpassword LIKE 'md5%'
      AND (a.rolreplication
           OR a.rolname IN (SELECT s.role_name FROM @extschema@.standbys s))
    UNION ALL
    -- file_name from 16, where lines may come from included files
    SELECT 'pg_hba.conf line',
           COALESCE(pg_catalog.to_jsonb(r) ->> 'file_name', pg_catalog.current_setting('hba_file'))
           || ':' || r.line_number
    FROM pg_catalog.pg_hba_file_rules r
    WHERE r.auth_method = 'md5'
$$;
COMMENT ON FUNCTION @extschema@.md5_in_use() IS
'Replication roles whose password is an md5 hash, and pg_hba.conf lines (file:line) with the md5 method, for check().';
REVOKE ALL ON FUNCTION @extschema@.md5_in_use() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.md5_in_use() TO pg_monitor;

CREATE FUNCTION @extschema@.check()
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
