# What differs between the PostgreSQL versions pgrepl_admin supports, each
# checked on the versions where it applies, on a real server:
#   all:  a role or database name that starts with "/" is refused in a rule
#         (16 reads it as a regular expression); replication passwords get
#         the iteration count CREATE ROLE would use; check() names md5
#         passwords of replication roles and md5 lines of pg_hba.conf;
#   16+:  include lines of pg_hba.conf: a line broken in an included file is
#         found, an included line before a rule shadows it and is named by
#         its file, an include put into the managed block goes at the next
#         sync; an earlier regular expression counts as shadowing;
#   17+:  prepare_primary(apply) and the first rotation refuse before
#         writing when allow_alter_system is off; remove_standby does not
#         drop a slot named in synchronized_standby_slots; replication_lag
#         shows since when a slot is inactive;
#   18:   a slot lost to idle_replication_slot_timeout is reported as such.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $node = new_primary('versions', conf => "listen_addresses = '127.0.0.1'\n");
my $version = $node->pg_version;
my $hba = $node->data_dir . '/pg_hba.conf';
note "PostgreSQL $version";

# --- every version: names starting with "/" are refused in rules
$node->safe_psql('postgres', q{CREATE ROLE "/regress_slash" LOGIN});
my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT pgrepl_admin.hba_add('10.0.0.1', '/regress_slash', database => 'postgres', connection_type => 'host')});
like($err, qr/role name "\/regress_slash" cannot be used in a pg_hba\.conf rule/,
	'a role name starting with / is refused in a rule');
unlike(slurp_file($hba), qr/regress_slash/, 'and pg_hba.conf does not name it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.hba_rules'), '0', 'nor the table');
($rc, $out, $err) = $node->psql('postgres', q{SELECT pgrepl_admin.add_standby('regress_slash', '10.0.0.2', role_name => '/regress_slash')});
like($err, qr/cannot be used in a pg_hba\.conf rule/, 'add_standby refuses such a name too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.standbys'), '0',
	'and registers nothing');

# --- every version: the SCRAM iteration count of CREATE ROLE ... PASSWORD
my $iterations = $version >= 16 ? 7777 : 4096;
my $iter_sql = $version >= 16 ? 'SET scram_iterations = 7777;' : '';
my $pw = $node->safe_psql('postgres',
	"$iter_sql SELECT pgrepl_admin.create_replication_role('regress_iter')");
like($node->safe_psql('postgres', q{SELECT rolpassword FROM pg_authid WHERE rolname = 'regress_iter'}),
	qr/^SCRAM-SHA-256\$$iterations:/, "the replication password is hashed with $iterations iterations");
$node->safe_psql('postgres',
	q{SELECT pgrepl_admin.hba_add('127.0.0.1/32', 'regress_iter', database => 'postgres', connection_type => 'host')});
$node->connect_ok('host=127.0.0.1 port=' . $node->port . " dbname=postgres user=regress_iter password=$pw",
	'and the role logs in with it');

# --- every version: md5 in check()
$node->safe_psql('postgres', q{
	SET password_encryption = 'md5';
	CREATE ROLE regress_md5 LOGIN REPLICATION PASSWORD 'not-a-secret-md5';
});
is($node->safe_psql('postgres', q{SELECT status FROM pgrepl_admin.check() WHERE check_name = 'md5'}),
	'warning', 'check() warns about an md5 password of a replication role');
like($node->safe_psql('postgres', q{SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'md5'}),
	qr/role regress_md5/, 'and names the role');
unlike($node->safe_psql('postgres', q{SELECT detail || hint FROM pgrepl_admin.check() WHERE check_name = 'md5'}),
	qr/md5[0-9a-f]{32}/, 'but never its hash');
$node->append_conf('pg_hba.conf', "host postgres regress_md5 10.7.7.7/32 md5\n");
$node->reload;
my @hba_lines = split /\n/, slurp_file($hba);
my $md5_line = 1 + (grep { $hba_lines[$_] =~ /10\.7\.7\.7/ } 0 .. $#hba_lines)[0];
like($node->safe_psql('postgres', q{SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'md5'}),
	qr/pg_hba\.conf line \Q$hba\E:$md5_line/, 'and the md5 line of pg_hba.conf, by file and line');
$node->safe_psql('postgres', 'DROP ROLE regress_md5');

SKIP:
{
	skip "include lines and regular expressions in pg_hba.conf are from PostgreSQL 16", 7
	  if $version < 16;

	# the block goes at the bottom, after the lines put at the top here
	$node->append_conf('postgresql.conf', "pgrepl_admin.hba_position = 'bottom'\n");
	$node->reload;
	$node->poll_query_until('postgres', "SELECT current_setting('pgrepl_admin.hba_position') = 'bottom'")
	  or die 'hba_position not reloaded';
	$node->safe_psql('postgres', q{CREATE ROLE regress_inc LOGIN; CREATE ROLE regress_rx LOGIN});
	# (host rules: hostssl lines are errors while ssl is off)
	my $rule = q{database => 'postgres', connection_type => 'host'};
	$node->safe_psql('postgres', qq{SELECT pgrepl_admin.hba_add('10.40.0.1', 'regress_inc', $rule)});
	my $extra = $node->data_dir . '/extra.conf';
	append_to_file($extra, "host postgres regress_inc 10.50.0.0/16 reject\n");
	my $text = slurp_file($hba);
	open(my $fh, '>', $hba) or die;
	print $fh qq{include extra.conf\nhost postgres "/^regress_r" 10.60.0.0/16 reject\n$text};
	close($fh);
	$node->reload;

	$node->safe_psql('postgres', qq{SELECT pgrepl_admin.hba_add('10.50.0.1', 'regress_inc', $rule)});
	like($node->safe_psql('postgres',
			q{SELECT s.error FROM pgrepl_admin.hba_status s JOIN pgrepl_admin.hba_rules r USING (rule_id)
			  WHERE r.address = '10.50.0.1/32'}),
		qr/line 1 of "\Q$extra\E", included in pg_hba\.conf before the rule, may match its connections first/,
		'a line of an included file before the rule shadows it, named by its file');
	$node->safe_psql('postgres', qq{SELECT pgrepl_admin.hba_add('10.60.0.1', 'regress_rx', $rule)});
	isnt($node->safe_psql('postgres',
			q{SELECT s.shadowed_by FROM pgrepl_admin.hba_status s JOIN pgrepl_admin.hba_rules r USING (rule_id)
			  WHERE r.address = '10.60.0.1/32'}),
		'', 'an earlier regular expression that may match the role shadows the rule');

	# the session that accepted the file once must still read the included
	# file, which changed while pg_hba.conf did not
	($rc, $out, $err) = $node->psql('postgres', qq{
		SELECT pgrepl_admin.hba_add('10.40.0.2', 'regress_inc', $rule);
		\\! printf 'host all all 10.78.0.0/16 no-such-method\\n' >> $extra
		SELECT pgrepl_admin.hba_add('10.40.0.3', 'regress_inc', $rule);
	});
	like($err, qr/line 2 of "\Q$extra\E" is invalid: invalid authentication method "no-such-method"/,
		'a line broken in an included file after the last check is found, by its file and line');
	unlike(slurp_file($hba), qr/10\.40\.0\.3/, 'and the rule is not written');
	$text = slurp_file($extra);
	$text =~ s/^host all all 10\.78.*\n//m;
	open($fh, '>', $extra) or die;
	print $fh $text;
	close($fh);

	# an include put into the managed block by hand is gone at the next sync
	$text = slurp_file($hba);
	$text =~ s/^(# BEGIN pgrepl_admin[^\n]*\n)/$1include_if_exists extra.conf\n/m or die;
	open($fh, '>', $hba) or die;
	print $fh $text;
	close($fh);
	$node->safe_psql('postgres', 'SELECT pgrepl_admin.hba_sync()');
	my ($block) = slurp_file($hba) =~ /(# BEGIN pgrepl_admin.*# END pgrepl_admin)/s;
	unlike($block, qr/include/, 'hba_sync takes an include line out of the managed block');
	like(slurp_file($hba), qr/^include extra\.conf$/m, 'and keeps the one outside it');
}

SKIP:
{
	skip 'allow_alter_system, synchronized_standby_slots and inactive_since are from PostgreSQL 17', 9
	  if $version < 17;

	# allow_alter_system = off: refused before anything is written
	$node->append_conf('postgresql.conf', "allow_alter_system = off\n");
	$node->reload;
	my $auto = $node->data_dir . '/postgresql.auto.conf';
	my $auto_before = slurp_file($auto);
	cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM pgrepl_admin.prepare_primary(max_standbys => 20)'),
		'>', 0, 'allow_alter_system off: the dry run of prepare_primary works');
	($rc, $out, $err) = $node->psql('postgres',
		'SELECT * FROM pgrepl_admin.prepare_primary(max_standbys => 20, apply => true)');
	like($err, qr/prepare_primary\(apply => true\) needs ALTER SYSTEM, which this server does not allow/,
		'prepare_primary(apply => true) is refused, saying why');
	($rc, $out, $err) = $node->psql('postgres', 'SELECT pgrepl_admin.rotate_server_cert()');
	like($err, qr/a rotation that turns TLS on needs ALTER SYSTEM/, 'so is the rotation that would turn ssl on');
	is(slurp_file($auto), $auto_before, 'postgresql.auto.conf is unchanged');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pgrepl_admin.certificates WHERE kind = 'server'}),
		'0', 'and no server certificate was installed');
	$node->adjust_conf('postgresql.conf', 'allow_alter_system', 'on');
	$node->reload;

	# a slot named in synchronized_standby_slots is not dropped
	$node->safe_psql('postgres', q{SELECT pgrepl_admin.add_standby('regress_sync', '10.70.0.1')});
	my $slot = $node->safe_psql('postgres', q{SELECT slot_name FROM pgrepl_admin.standbys WHERE name = 'regress_sync'});
	$node->safe_psql('postgres', "ALTER SYSTEM SET synchronized_standby_slots = '$slot'");
	$node->reload;
	$node->poll_query_until('postgres', "SELECT current_setting('synchronized_standby_slots') = '$slot'")
	  or die 'setting not reloaded';
	($rc, $out, $err) = $node->psql('postgres', q{SELECT pgrepl_admin.remove_standby('regress_sync')});
	like($err, qr/replication slot "\Q$slot\E" of standby "regress_sync" is listed in synchronized_standby_slots/,
		'remove_standby refuses to drop a slot listed in synchronized_standby_slots');
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM pgrepl_admin.standbys s JOIN pg_replication_slots p ON p.slot_name = s.slot_name
			 WHERE s.name = 'regress_sync'"),
		'1', 'and the standby and its slot are kept');

	# replication_lag: since when the slot is inactive
	is($node->safe_psql('postgres',
			q{SELECT slot_inactive_since IS NOT NULL AND slot_invalidation_reason IS NULL
			  FROM pgrepl_admin.replication_lag WHERE standby_name = 'regress_sync'}),
		't', 'replication_lag shows since when the slot is inactive, and no invalidation');
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET synchronized_standby_slots});
	$node->reload;
	$node->poll_query_until('postgres', "SELECT current_setting('synchronized_standby_slots') = ''")
	  or die 'setting not reloaded';
	is($node->safe_psql('postgres', q{SELECT pgrepl_admin.remove_standby('regress_sync')}), 't',
		'once out of the setting, the standby is removed');
}

SKIP:
{
	skip 'idle_replication_slot_timeout is from PostgreSQL 18', 4 if $version < 18;

	$node->safe_psql('postgres', q{SELECT pgrepl_admin.add_standby('regress_idle', '10.80.0.1')});
	$node->safe_psql('postgres', q{ALTER SYSTEM SET idle_replication_slot_timeout = '1s'});
	$node->reload;
	# the timeout is applied by checkpoints: one at a time until it is
	my $reason = '';
	for (1 .. 150)
	{
		$node->safe_psql('postgres', 'CHECKPOINT');
		$reason = $node->safe_psql('postgres',
			q{SELECT slot_invalidation_reason FROM pgrepl_admin.replication_lag WHERE standby_name = 'regress_idle'});
		last if $reason ne '';
		usleep(200_000);
	}
	is($node->safe_psql('postgres',
			q{SELECT slot_invalidation_reason FROM pgrepl_admin.replication_lag WHERE standby_name = 'regress_idle'}),
		'idle_timeout', 'replication_lag says the slot was lost to idle_timeout');
	is($node->safe_psql('postgres', q{SELECT status FROM pgrepl_admin.check() WHERE check_name = 'inactive_slots'}),
		'error', 'check() reports the lost slot as an error');
	like($node->safe_psql('postgres', q{SELECT detail FROM pgrepl_admin.check() WHERE check_name = 'inactive_slots'}),
		qr/lost: \S+ \(idle_timeout, inactive since /, 'naming why it was lost and since when it was inactive');
	like($node->safe_psql('postgres', q{SELECT hint FROM pgrepl_admin.check() WHERE check_name = 'inactive_slots'}),
		qr/idle_replication_slot_timeout/, 'and what lost it');
}

$node->stop;
done_testing();
