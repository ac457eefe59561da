# prepare_primary() on a cluster set up the old recipe's way (wal_level
# minimal, no WAL senders, fsync off): the dry run shows the gaps and writes
# nothing; apply writes them, a restart makes them take effect, and a
# standby then streams from the primary.  A second apply changes nothing.
# Finally a standby provisioned with add_standby streams over verify-full
# TLS and check() reports no error for those settings.
# ssl is turned on only once a usable certificate and key are in place.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $primary = new_primary('primary', streaming => 0,
	conf => "wal_level = minimal\nmax_wal_senders = 0\nfsync = off\n"
	  . "max_replication_slots = 30\n");
my $pgdata = $primary->data_dir;
my $port   = $primary->port;

# prepare_primary's rows keyed by setting: current, recommended, restart,
# applied, reason
sub prepare
{
	my ($args) = @_;
	my $out = $primary->safe_psql('postgres',
		"SELECT setting, current_value, coalesce(recommended_value, '<none>'),
		        needs_restart, applied, reason
		 FROM pgrepl_admin.prepare_primary($args)");
	my %rows;
	for my $line (split /\n/, $out)
	{
		my ($setting, @f) = split /\|/, $line, 6;
		@{ $rows{$setting} }{qw(current recommended restart applied reason)} = @f;
	}
	return \%rows;
}

# the settings written to postgresql.auto.conf, as the server reads them
sub auto_conf_settings
{
	return $primary->safe_psql('postgres',
		"SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_file_settings
		 WHERE sourcefile LIKE '%postgresql.auto.conf'");
}

# a query over TCP/IP on 127.0.0.1, with more connection options
sub tcp_query
{
	my ($options, $sql) = @_;
	return run_command([ 'psql', '-X', '-At', '-d',
		"host=127.0.0.1 port=$port dbname=postgres $options", '-c', $sql ]);
}

# --- the dry run shows the gaps.  With data checksums (initdb's default from
# 18) hint bits are WAL-logged already and wal_log_hints is not needed.
my $checksums = $primary->safe_psql('postgres', 'SHOW data_checksums') eq 'on';
my $hints = $checksums ? '' : ' wal_log_hints';
my $rows = prepare("listen_addresses => '127.0.0.1'");
my %expect = (
	wal_level             => 'minimal|replica|t|f',
	max_wal_senders       => '0|6|t|f',
	max_replication_slots => '30|30|f|f',
	hot_standby           => 'on|on|f|f',
	wal_log_hints         => $checksums ? 'off|off|f|f' : 'off|on|t|f',
	password_encryption   => 'scram-sha-256|scram-sha-256|f|f',
	ssl                   => 'off|on|f|f',
	listen_addresses      => '|127.0.0.1|t|f',
	fsync                 => 'off|on|f|f',
	full_page_writes      => 'on|on|f|f',
	synchronous_commit    => 'on|<none>|f|f');
for my $setting (sort keys %expect)
{
	is(join('|', @{ $rows->{$setting} }{qw(current recommended restart applied)}),
		$expect{$setting}, "dry run: $setting");
}
is($rows->{max_slot_wal_keep_size}{current}, '-1', 'dry run: slots keep WAL without limit');
like($rows->{max_slot_wal_keep_size}{recommended}, qr/^[1-9][0-9]*(MB|GB|TB)$/,
	'dry run: a cap on the WAL slots keep');
like($rows->{max_slot_wal_keep_size}{reason}, qr/25% of the [0-9.]+GB free/,
	'dry run: the cap comes from the free space of pg_wal');
like($rows->{fsync}{reason}, qr/corrupt/, 'dry run: fsync off is called out');
like($rows->{ssl}{reason}, qr/"server\.crt".*run pgrepl_admin\.rotate_server_cert\(\) first/,
	'dry run: ssl waits for a certificate');
is(scalar keys %$rows, 12, 'dry run: twelve rows');
is(auto_conf_settings(), '', 'dry run: nothing written');

# --- apply writes exactly the changes it can make, and reloads
# (the cap follows the free space of pg_wal's volume, which other writers on
# the machine change between two calls: the one apply computed is checked)
$rows = prepare("listen_addresses => '127.0.0.1', apply => true");
my $cap = $rows->{max_slot_wal_keep_size}{recommended};
like($cap, qr/^\d+[MGT]B$/, 'apply: a cap from the free space');
is(join(' ', grep { $rows->{$_}{applied} eq 't' } sort keys %$rows),
	"fsync listen_addresses max_slot_wal_keep_size max_wal_senders wal_level$hints",
	'apply: the changed settings are written, ssl is not');
is(join('|', @{ $rows->{fsync} }{qw(current restart)}), 'on|f',
	'apply: fsync runs on after the reload');
is(join('|', @{ $rows->{wal_level} }{qw(current recommended restart)}), 'minimal|replica|t',
	'apply: wal_level still needs a restart');
is($rows->{max_slot_wal_keep_size}{current}, $cap, 'apply: the cap runs after the reload');
is(auto_conf_settings(),
	"fsync=on listen_addresses=127.0.0.1 max_slot_wal_keep_size=$cap max_wal_senders=6 "
	  . "wal_level=replica" . ($checksums ? '' : ' wal_log_hints=on'),
	'apply: postgresql.auto.conf holds the changes');
ok($primary->poll_query_until('postgres',
		"SELECT string_agg(name, ' ' ORDER BY name) FROM pg_settings WHERE pending_restart",
		"listen_addresses max_wal_senders wal_level$hints"),
	'apply: other sessions see the same settings pending a restart');
my $slot_cap_mb = $primary->safe_psql('postgres',
	"SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'");
is($primary->safe_psql('postgres', 'SHOW fsync'), 'on', 'apply: fsync on in a new session');
is($primary->safe_psql('postgres', 'SHOW ssl'), 'off', 'apply: ssl left off');

# --- after a restart the primary serves a standby
$primary->restart;
is($primary->safe_psql('postgres',
		"SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
		 WHERE name IN ('wal_level', 'max_wal_senders', 'max_replication_slots', 'wal_log_hints',
		                'fsync', 'listen_addresses', 'max_slot_wal_keep_size')"),
	"fsync=on listen_addresses=127.0.0.1 max_replication_slots=30 max_slot_wal_keep_size=$slot_cap_mb "
	  . "max_wal_senders=6 wal_level=replica wal_log_hints=" . ($checksums ? 'off' : 'on'),
	'restart: the settings run, max_replication_slots not lowered');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM pg_settings WHERE pending_restart'),
	'0', 'restart: nothing pending');
my ($addr) = tcp_query('', 'SELECT inet_server_addr()');
is($addr, "127.0.0.1", 'restart: the primary accepts TCP/IP connections on 127.0.0.1');

my $standby = new_standby($primary, 'standby');
is($primary->safe_psql('postgres',
		"SELECT state FROM pg_stat_replication WHERE application_name = 'standby'"),
	'streaming', 'a standby streams from the prepared primary');
$primary->safe_psql('postgres', 'CREATE TABLE prepared AS SELECT 42 AS answer');
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', 'SELECT answer FROM prepared'), '42',
	'the standby replays the primary\'s writes');

# --- a second apply changes nothing
my $auto_conf = slurp_file("$pgdata/postgresql.auto.conf");
$rows = prepare("listen_addresses => '127.0.0.1', apply => true");
is(join(' ', grep { $rows->{$_}{applied} eq 't' || $rows->{$_}{restart} eq 't' } sort keys %$rows),
	'', 'second apply: nothing written, nothing needs a restart');
is(join(' ', grep { $_ ne 'ssl' && $_ ne 'synchronous_commit'
		  && $rows->{$_}{current} ne $rows->{$_}{recommended} } sort keys %$rows),
	'', 'second apply: every setting but ssl is as recommended');
is(slurp_file("$pgdata/postgresql.auto.conf"), $auto_conf,
	'second apply: postgresql.auto.conf unchanged');

# --- ssl: turned on only once a usable certificate and key are there
system_or_bail('openssl', 'req', '-new', '-x509', '-days', '1', '-nodes',
	'-subj', '/CN=127.0.0.1', '-keyout', "$pgdata/server.key",
	'-out', "$pgdata/server.crt");
chmod 0644, "$pgdata/server.key";
$rows = prepare('apply => true');
is($rows->{ssl}{applied}, 'f', 'ssl: not applied with a key readable by others');
like($rows->{ssl}{reason}, qr/"server\.key" is accessible to group or others/,
	'ssl: the reason names the key file and its problem');
is($primary->safe_psql('postgres', 'SHOW ssl'), 'off', 'ssl: still off');

chmod 0600, "$pgdata/server.key";
$rows = prepare('apply => true');
is(join('|', @{ $rows->{ssl} }{qw(current applied restart)}), 'on|t|f',
	'ssl: applied once the certificate and key are usable');
my $ssl_used;
for (1 .. 300)
{
	($ssl_used) = tcp_query("sslmode=require sslrootcert=$pgdata/server.crt",
		'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
	last if defined $ssl_used && $ssl_used eq 't';
	usleep(100_000);
}
is($ssl_used, 't', 'ssl: a client connects over SSL after the reload');

# --- a standby provisioned through add_standby streams over verify-full TLS,
# and check() has no error left for the settings prepare_primary handles
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1']);
	ALTER SYSTEM SET pgrepl_admin.primary_host = '127.0.0.1';
	SELECT pg_reload_conf();
});
my $root = write_private_file("$pgdata/../root.crt",
	$primary->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
my ($password, $conninfo, $slot) = split /\|/, $primary->safe_psql('postgres',
	"SELECT password, primary_conninfo, slot_name FROM pgrepl_admin.add_standby('provisioned', '127.0.0.1/32')");
like($conninfo, qr/sslmode=verify-full/, 'add_standby: a verify-full primary_conninfo');
$primary->backup('provisioned_base');
my $provisioned = PostgreSQL::Test::Cluster->new('provisioned');
$provisioned->init_from_backup($primary, 'provisioned_base', has_streaming => 1);
$provisioned->append_conf('postgresql.conf',
	"primary_conninfo = '$conninfo password=$password sslrootcert=$root'\nprimary_slot_name = '$slot'\n");
$provisioned->start;
ok($primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 WHERE r.application_name = 'provisioned' AND r.state = 'streaming' AND s.ssl"),
	'a standby provisioned with add_standby streams over TLS from the prepared primary');
is($primary->safe_psql('postgres',
		"SELECT COALESCE(string_agg(check_name, ',' ORDER BY check_name), 'none') FROM pgrepl_admin.check()
		 WHERE status = 'error' AND check_name IN ('wal_level', 'max_wal_senders', 'max_replication_slots',
		       'fsync', 'full_page_writes', 'password_encryption', 'ssl', 'listen_addresses')"),
	'none', 'check(): no error left for the prepared settings');
is($primary->safe_psql('postgres',
		"SELECT status FROM pgrepl_admin.check() WHERE check_name = 'fsync'"),
	'ok', 'check(): fsync, off at the start, is ok');

$provisioned->stop;
$standby->stop;
$primary->stop;
done_testing();
