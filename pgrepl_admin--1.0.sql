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
-- Standby provisioning: replication roles, pg_hba.conf rules, standbys
------------------------------------------------------------------------

CREATE FUNCTION @extschema@.create_replication_role(
    role_name name,
    password text DEFAULT NULL,
    if_not_exists boolean DEFAULT false)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'create_replication_role';

COMMENT ON FUNCTION @extschema@.create_replication_role(name, text, boolean) IS
'Creates a LOGIN REPLICATION role whose password is stored as a SCRAM-SHA-256 verifier computed in the server; without a password, a 192-bit one is generated and returned once. With if_not_exists and an existing role: makes it LOGIN REPLICATION, keeps its password, returns NULL.';

CREATE FUNCTION @extschema@.drop_replication_role(role_name name)
RETURNS boolean
LANGUAGE C VOLATILE
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

SELECT pg_catalog.pg_extension_config_dump('@extschema@.hba_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.hba_rules_rule_id_seq', '');

CREATE FUNCTION @extschema@.hba_rules_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'hba_rules_changed';

COMMENT ON FUNCTION @extschema@.hba_rules_changed() IS
'Trigger function: whatever changes pgrepl_admin.hba_rules, pg_hba.conf is rewritten and checked when the transaction commits.';

CREATE TRIGGER hba_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.hba_rules
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.hba_rules_changed();

COMMENT ON TRIGGER hba_rules_changed ON @extschema@.hba_rules IS
'Rewrites pg_hba.conf from the table at commit.';

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
AS 'MODULE_PATHNAME', 'hba_add';

COMMENT ON FUNCTION @extschema@.hba_add(cidr, name, text, text, text, text, boolean) IS
'Adds a rule to the managed block of pg_hba.conf, written and checked by the server''s parser at commit; the same rule again returns its existing id. trust, password, non-TLS replication and 0.0.0.0/0 or ::/0 need force => true.';

CREATE FUNCTION @extschema@.hba_remove(rule_id bigint)
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'hba_remove';

COMMENT ON FUNCTION @extschema@.hba_remove(bigint) IS
'Removes a managed rule (pg_hba.conf follows at commit); false when there is none.';

CREATE FUNCTION @extschema@.hba_sync()
RETURNS void
LANGUAGE C VOLATILE
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
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

COMMENT ON TABLE @extschema@.standbys IS
'Standbys provisioned with add_standby(). Kept by pg_dump.';
COMMENT ON COLUMN @extschema@.standbys.name IS 'The standby''s name: its application_name and slot name.';
COMMENT ON COLUMN @extschema@.standbys.role_name IS 'The role it logs in as.';
COMMENT ON COLUMN @extschema@.standbys.address IS 'The address it connects from.';
COMMENT ON COLUMN @extschema@.standbys.auth IS 'scram-sha-256 or cert.';
COMMENT ON COLUMN @extschema@.standbys.slot_name IS 'Its physical replication slot; NULL when it has none.';
COMMENT ON COLUMN @extschema@.standbys.created_at IS 'When it was provisioned.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.standbys', '');

CREATE TYPE @extschema@.standby_provisioning AS (
    standby_name       text,
    role_name          name,
    password           text,
    slot_name          name,
    primary_conninfo   text,
    ca_certificate     text,
    client_certificate text,
    client_key         text
);

COMMENT ON TYPE @extschema@.standby_provisioning IS
'What add_standby() returns: the names, the secrets made by this call (NULL otherwise), a primary_conninfo for the standby, and the CA bundle.';

CREATE FUNCTION @extschema@.add_standby(
    name text,
    address cidr,
    auth text DEFAULT 'scram-sha-256',
    role_name name DEFAULT NULL,
    create_slot boolean DEFAULT true)
RETURNS SETOF @extschema@.standby_provisioning
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'add_standby';

COMMENT ON FUNCTION @extschema@.add_standby(text, cidr, text, name, boolean) IS
'Provisions a standby in one call: its LOGIN REPLICATION role, a hostssl replication rule for its address, a physical slot that reserves WAL from commit, and for auth => ''cert'' a client certificate. Secrets are returned once; called again with the same arguments it changes nothing.';

CREATE FUNCTION @extschema@.remove_standby(name text, drop_slot boolean DEFAULT true)
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'remove_standby';

COMMENT ON FUNCTION @extschema@.remove_standby(text, boolean) IS
'Removes a provisioned standby: its rule, its role, and with drop_slot its slot (refused while the slot is active); false when there is no such standby.';

REVOKE ALL ON FUNCTION @extschema@.create_replication_role(name, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.drop_replication_role(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_rules_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_add(cidr, name, text, text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_remove(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_sync() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.hba_file_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.hba_file_status() TO pg_monitor;
REVOKE ALL ON FUNCTION @extschema@.add_standby(text, cidr, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.remove_standby(text, boolean) FROM PUBLIC;
REVOKE ALL ON @extschema@.hba_rules FROM PUBLIC;
GRANT SELECT ON @extschema@.hba_rules TO pg_monitor;
REVOKE ALL ON @extschema@.hba_status FROM PUBLIC;
GRANT SELECT ON @extschema@.hba_status TO pg_monitor;
REVOKE ALL ON @extschema@.standbys FROM PUBLIC;
GRANT SELECT ON @extschema@.standbys TO pg_monitor;
