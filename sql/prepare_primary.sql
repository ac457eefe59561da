-- prepare_primary(): the dry run on the regression instance, and its
-- refusals.  Applying changes and restarting is covered by the TAP suite.
-- expected/prepare_primary_1.out is for servers whose initdb turns data
-- checksums on by default (18), where wal_log_hints is not needed.
\set VERBOSITY terse

-- One row per setting, in a fixed order.  max_slot_wal_keep_size's
-- recommendation comes from the free space of pg_wal's volume: its value
-- and the sizes in its reason are masked.  listen_addresses's comes from
-- this machine's interfaces (checked below, and on hosts of its own in
-- t/021_net_prepare_primary.pl): masked too, needs_restart shown as
-- whether it follows from a change.
SELECT setting, current_value,
       CASE WHEN setting = 'max_slot_wal_keep_size' AND recommended_value <> current_value
            THEN '<cap from free space>'
            WHEN setting = 'listen_addresses' THEN '<this machine''s addresses>'
            ELSE recommended_value END AS recommended_value,
       CASE WHEN setting = 'listen_addresses' THEN needs_restart = (recommended_value <> current_value)
            ELSE needs_restart END AS needs_restart,
       applied,
       CASE WHEN setting = 'max_slot_wal_keep_size'
            THEN regexp_replace(reason, '[0-9.]+(MB|GB|TB)', '<size>', 'g')
            WHEN setting = 'listen_addresses' THEN '<from the interfaces>'
            ELSE reason END AS reason
FROM pgrepl_admin.prepare_primary();

-- the current values are the running ones, as SHOW prints them
SELECT p.setting
FROM pgrepl_admin.prepare_primary() p
WHERE p.current_value IS DISTINCT FROM pg_catalog.current_setting(p.setting);

-- the cap is a positive size, written as SHOW writes sizes
SELECT recommended_value ~ '^[0-9]+(MB|GB|TB)$' AS cap_format,
       pg_size_bytes(recommended_value) > 0 AS cap_positive
FROM pgrepl_admin.prepare_primary() WHERE setting = 'max_slot_wal_keep_size';

-- more standbys than the running server can serve: raised, with a restart;
-- needs_restart follows the setting's context
SELECT p.setting, p.current_value, p.recommended_value, p.needs_restart, s.context
FROM pgrepl_admin.prepare_primary(max_standbys => 30) p
JOIN pg_settings s ON s.name = p.setting
WHERE p.recommended_value IS DISTINCT FROM p.current_value
  AND p.setting NOT IN ('max_slot_wal_keep_size', 'listen_addresses')
ORDER BY 1;

-- never lower: fewer standbys than the running value allows keep it
SELECT setting, current_value, recommended_value
FROM pgrepl_admin.prepare_primary(max_standbys => 1)
WHERE setting IN ('max_wal_senders', 'max_replication_slots');

-- current_value is the server's value, not a SET in this session
SET password_encryption = 'md5';
SELECT current_value, recommended_value, needs_restart
FROM pgrepl_admin.prepare_primary() WHERE setting = 'password_encryption';
RESET password_encryption;
-- a dry run writes nothing
SELECT count(*) AS auto_conf_entries FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf';

-- listen_addresses without an argument: recommended from this machine's
-- interfaces.  This instance listens on Unix-domain sockets only, so it is
-- localhost and the machine's addresses (none of them link-local), or left
-- empty on a machine with loopback only; and prepare_primary accepts it.
SELECT current_value,
       recommended_value = '' OR recommended_value ~ '^localhost(,|$)' AS localhost_first,
       recommended_value !~* '(^|,)(fe80:|169\.254\.)' AS no_link_local,
       recommended_value !~ '(^|,)(127\.|::1(,|$))' AS no_other_loopback
FROM pgrepl_admin.prepare_primary() WHERE setting = 'listen_addresses';
SELECT p.needs_restart = (p.recommended_value <> '') AS restart_if_changed
FROM pgrepl_admin.prepare_primary(
       listen_addresses => (SELECT NULLIF(recommended_value, '') FROM pgrepl_admin.prepare_primary()
                            WHERE setting = 'listen_addresses')) p
WHERE p.setting = 'listen_addresses';
SELECT setting, current_value, recommended_value, needs_restart, reason
FROM pgrepl_admin.prepare_primary(listen_addresses => ' 127.0.0.1 , localhost')
WHERE setting = 'listen_addresses';
SELECT recommended_value, needs_restart
FROM pgrepl_admin.prepare_primary(listen_addresses => '*')
WHERE setting = 'listen_addresses';

-- bad arguments are refused before anything is read or written
SELECT count(*) FROM pgrepl_admin.prepare_primary(max_standbys => 0);
SELECT count(*) FROM pgrepl_admin.prepare_primary(max_standbys => 1001);
SELECT count(*) FROM pgrepl_admin.prepare_primary(max_standbys => NULL);
SELECT count(*) FROM pgrepl_admin.prepare_primary(apply => NULL);
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '  ');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '127.0.0.1,');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '"127.0.0.1"');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => E'127.0.0.1\nssl = off');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '127.0.0.1 localhost');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '127.0.0.*');
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => 'no-such-host.invalid');
-- TEST-NET-1 (RFC 5737): not an address of this machine
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '203.0.113.254');
-- even with apply, nothing was written
SELECT count(*) FROM pgrepl_admin.prepare_primary(listen_addresses => '203.0.113.254', apply => true);
SELECT count(*) AS auto_conf_entries FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf';

-- superuser-only by default
CREATE ROLE regress_plain;
SET ROLE regress_plain;
SELECT count(*) FROM pgrepl_admin.prepare_primary();
RESET ROLE;
-- a role granted EXECUTE still cannot apply without the right to ALTER SYSTEM
GRANT EXECUTE ON FUNCTION pgrepl_admin.prepare_primary(integer, text, boolean) TO regress_plain;
SET ROLE regress_plain;
SELECT count(*) > 0 AS dry_run_works FROM pgrepl_admin.prepare_primary();
SELECT count(*) FROM pgrepl_admin.prepare_primary(max_standbys => 30, apply => true);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pgrepl_admin.prepare_primary(integer, text, boolean) FROM regress_plain;
DROP ROLE regress_plain;
SELECT count(*) AS auto_conf_entries FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf';
