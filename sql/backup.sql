-- Backups held by background workers: start, stop from another session,
-- abort, time-out settings, limits, argument checks and privileges.
-- No LSN, pid or time is printed: only how they relate.
\set VERBOSITY terse

-- a backup started in this session ...
SELECT pgrepl_admin.backup_start('regress_one') IS NOT NULL AS started;
SELECT label, state, worker_pid IS NOT NULL AS has_worker, start_lsn IS NOT NULL AS has_start_lsn,
       pg_catalog.date_trunc('minute', expires_at - started_at) AS timeout, stop_lsn, stopped_at, error
FROM pgrepl_admin.backups WHERE label = 'regress_one';
-- is held by its worker, not by this session
SELECT a.backend_type, a.query
FROM pg_stat_activity a JOIN pgrepl_admin.backups b ON a.pid = b.worker_pid
WHERE b.label = 'regress_one';
-- labels are unique among unfinished backups
SELECT pgrepl_admin.backup_start('regress_one');
SELECT pgrepl_admin.backup_start('regress_one', false, '1 hour');

-- ... is stopped from another session
\c -
-- true once no backup worker is left (a worker exits just after it ends its backup)
CREATE FUNCTION pg_temp.backup_workers_gone() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin backup') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END $$;
SELECT lsn AS stop_lsn, labelfile, spcmapfile FROM pgrepl_admin.backup_stop('regress_one') \gset
SELECT :'labelfile' LIKE 'START WAL LOCATION: %' AS label_starts,
       :'labelfile' LIKE '%BACKUP METHOD: streamed%' AS streamed,
       :'labelfile' LIKE E'%\nLABEL: regress_one\n%' AS has_label,
       :'spcmapfile' = '' AS no_tablespaces;
SELECT state, stop_lsn = :'stop_lsn' AS same_stop_lsn, stop_lsn > start_lsn AS stop_after_start,
       stopped_at >= started_at AS stopped_after_start, error
FROM pgrepl_admin.backups WHERE label = 'regress_one';
-- the worker is gone, and recorded the files
SELECT pg_temp.backup_workers_gone();
SELECT state, labelfile = :'labelfile' AS same_labelfile, spcmapfile = '' AS no_tablespaces,
       stop_lsn = :'stop_lsn' AS same_stop_lsn
FROM pgrepl_admin.backup_history WHERE label = 'regress_one';
-- a finished or unknown backup cannot be stopped
SELECT * FROM pgrepl_admin.backup_stop('regress_one');
SELECT * FROM pgrepl_admin.backup_stop('regress_unknown');
-- the label may be used again once its backup ended
SELECT pgrepl_admin.backup_start('regress_one') IS NOT NULL AS started_again;
SELECT lsn IS NOT NULL AS stopped_again FROM pgrepl_admin.backup_stop('regress_one', false);
SELECT state, count(*) FROM pgrepl_admin.backups WHERE label = 'regress_one' GROUP BY 1;

-- abort
SELECT pgrepl_admin.backup_start('regress_abort', fast => true, timeout => '5 minutes') IS NOT NULL AS started;
SELECT pg_catalog.date_trunc('minute', expires_at - started_at) AS timeout FROM pgrepl_admin.backups WHERE label = 'regress_abort';
SELECT pgrepl_admin.backup_abort('regress_abort');
SELECT state, stop_lsn, stopped_at IS NOT NULL AS ended, error
FROM pgrepl_admin.backups WHERE label = 'regress_abort';
SELECT pgrepl_admin.backup_abort('regress_abort');
SELECT pgrepl_admin.backup_abort('regress_unknown');
SELECT * FROM pgrepl_admin.backup_stop('regress_abort');
SELECT state, labelfile, error FROM pgrepl_admin.backup_history WHERE label = 'regress_abort';

-- the default time-out is pgrepl_admin.backup_timeout
SET pgrepl_admin.backup_timeout = '90min';
SELECT pgrepl_admin.backup_start('regress_timeout') IS NOT NULL AS started;
-- the time-out counts from when the backup runs (after its start
-- checkpoint), not from the call: the expiry lies at least that far after
-- the call, and not much more (the start's checkpoint is immediate here)
SELECT expires_at - started_at >= interval '1 hour 30 minutes' AS from_the_run,
       expires_at - started_at < interval '1 hour 31 minutes' AS timeout_90_minutes
FROM pgrepl_admin.backups WHERE label = 'regress_timeout';
-- backup_extend moves a running backup's expiry to now + timeout, and returns it
SELECT pgrepl_admin.backup_extend('regress_timeout', '2 hours') AS extended_to \gset
SELECT expires_at = :'extended_to' AS returns_expiry,
       expires_at - started_at BETWEEN '2 hours' AND '2 hours 1 minute' AS two_hours_from_now
FROM pgrepl_admin.backups WHERE label = 'regress_timeout';
SELECT pgrepl_admin.backup_extend('regress_timeout', '0.5 seconds');
SELECT pgrepl_admin.backup_extend('regress_unknown', '1 hour');
SELECT pgrepl_admin.backup_extend('regress_one', '1 hour');
SELECT pgrepl_admin.backup_abort('regress_timeout');
SELECT pgrepl_admin.backup_extend('regress_timeout', '1 hour');
RESET pgrepl_admin.backup_timeout;

-- at most pgrepl_admin.max_backups at once
SHOW pgrepl_admin.max_backups;
SELECT count(pgrepl_admin.backup_start('regress_many_' || i)) FROM generate_series(1, 4) i;
SELECT pgrepl_admin.backup_start('regress_many_5');
SELECT count(*) AS running FROM pgrepl_admin.backups WHERE state = 'running';
SELECT count(*) FILTER (WHERE pgrepl_admin.backup_abort('regress_many_' || i)) AS aborted
FROM generate_series(1, 4) i;
SELECT pgrepl_admin.backup_start('regress_many_5') IS NOT NULL AS started_after_aborts;
SELECT lsn IS NOT NULL AS stopped FROM pgrepl_admin.backup_stop('regress_many_5');

-- bad arguments change nothing
SELECT pgrepl_admin.backup_start(NULL);
SELECT pgrepl_admin.backup_start('');
SELECT pgrepl_admin.backup_start(repeat('x', 1025));
SELECT pgrepl_admin.backup_start(E'two\nlines');
SELECT pgrepl_admin.backup_start('regress_bad', NULL);
SELECT pgrepl_admin.backup_start('regress_bad', true, '0');
SELECT pgrepl_admin.backup_start('regress_bad', true, '-1 hour');
SELECT * FROM pgrepl_admin.backup_stop(NULL);
SELECT * FROM pgrepl_admin.backup_stop('');
SELECT * FROM pgrepl_admin.backup_stop(repeat('x', 1025));
SELECT * FROM pgrepl_admin.backup_stop('regress_bad', NULL);
SELECT pgrepl_admin.backup_abort(NULL);
SELECT pgrepl_admin.backup_abort('');
SELECT count(*) AS bad_backups FROM pgrepl_admin.backups WHERE label LIKE 'regress_bad%' OR label = '';
SELECT pg_temp.backup_workers_gone();
-- a label of 1024 bytes is fine
SELECT pgrepl_admin.backup_start(repeat('x', 1024)) IS NOT NULL AS long_label;
SELECT pgrepl_admin.backup_abort(repeat('x', 1024));

-- superuser-only; the view is readable by pg_monitor
CREATE ROLE regress_backup_user;
CREATE ROLE regress_backup_monitor IN ROLE pg_monitor;
SET ROLE regress_backup_user;
SELECT pgrepl_admin.backup_start('regress_priv');
SELECT * FROM pgrepl_admin.backup_stop('regress_one');
SELECT pgrepl_admin.backup_abort('regress_one');
SELECT pgrepl_admin.backup_extend('regress_one', '1 hour');
SELECT count(*) FROM pgrepl_admin.backups;
SELECT count(*) FROM pgrepl_admin.backup_history;
SET ROLE regress_backup_monitor;
SELECT pgrepl_admin.backup_start('regress_priv');
SELECT label, state FROM pgrepl_admin.backups WHERE label = 'regress_one' ORDER BY stopped_at;
RESET ROLE;
DROP ROLE regress_backup_user, regress_backup_monitor;

-- everything ended
SELECT state, count(*) FROM pgrepl_admin.backups GROUP BY 1 ORDER BY state COLLATE "C";
