/* pgrepl_admin--1.0--1.1.sql: update pgrepl_admin from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.1'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.1.sql; t/091
-- checks that an install updated from 1.0 has exactly a fresh 1.1's objects.

-- issue_client_cert: a force argument; without it, only roles that exist
-- and are not superusers get a certificate
DROP FUNCTION @extschema@.issue_client_cert(name, interval, text);
CREATE FUNCTION @extschema@.issue_client_cert(
    role_name name,
    valid_for interval DEFAULT '90 days',
    key_type text DEFAULT 'ec-p256',
    force boolean DEFAULT false)
RETURNS TABLE (certificate text, private_key text, ca_certificate text, not_after timestamptz)
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'issue_client_cert';

COMMENT ON FUNCTION @extschema@.issue_client_cert(name, interval, text, boolean) IS
'Issues a client certificate with CN = role_name for cert authentication, for an existing role that is not a superuser unless force is true; the private key is returned once and stored nowhere.';

REVOKE ALL ON FUNCTION @extschema@.issue_client_cert(name, interval, text, boolean) FROM PUBLIC;

-- standbys.role_created: remove_standby() drops only roles add_standby()
-- created.  1.0 recorded nothing: a role named after its standby is what
-- add_standby() made by default, and is taken as created; a role given by
-- role_name may have existed before, and is kept.
ALTER TABLE @extschema@.standbys ADD COLUMN role_created boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.standbys.role_created IS 'Whether add_standby() created its role, which then goes with the last standby that uses it; a role that existed before is never dropped.';
UPDATE @extschema@.standbys SET role_created = (role_name = name);
