/* pgrepl_admin--1.1--1.2.sql: update pgrepl_admin from 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.2'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.2.sql; t/091
-- checks that an install updated from 1.1 has exactly a fresh 1.2's objects.
-- A function created or replaced here carries its own
-- "SET search_path = pg_catalog, pg_temp", as in the full script.

-- Functions whose body changes in 1.2 are patched, not restated: each
-- piece replaced must be found exactly once in the 1.1 definition.
--   check(): the md5 row says that 19 warns at every md5 login, and a
--   password_expiry row names replication roles whose password expires
--   (issue 23).
--   replication_lag(): write_lag, flush_lag and replay_lag are zero once
--   the standby has the position up to date, on every version (19 keeps
--   the server's last measurement where 15-18 turned it NULL).
DO $do$
DECLARE
    edits text[][] := ARRAY[
        ['@extschema@.check()',
         $txt$            ELSE format('md5 is deprecated from PostgreSQL 18 on: %s.',$txt$,
         $txt$            ELSE format('md5 is deprecated from PostgreSQL 18 on%s: %s.',
                        CASE WHEN current_setting('server_version_num')::int >= 190000
                             THEN ' and this server (19) logs a warning at every md5 login' ELSE '' END,$txt$],
        ['@extschema@.check()',
         $txt$UNION ALL
SELECT 'listen_addresses',$txt$,
         $txt$UNION ALL
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
SELECT 'listen_addresses',$txt$],
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
    FOREACH fn IN ARRAY ARRAY['@extschema@.check()', '@extschema@.replication_lag()'] LOOP
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
        def := pg_catalog.replace(def, E'\nAS $function$', E'\n SET search_path TO pg_catalog, pg_temp\nAS $function$');
        EXECUTE def;
    END LOOP;
END
$do$;

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
