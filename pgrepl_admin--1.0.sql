/* pgrepl_admin--1.0.sql: objects of pgrepl_admin 1.0 (schema pgrepl_admin) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgrepl_admin" to load this file. \quit

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
-- Lag history, sampled by the worker's lag_sample task
------------------------------------------------------------------------

CREATE TABLE @extschema@.lag_history (
    sampled_at          timestamptz NOT NULL,
    standby_name        text NOT NULL,
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
    slot_retained_bytes numeric
);

CREATE INDEX lag_history_standby_time_idx
    ON @extschema@.lag_history (standby_name, sampled_at);
CREATE INDEX lag_history_time_idx
    ON @extschema@.lag_history (sampled_at);

COMMENT ON TABLE @extschema@.lag_history IS
'Replication lag per connected standby, sampled every pgrepl_admin.lag_sample_interval by the maintenance worker and kept for pgrepl_admin.lag_history_retention.';
COMMENT ON COLUMN @extschema@.lag_history.sampled_at IS 'When the sample was taken.';
COMMENT ON COLUMN @extschema@.lag_history.standby_name IS 'The standby''s application_name.';
COMMENT ON COLUMN @extschema@.lag_history.client_addr IS 'Address the standby connects from.';
COMMENT ON COLUMN @extschema@.lag_history.state IS 'Walsender state (startup, catchup, streaming, backup, stopping).';
COMMENT ON COLUMN @extschema@.lag_history.sync_state IS 'Synchronous state (async, potential, sync, quorum).';
COMMENT ON COLUMN @extschema@.lag_history.sent_lag_bytes IS 'Bytes of WAL the primary had written but not yet sent.';
COMMENT ON COLUMN @extschema@.lag_history.write_lag_bytes IS 'Bytes of WAL not yet written by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.flush_lag_bytes IS 'Bytes of WAL not yet flushed by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.replay_lag_bytes IS 'Bytes of WAL not yet replayed by the standby.';
COMMENT ON COLUMN @extschema@.lag_history.write_lag IS 'Time lag of the standby''s write position; zero once it has written everything.';
COMMENT ON COLUMN @extschema@.lag_history.flush_lag IS 'Time lag of the standby''s flush position; zero once it has flushed everything.';
COMMENT ON COLUMN @extschema@.lag_history.replay_lag IS 'Time lag of the standby''s replay position; zero once it has replayed everything.';
COMMENT ON COLUMN @extschema@.lag_history.slot_name IS 'Replication slot the standby streams from, if any.';
COMMENT ON COLUMN @extschema@.lag_history.slot_retained_bytes IS 'Bytes of WAL the slot keeps on the primary.';
COMMENT ON INDEX @extschema@.lag_history_standby_time_idx IS 'Time-range queries per standby.';
COMMENT ON INDEX @extschema@.lag_history_time_idx IS 'Pruning of old samples.';

REVOKE ALL ON @extschema@.lag_history FROM PUBLIC;
GRANT SELECT ON @extschema@.lag_history TO pg_monitor;

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
AS 'MODULE_PATHNAME', 'ca_init';

COMMENT ON FUNCTION @extschema@.ca_init(text, interval, text, boolean) IS
'Creates the certificate authority. With replace => true, a new CA signs from now on while the old one stays trusted until ca_retire().';

CREATE FUNCTION @extschema@.ca_retire(serial text)
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ca_retire';

COMMENT ON FUNCTION @extschema@.ca_retire(text) IS
'Stops trusting a replaced CA (by serial, as in the certificates view); false when no retiring CA has that serial.';

CREATE FUNCTION @extschema@.ca_certificate()
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ca_certificate';

COMMENT ON FUNCTION @extschema@.ca_certificate() IS
'The PEM bundle of trusted CA certificates, for a standby''s root.crt (sslrootcert).';

CREATE FUNCTION @extschema@.rotate_server_cert(
    hostnames text[] DEFAULT NULL,
    valid_for interval DEFAULT '90 days',
    key_type text DEFAULT 'ec-p256')
RETURNS @extschema@.certificates
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'rotate_server_cert';

COMMENT ON FUNCTION @extschema@.rotate_server_cert(text[], interval, text) IS
'Makes a new server key and certificate signed by the CA, installs them atomically, points the server at them, reloads, and returns once the server presents the new certificate.';

CREATE FUNCTION @extschema@.issue_client_cert(
    role_name name,
    valid_for interval DEFAULT '90 days',
    key_type text DEFAULT 'ec-p256')
RETURNS TABLE (certificate text, private_key text, ca_certificate text, not_after timestamptz)
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'issue_client_cert';

COMMENT ON FUNCTION @extschema@.issue_client_cert(name, interval, text) IS
'Issues a client certificate with CN = role_name for cert authentication; the private key is returned once and stored nowhere.';

REVOKE ALL ON FUNCTION @extschema@.ca_init(text, interval, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ca_retire(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.ca_certificate() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rotate_server_cert(text[], interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.issue_client_cert(name, interval, text) FROM PUBLIC;

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
AS 'MODULE_PATHNAME', 'prepare_primary';

COMMENT ON FUNCTION @extschema@.prepare_primary(integer, text, boolean) IS
'One row per setting a primary needs for max_standbys streaming standbys: the running value, the recommended one (never lower than what the administrator set), whether it needs a restart, and why. A dry run unless apply is true, which writes the changes with ALTER SYSTEM and reloads. A NULL listen_addresses leaves that setting alone.';

REVOKE ALL ON FUNCTION @extschema@.prepare_primary(integer, text, boolean) FROM PUBLIC;

------------------------------------------------------------------------
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
AS 'MODULE_PATHNAME', 'backup_start';

COMMENT ON FUNCTION @extschema@.backup_start(text, boolean, interval) IS
'Starts a non-exclusive backup held by a background worker, so that it outlives this session, and returns its start LSN once it runs. It is aborted after timeout (default pgrepl_admin.backup_timeout) unless stopped.';

CREATE FUNCTION @extschema@.backup_stop(
    label text,
    wait_for_archive boolean DEFAULT true)
RETURNS TABLE (lsn pg_lsn, labelfile text, spcmapfile text)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'backup_stop';

COMMENT ON FUNCTION @extschema@.backup_stop(text, boolean) IS
'Stops a backup started with backup_start(), from any session: the stop LSN and the contents of backup_label and tablespace_map to write into the copy.';

CREATE FUNCTION @extschema@.backup_abort(label text)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'backup_abort';

COMMENT ON FUNCTION @extschema@.backup_abort(text) IS
'Aborts a backup started with backup_start(), from any session; false when no backup with that label is in progress.';

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
REVOKE ALL ON FUNCTION @extschema@.backup_slots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.backup_slots() TO pg_monitor;
REVOKE ALL ON @extschema@.backups FROM PUBLIC;
GRANT SELECT ON @extschema@.backups TO pg_monitor;
