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
