-- The pgrepl_admin.* settings: defaults, units, contexts and validation.
\set VERBOSITY terse

-- (the CA key directory depends on where the data directory is: below)
SELECT name, CASE WHEN name = 'pgrepl_admin.ca_key_directory' THEN '(path)' ELSE setting END AS setting,
       unit, context, vartype, min_val, max_val,
       CASE WHEN name = 'pgrepl_admin.ca_key_directory' THEN '(path)' ELSE boot_val END AS boot_val
FROM pg_settings WHERE name LIKE 'pgrepl_admin.%' ORDER BY name;
-- the CA key directory is by default a sibling of the data directory
SELECT setting = regexp_replace(current_setting('data_directory'), '/([^/]+)$', '/pgrepl_admin_ca_\1')
       AS sibling_of_data_directory
FROM pg_settings WHERE name = 'pgrepl_admin.ca_key_directory';
-- and must be an absolute path (outside the data directory: t/004)
ALTER SYSTEM SET pgrepl_admin.ca_key_directory = 'ca_keys';

-- reload-only settings cannot be set in a session
SET pgrepl_admin.lag_sample_interval = '5s';
-- out-of-range values are refused before anything is written
ALTER SYSTEM SET pgrepl_admin.lag_sample_interval = -1;
ALTER SYSTEM SET pgrepl_admin.lag_history_retention = '30s';
-- the prefix is reserved: a misspelt name is an error, not a placeholder
SET pgrepl_admin.lag_sample_intervall = '5s';
ALTER SYSTEM SET pgrepl_admin.no_such_setting = 1;
SELECT count(*) AS auto_conf_entries FROM pg_file_settings
WHERE name LIKE 'pgrepl_admin.%' AND sourcefile LIKE '%postgresql.auto.conf';
