-- Installing the extension: its schema, version and self-description.
\set VERBOSITY terse
CREATE EXTENSION pgrepl_admin;

SELECT e.extversion, e.extrelocatable, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pgrepl_admin';

-- a second CREATE EXTENSION is refused; IF NOT EXISTS is a no-op
CREATE EXTENSION pgrepl_admin;
CREATE EXTENSION IF NOT EXISTS pgrepl_admin;

-- it cannot be moved to another schema
CREATE SCHEMA regress_other;
ALTER EXTENSION pgrepl_admin SET SCHEMA regress_other;
DROP SCHEMA regress_other;

-- From 17 the types a relation or a type brings with it (a table's or a
-- view's row type, array types) are members of the extension too; they are
-- not objects of ours, and are left out below on every version.
CREATE FUNCTION pg_temp.implicit_type(classid oid, objid oid) RETURNS boolean
LANGUAGE sql AS $$
    SELECT classid = 'pg_type'::regclass AND EXISTS (
        SELECT 1 FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
        WHERE t.oid = objid AND (t.typcategory = 'A' OR r.relkind <> 'c'))
$$;

-- every member object has a comment (this lists the ones that do not)
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS uncommented
FROM pg_depend d
JOIN pg_class c ON c.oid = d.classid
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
  AND d.deptype = 'e'
  AND pg_catalog.obj_description(d.objid, c.relname) IS NULL
  AND NOT pg_temp.implicit_type(d.classid, d.objid)
ORDER BY 1;

-- and so does every column of its tables and the schema itself
SELECT a.attrelid::regclass, a.attname AS uncommented_column
FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
WHERE r.relnamespace = 'pgrepl_admin'::regnamespace AND r.relkind = 'r'
  AND a.attnum > 0 AND NOT a.attisdropped
  AND pg_catalog.col_description(a.attrelid, a.attnum) IS NULL
ORDER BY 1, 2;
SELECT pg_catalog.obj_description('pgrepl_admin'::regnamespace, 'pg_namespace') IS NOT NULL AS schema_commented;

-- what it installs
SELECT pg_describe_object(classid, objid, objsubid) AS member
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
  AND NOT pg_temp.implicit_type(classid, objid)
ORDER BY 1;
