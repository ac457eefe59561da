/* pgrepl_admin--1.1--1.2.sql: update pgrepl_admin from 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.2'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.2.sql; t/091
-- checks that an install updated from 1.1 has exactly a fresh 1.2's objects.
-- A function created or replaced here carries its own
-- "SET search_path = pg_catalog, pg_temp", as in the full script.

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
