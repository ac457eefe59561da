-- The pgrepl_admin.* settings: defaults, units, contexts and validation.
\set VERBOSITY terse

SELECT name, setting, unit, context, vartype, min_val, max_val, boot_val
FROM pg_settings WHERE name LIKE 'pgrepl_admin.%' ORDER BY name;

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
