-- The worker_status view on the regression instance.  pg_regress runs this
-- suite in contrib_regression, which regress.conf makes pgrepl_admin.database
-- (the only database where the extension can be installed): the worker,
-- which retries until pg_regress has created the database, finds the
-- extension there and runs each task once at start.
\set VERBOSITY terse

-- give the worker up to 60 s to have connected and run every task once
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN (SELECT bool_and(worker_pid IS NOT NULL AND last_outcome IS NOT NULL)
                   FROM pgrepl_admin.worker_status);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;

SELECT task, runs_on_standby, run_interval, state IN ('scheduled', 'running') AS active, last_outcome,
       worker_pid IS NOT NULL AS worker_running,
       worker_pid = (SELECT pid FROM pg_stat_activity
                     WHERE backend_type = CASE task WHEN 'sync_fallback' THEN 'pgrepl_admin sync fallback'
                                                    ELSE 'pgrepl_admin maintenance' END) AS pid_matches
FROM pgrepl_admin.worker_status
ORDER BY task;

-- the workers are connected to the configured database
SELECT datname, application_name FROM pg_stat_activity
WHERE backend_type IN ('pgrepl_admin maintenance', 'pgrepl_admin sync fallback')
ORDER BY application_name;

-- readable by pg_monitor, not by other roles
CREATE ROLE regress_plain;
CREATE ROLE regress_monitor IN ROLE pg_monitor;
SET ROLE regress_plain;
SELECT count(*) FROM pgrepl_admin.worker_status;
SELECT count(*) FROM pgrepl_admin.worker_status();
SELECT count(*) FROM pgrepl_admin.lag_history;
RESET ROLE;
SET ROLE regress_monitor;
SELECT count(*) > 0 AS visible FROM pgrepl_admin.worker_status;
SELECT count(*) >= 0 AS visible FROM pgrepl_admin.lag_history;
DELETE FROM pgrepl_admin.lag_history;
RESET ROLE;
DROP ROLE regress_plain;
DROP ROLE regress_monitor;
