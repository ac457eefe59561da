-- Certificates: the CA, server rotation, client certificates, the view and
-- every argument check.  The regression instance listens on no TCP
-- address, so rotate_server_cert says in a NOTICE that it cannot check
-- what the server presents (the TAP suite checks that over TLS).
\set VERBOSITY terse

-- a role to issue client certificates for
CREATE ROLE regress_repl LOGIN REPLICATION;

-- nothing yet
SELECT count(*) AS managed FROM pgrepl_admin.certificates;
SELECT pgrepl_admin.ca_certificate();
SELECT * FROM pgrepl_admin.issue_client_cert('regress_repl');

-- bad input to ca_init changes nothing
SELECT pgrepl_admin.ca_init(common_name => NULL);
SELECT pgrepl_admin.ca_init(common_name => '');
SELECT pgrepl_admin.ca_init(common_name => repeat('x', 65));
SELECT pgrepl_admin.ca_init(common_name => E'evil\nCN');
SELECT pgrepl_admin.ca_init(valid_for => NULL);
SELECT pgrepl_admin.ca_init(valid_for => '0');
SELECT pgrepl_admin.ca_init(valid_for => '-1 day');
SELECT pgrepl_admin.ca_init(valid_for => '101 years');
SELECT pgrepl_admin.ca_init(key_type => 'dsa');
SELECT pgrepl_admin.ca_init(key_type => 'EC-P256');
SELECT pgrepl_admin.ca_init(key_type => NULL);
SELECT pgrepl_admin.ca_init(replace => NULL);
SELECT count(*) AS managed FROM pgrepl_admin.certificates;

-- the CA
SELECT kind, path, subject, issuer, is_ca, key_type, key_matches, san, served,
       expires_in BETWEEN '3652 days' AND '3653 days' AS ten_years,
       length(serial) = 32 AS serial_128_bits,
       fingerprint_sha256 ~ '^([0-9A-F]{2}:){31}[0-9A-F]{2}$' AS fingerprint_format
FROM pgrepl_admin.ca_init('regress CA', '10 years', 'ec-p384');
SELECT pgrepl_admin.ca_init();
SELECT pgrepl_admin.ca_certificate() LIKE '-----BEGIN CERTIFICATE-----%' AS pem;

-- bad input to rotate_server_cert changes nothing
SELECT pgrepl_admin.rotate_server_cert('{}');
SELECT pgrepl_admin.rotate_server_cert(ARRAY[NULL]::text[]);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['bad name']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['-lead.example.com']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['trail-.example.com']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['a..b']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['db.example.com,DNS:evil.com']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY[repeat('a', 64) || '.example.com']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY[repeat('a.', 127) || 'aa']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['*.example.com']);
SELECT pgrepl_admin.rotate_server_cert(ARRAY['300.1.1.1.']);
SELECT pgrepl_admin.rotate_server_cert('{{a.example},{b.example}}');
SELECT pgrepl_admin.rotate_server_cert(valid_for => '20 years');
SELECT pgrepl_admin.rotate_server_cert(valid_for => '0 seconds');
SELECT pgrepl_admin.rotate_server_cert(valid_for => NULL);
SELECT pgrepl_admin.rotate_server_cert(key_type => 'rsa-1024');
SELECT pgrepl_admin.rotate_server_cert(key_type => NULL);
SELECT kind FROM pgrepl_admin.certificates ORDER BY kind;
SELECT count(*) AS ssl_settings FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf' AND name LIKE 'ssl%';

-- a rotation: names are de-duplicated, IP addresses become IP entries
SELECT kind, path, subject, issuer, key_type, san, is_ca, key_matches, served,
       expires_in BETWEEN '29 days 23 hours' AND '30 days' AS thirty_days
FROM pgrepl_admin.rotate_server_cert(ARRAY['db.example.com', '10.0.0.1', '::1', 'DB.example.com'],
                                     '30 days', 'ed25519');
-- the first rotation pointed the server at the managed files and turned ssl on
SELECT name, setting FROM pg_file_settings
WHERE sourcefile LIKE '%postgresql.auto.conf' AND name LIKE 'ssl%' ORDER BY name;

-- every key type
SELECT t AS requested, (pgrepl_admin.rotate_server_cert(ARRAY['h.example'], '1 day', t)).key_type
FROM unnest(ARRAY['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519']) AS t;
-- a replaced pair is destroyed with its key once the new one is served
-- (here, without a TCP address to check over, at once)
SELECT kind, count(*), bool_and(key_matches) AS keys_match
FROM pgrepl_admin.certificates GROUP BY kind ORDER BY kind;
-- the view never shows key material
SELECT count(*) AS rows_with_key_material
FROM pgrepl_admin.certificates c WHERE c::text LIKE '%PRIVATE%';

-- client certificates
SELECT certificate LIKE '-----BEGIN CERTIFICATE-----%' AS cert_pem,
       private_key LIKE '-----BEGIN PRIVATE KEY-----%' AS key_pem,
       ca_certificate = pgrepl_admin.ca_certificate() AS ca_bundle,
       not_after - now() BETWEEN '6 days 23 hours' AND '7 days 1 minute' AS seven_days
FROM pgrepl_admin.issue_client_cert('regress_repl', '7 days', 'rsa-2048');
SELECT pgrepl_admin.issue_client_cert(NULL);
SELECT pgrepl_admin.issue_client_cert('');
SELECT pgrepl_admin.issue_client_cert(E'bad\trole');
SELECT pgrepl_admin.issue_client_cert('regress_repl', '11 years');
SELECT pgrepl_admin.issue_client_cert('regress_repl', key_type => 'x');
SELECT pgrepl_admin.issue_client_cert('regress_repl', force => NULL);
-- only for a role that exists and is not a superuser, unless forced
CREATE ROLE regress_cert_super SUPERUSER;
SELECT pgrepl_admin.issue_client_cert('regress_no_such_role');
SELECT pgrepl_admin.issue_client_cert('regress_cert_super');
SELECT not_after > now() AS forced FROM pgrepl_admin.issue_client_cert('regress_cert_super', force => true);
SELECT not_after > now() AS forced FROM pgrepl_admin.issue_client_cert('regress_no_such_role', force => true);
DROP ROLE regress_cert_super;

-- CA replacement, overlap and retirement
SELECT serial AS old_ca FROM pgrepl_admin.certificates WHERE kind = 'ca' \gset
SELECT kind, subject FROM pgrepl_admin.ca_init(replace => true);
SELECT kind, serial = :'old_ca' AS is_old_ca FROM pgrepl_admin.certificates
WHERE kind LIKE 'ca%' ORDER BY kind;
SELECT regexp_count(pgrepl_admin.ca_certificate(), 'BEGIN CERTIFICATE') AS certs_in_bundle;
-- the old CA still signs the server certificate: not yet
SELECT pgrepl_admin.ca_retire(:'old_ca');
SELECT issuer FROM pgrepl_admin.rotate_server_cert(ARRAY['db.example.com']);
SELECT pgrepl_admin.ca_retire(lower(:'old_ca'));
SET client_min_messages = warning;
SELECT pgrepl_admin.ca_retire(:'old_ca') AS retired_again;
RESET client_min_messages;
SELECT pgrepl_admin.ca_retire('ABCD') AS unknown_serial;
SELECT regexp_count(pgrepl_admin.ca_certificate(), 'BEGIN CERTIFICATE') AS certs_in_bundle;
SELECT pgrepl_admin.ca_retire((SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca'));
SELECT pgrepl_admin.ca_retire('not-hex');
SELECT pgrepl_admin.ca_retire('');
SELECT pgrepl_admin.ca_retire(NULL);

-- privileges: superuser only, the view for pg_monitor
CREATE ROLE regress_plain;
CREATE ROLE regress_monitor IN ROLE pg_monitor;
SET ROLE regress_plain;
SELECT count(*) FROM pgrepl_admin.certificates;
SELECT pgrepl_admin.ca_certificate();
SELECT pgrepl_admin.rotate_server_cert();
SELECT pgrepl_admin.issue_client_cert('regress_plain');
SELECT pgrepl_admin.ca_init(replace => true);
SELECT pgrepl_admin.ca_retire('AB');
RESET ROLE;
SET ROLE regress_monitor;
SELECT kind, key_matches FROM pgrepl_admin.certificates WHERE kind IN ('ca', 'server');
SELECT pgrepl_admin.rotate_server_cert();
RESET ROLE;
DROP ROLE regress_plain;
DROP ROLE regress_monitor;
DROP ROLE regress_repl;
