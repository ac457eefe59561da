# Privileges: every function, view, table and sequence of the extension,
# called or read for real by a superuser, a plain role, a member of
# pg_monitor, and a plain role to which the superuser granted EXECUTE on
# that function (SELECT on that view, table or sequence).  Each object has
# a class in the table below, which says what each of the four may do; the
# test fails when the catalog has an object the table does not classify,
# or the table names one the catalog does not have.
#
# Classes:
#   public          every role may use it
#   pg_monitor      superusers and pg_monitor; a grant of this object alone
#                   is enough
#   pg_monitor-only superusers and pg_monitor; a grant of this object alone
#                   gets past its own privilege check, then is refused
#                   (42501) by what it reads as the caller: the extension's
#                   tables, or the function behind a view
#   superuser       superusers; a grant of EXECUTE is enough
#   superuser-only  superusers; a grant of EXECUTE gets past the privilege
#                   check, then the function refuses (42501): it reads and
#                   writes the extension's tables as the caller, or creates
#                   or drops REPLICATION roles, which takes a superuser
#   trigger         as superuser; whoever may call it directly is refused
#                   with 39P01: it only runs as hba_rules' trigger
#
# Outcomes: allow (the harmless call ends in its expected SQLSTATE, never
# 42501), deny (42501 "permission denied for <the object>"), refused (42501
# for something else than the object: the object's own check let it in).
#
# Every call is made with a hostile search_path (issue 22): mallory planted
# a better-matching function or operator for every name the extension's
# code uses in public and in a schema the callers put first
# (PgreplAdminTest::plant_hostile_objects); none of them may run, in the
# calls or in what their commits do.  Every function of the extension pins
# search_path = pg_catalog, pg_temp.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my %classes = (
	'public'          => { superuser => 'allow', plain => 'allow', monitor => 'allow', granted => 'allow' },
	'pg_monitor'      => { superuser => 'allow', plain => 'deny',  monitor => 'allow', granted => 'allow' },
	'pg_monitor-only' => { superuser => 'allow', plain => 'deny',  monitor => 'allow', granted => 'refused' },
	'superuser'       => { superuser => 'allow', plain => 'deny',  monitor => 'deny',  granted => 'allow' },
	'superuser-only'  => { superuser => 'allow', plain => 'deny',  monitor => 'deny',  granted => 'refused' },
	'trigger'         => { superuser => 'allow', plain => 'deny',  monitor => 'deny',  granted => 'allow' },
);

# object => [class, harmless call, its SQLSTATE, a call that would do real
# work (for deny and refused; default: the harmless call)]
my $V = q{'regress_priv_victim'};    # a replication role
my %objects = (
	'function pgrepl_admin."check"()' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin."check"()}, '00000' ],
	'function pgrepl_admin.add_standby(text,cidr,text,name,boolean,boolean)' => [
		'superuser-only', q{SELECT * FROM pgrepl_admin.add_standby('Bad', '10.78.0.0/16')}, '22023',
		q{SELECT * FROM pgrepl_admin.add_standby('regress_priv_sb', '10.78.0.0/16')} ],
	'function pgrepl_admin.backup_abort(text)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.backup_abort('regress_nosuch')}, '00000' ],
	'function pgrepl_admin.backup_extend(text,interval)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.backup_extend('regress_nosuch', '1 minute')}, '42704' ],
	'function pgrepl_admin.backup_slots()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.backup_slots()}, '00000' ],
	'function pgrepl_admin.backup_start(text,boolean,interval)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.backup_start('')}, '22023' ],
	'function pgrepl_admin.backup_stop(text,boolean)' =>
	  [ 'superuser', q{SELECT * FROM pgrepl_admin.backup_stop('regress_nosuch')}, '42704' ],
	'function pgrepl_admin.ca_certificate()' =>
	  [ 'superuser', q{SELECT pgrepl_admin.ca_certificate() IS NOT NULL}, '00000' ],
	'function pgrepl_admin.ca_init(text,interval,text,boolean)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.ca_init()}, '42710' ],
	'function pgrepl_admin.ca_retire(text)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.ca_retire('00')}, '00000' ],
	'function pgrepl_admin.certificates()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.certificates()}, '00000' ],
	'function pgrepl_admin.create_replication_role(name,text,boolean)' => [
		'superuser-only', q{SELECT pgrepl_admin.create_replication_role('')}, '22023',
		q{SELECT pgrepl_admin.create_replication_role('regress_priv_new')} ],
	'function pgrepl_admin.drop_replication_role(name)' => [
		'superuser-only', q{SELECT pgrepl_admin.drop_replication_role('regress_priv_nosuch')}, '00000',
		qq{SELECT pgrepl_admin.drop_replication_role($V)} ],
	'function pgrepl_admin.hba_add(cidr,name,text,text,text,text,boolean)' => [
		'superuser-only', qq{SELECT pgrepl_admin.hba_add('10.77.0.0/16', $V, method => 'ident')}, '22023',
		qq{SELECT pgrepl_admin.hba_add('10.77.0.0/16', $V)} ],
	'function pgrepl_admin.hba_apply_restored(boolean)' =>
	  [ 'superuser-only', q{SELECT pgrepl_admin.hba_apply_restored()}, '00000' ],
	'function pgrepl_admin.hba_discard_restored()' =>
	  [ 'superuser-only', q{SELECT pgrepl_admin.hba_discard_restored()}, '00000' ],
	'function pgrepl_admin.hba_file_status()' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.hba_file_status()}, '00000' ],
	'function pgrepl_admin.hba_remove(bigint)' =>
	  [ 'superuser-only', q{SELECT pgrepl_admin.hba_remove(-1)}, '00000' ],
	'function pgrepl_admin.hba_rules_changed()' =>
	  [ 'trigger', q{SELECT pgrepl_admin.hba_rules_changed()}, '39P01' ],
	'function pgrepl_admin.hba_rules_guard()' =>
	  [ 'trigger', q{SELECT pgrepl_admin.hba_rules_guard()}, '39P01' ],
	'function pgrepl_admin.hba_sync()' =>
	  [ 'superuser-only', q{SELECT pgrepl_admin.hba_sync()}, '00000' ],
	'function pgrepl_admin.issue_client_cert(name,interval,text,boolean)' =>
	  [ 'superuser', qq{SELECT * FROM pgrepl_admin.issue_client_cert($V, '0')}, '22023' ],
	'function pgrepl_admin.md5_in_use()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.md5_in_use()}, '00000' ],
	'function pgrepl_admin.prepare_primary(integer,text,boolean)' =>
	  [ 'superuser', q{SELECT count(*) FROM pgrepl_admin.prepare_primary()}, '00000' ],
	'function pgrepl_admin.remove_standby(text,boolean)' =>
	  [ 'superuser-only', q{SELECT pgrepl_admin.remove_standby('regress_priv_nosuch')}, '00000' ],
	'function pgrepl_admin.replication_lag()' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.replication_lag()}, '00000' ],
	'function pgrepl_admin.rotate_server_cert(text[],interval,text,boolean)' =>
	  [ 'superuser', q{SELECT pgrepl_admin.rotate_server_cert(ARRAY['bad host'])}, '22023' ],
	'function pgrepl_admin.set_synchronous(text[],integer,text,boolean)' => [
		'superuser-only', q{SELECT pgrepl_admin.set_synchronous(num => -1)}, '22023',
		q{SELECT pgrepl_admin.set_synchronous(num => 0)} ],
	'function pgrepl_admin.synchronous_self()' =>
	  [ 'pg_monitor', q{SELECT pgrepl_admin.synchronous_self() IS NOT NULL}, '00000' ],
	'function pgrepl_admin.synchronous_members()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.synchronous_members()}, '00000' ],
	'function pgrepl_admin.wal_position()' =>
	  [ 'public', q{SELECT pgrepl_admin.wal_position() IS NOT NULL}, '00000' ],
	'function pgrepl_admin.synchronous_fallback()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.synchronous_fallback()}, '00000' ],
	'function pgrepl_admin.worker_status()' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.worker_status()}, '00000' ],
	'sequence pgrepl_admin.backup_history_id_seq' =>
	  [ 'superuser', q{SELECT last_value FROM pgrepl_admin.backup_history_id_seq}, '00000' ],
	'sequence pgrepl_admin.hba_rules_rule_id_seq' =>
	  [ 'superuser', q{SELECT last_value FROM pgrepl_admin.hba_rules_rule_id_seq}, '00000' ],
	'table pgrepl_admin.backup_history' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.backup_history}, '00000' ],
	'table pgrepl_admin.hba_rules' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.hba_rules}, '00000' ],
	'table pgrepl_admin.lag_history' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.lag_history}, '00000' ],
	'table pgrepl_admin.standbys' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.standbys}, '00000' ],
	'table pgrepl_admin.synchronous_setting' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.synchronous_setting}, '00000' ],
	'view pgrepl_admin.backups' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.backups}, '00000' ],
	'view pgrepl_admin.certificates' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.certificates}, '00000' ],
	'view pgrepl_admin.hba_status' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.hba_status}, '00000' ],
	'view pgrepl_admin.replication_lag' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.replication_lag}, '00000' ],
	'view pgrepl_admin.standby_status' =>
	  [ 'pg_monitor', q{SELECT count(*) FROM pgrepl_admin.standby_status}, '00000' ],
	'view pgrepl_admin.synchronous_status' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.synchronous_status}, '00000' ],
	'view pgrepl_admin.worker_status' =>
	  [ 'pg_monitor-only', q{SELECT count(*) FROM pgrepl_admin.worker_status}, '00000' ],
);

# the framework's own queries must not meet the planted objects
$ENV{PGOPTIONS} = '-c search_path=pg_catalog,pg_temp';

my $node = new_primary('privileges', conf => join('',
	"listen_addresses = '127.0.0.1'\n",
	"pgrepl_admin.lag_sample_interval = 0\n"));
$node->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day');
	SELECT pgrepl_admin.create_replication_role('regress_priv_victim');
	CREATE ROLE regress_plain LOGIN;
	CREATE ROLE regress_monitor LOGIN IN ROLE pg_monitor;
	CREATE ROLE regress_granted LOGIN;
});
my $planted = plant_hostile_objects($node);

# --- the catalog and the classification agree
my @members = split /\n/, $node->safe_psql('postgres', q{
	SELECT pg_describe_object(d.classid, d.objid, 0)
	FROM pg_depend d
	LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
	  AND (d.classid = 'pg_proc'::regclass OR c.relkind NOT IN ('i', 'I', 'c'))
	ORDER BY 1});
my %in_catalog = map { $_ => 1 } @members;
my @unclassified = grep { !exists $objects{$_} } @members;
my @stale = grep { !$in_catalog{$_} } sort keys %objects;
ok(@members > 20 && !@unclassified && !@stale,
	'every function, view, table and sequence of the extension is classified, and only those');
fail("$_ is not classified: add it to the table of t/095_privileges.pl") for @unclassified;
fail("$_ is classified but not in the extension") for @stale;
for my $o (@members)
{
	next unless exists $objects{$o};
	ok(exists $classes{ $objects{$o}[0] }, "$o has a known class ($objects{$o}[0])");
}

# --- every function pins its search_path
is($node->safe_psql('postgres', q{
	SELECT string_agg(p.oid::regprocedure::text || ' ' || coalesce(p.proconfig::text, 'without'), ', ')
	FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
	WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin')
	  -- (and, for the views a dashboard polls, no JIT)
	  AND p.proconfig IS DISTINCT FROM
	      CASE WHEN p.proname IN ('check', 'replication_lag')
	           THEN ARRAY['search_path=pg_catalog, pg_temp', 'jit=off']
	           ELSE ARRAY['search_path=pg_catalog, pg_temp'] END}),
	'', 'every function of the extension has SET search_path = pg_catalog, pg_temp (check() and replication_lag() also jit = off)');

# --- each object, for each role, called for real
my %role_name = (
	superuser => 'NONE',
	plain     => 'regress_plain',
	monitor   => 'regress_monitor',
	granted   => 'regress_granted');
my @cases;
my $script = "SET search_path = $HOSTILE_PATH;\n";
for my $o (grep { exists $objects{$_} } @members)
{
	my ($class, $call, $allowed_state, $real_call) = @{ $objects{$o} };
	my ($kind, $name) = $o =~ /^(\w+) (.*)$/;
	my $privilege = $kind eq 'function' ? 'EXECUTE' : 'SELECT';
	my $grant_on = $kind eq 'view' ? "TABLE $name" : uc($kind) . " $name";
	(my $bare = $name) =~ s/^pgrepl_admin\.//;
	$bare =~ s/\(.*$//;
	$bare =~ s/"//g;
	for my $role (qw(superuser plain monitor granted))
	{
		my $want = $classes{$class}{$role} // 'unknown';
		my $sql = $want eq 'allow' ? $call : ($real_call // $call);
		my $n = scalar @cases;
		push @cases, { object => $o, role => $role, want => $want, sql => $sql,
			allowed_state => $allowed_state, own_denial => "permission denied for $kind $bare" };
		$script .= "GRANT $privilege ON $grant_on TO regress_granted;\n" if $role eq 'granted';
		$script .= "SET ROLE $role_name{$role};\n\\warn \@\@case $n\n$sql;\n\\warn \@\@sqlstate $n :SQLSTATE\nRESET ROLE;\n";
		$script .= "REVOKE $privilege ON $grant_on FROM regress_granted;\n" if $role eq 'granted';
	}
	# reading is not writing: pg_monitor and a SELECT grant cannot change a table
	if ($kind eq 'table')
	{
		for my $role (qw(monitor granted))
		{
			my $n = scalar @cases;
			push @cases, { object => $o, role => $role, want => 'deny', sql => "DELETE FROM $name WHERE false",
				own_denial => "permission denied for table $bare" };
			$script .= "GRANT SELECT ON $grant_on TO regress_granted;\n" if $role eq 'granted';
			$script .= "SET ROLE $role_name{$role};\n\\warn \@\@case $n\nDELETE FROM $name WHERE false;\n"
			  . "\\warn \@\@sqlstate $n :SQLSTATE\nRESET ROLE;\n";
			$script .= "REVOKE SELECT ON $grant_on FROM regress_granted;\n" if $role eq 'granted';
		}
	}
}

my ($out, $err) = ('', '');
$node->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_stop => 0);
my (%result, $cur);
for my $line (split /\n/, $err)
{
	if ($line =~ /^\@\@case (\d+)$/)
	{
		$cur = { message => '' };
	}
	elsif ($line =~ /^\@\@sqlstate (\d+) (\S+)$/)
	{
		$cur->{sqlstate} = $2;
		$result{$1} = $cur;
	}
	elsif ($line =~ /^(?:psql:\S+ )?ERROR:  (.*)$/ && $cur)
	{
		$cur->{message} = $1;
	}
}

for my $n (0 .. $#cases)
{
	my $c = $cases[$n];
	my $r = $result{$n} // { sqlstate => 'no result', message => '' };
	my $got;
	if ($r->{sqlstate} eq '42501')
	{
		$got = $r->{message} eq $c->{own_denial} ? 'deny' : 'refused';
	}
	elsif ($c->{want} eq 'allow' && $r->{sqlstate} eq $c->{allowed_state})
	{
		$got = 'allow';
	}
	else
	{
		$got = "SQLSTATE $r->{sqlstate}";
	}
	is($got, $c->{want}, "$c->{role}: $c->{sql} ($c->{object})")
	  or diag("SQLSTATE $r->{sqlstate}: $r->{message}");
}

# nothing planted ran (mallory planted $planted), and the planting would
# have matched: called by their bare names with that path, they run
is(planted_runs($node), '', "with the hostile search_path, no planted function or operator ran ($planted)");
like(planted_reached($node, 'evil', $HOSTILE_PATH), qr/^(\d+) of \1; missed: $/,
	'control: every planted object runs when called by its bare name with the hostile search_path');

# the refused calls changed nothing
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN ('regress_priv_victim', 'regress_priv_new', 'regress_priv_sb'))
	       || ' ' || (SELECT count(*) FROM pgrepl_admin.hba_rules)
	       || ' ' || (SELECT count(*) FROM pgrepl_admin.standbys)}),
	'1 0 0', 'the refused calls made or dropped no role, rule or standby');

# hba_status: the parser's messages about lines outside the managed block
# are for those who may read pg_hba_file_rules (superusers), not pg_monitor
$node->safe_psql('postgres', q{SELECT pgrepl_admin.hba_add('10.79.0.0/16', 'regress_priv_victim')});
my $hba_file = $node->safe_psql('postgres', 'SHOW hba_file');
my $hba_text = slurp_file($hba_file);
$node->append_conf('pg_hba.conf', "host all all 10.80.0.0/16 regress-secret-method\n");
my $status = q{SELECT error FROM pgrepl_admin.hba_status WHERE address = '10.79.0.0/16'};
like($node->safe_psql('postgres', $status), qr/invalid authentication method "regress-secret-method"/,
	'a superuser sees why a line outside the managed block is invalid');
my $seen = $node->safe_psql('postgres', "SET ROLE regress_monitor; $status");
unlike($seen, qr/regress-secret-method/, 'pg_monitor does not see the text of a line outside the managed block');
like($seen, qr/a line of pg_hba\.conf outside the managed block is invalid/, 'but does see that the file is broken');
open(my $fh, '>', $hba_file) or die $!;
print $fh $hba_text;
close $fh;

$node->stop;
# --- doc/security.md's privileges table says what this table says: every
# object named in the row of its class, and in no other row (a function
# written with its parentheses, a table or view without)
{
	my $doc = slurp_file("$FindBin::RealBin/../doc/security.md");
	my ($table) = $doc =~ /^\| class \| objects \|[^\n]*\n\|[-|]+\|\n((?:\|[^\n]*\n)+)/m
	  or die 'no privileges table in doc/security.md';
	my %row;
	for my $line (split /\n/, $table)
	{
		my (undef, $class, $objs) = split /\s*\|\s*/, $line;
		$row{$class} = { map { (my $n = $_) =~ s/\(.*/()/; $n => 1 } $objs =~ /`([^`]+)`/g };
		$row{$class}{'(sequences)'} = 1 if $objs =~ /\bsequences\b/;
	}
	my @wrong;
	for my $o (sort keys %objects)
	{
		my ($kind, $name) = $o =~ /^(\w+) pgrepl_admin\.([^(]+)/;
		$name =~ s/"//g;
		$name .= '()' if $kind eq 'function';
		$name = '(sequences)' if $kind eq 'sequence';
		my @in = grep { $row{$_}{$name} } sort keys %row;
		push @wrong, "$name (class $objects{$o}[0]; doc/security.md rows: " . (join(', ', @in) || 'none') . ')'
		  unless @in == 1 && $in[0] eq $objects{$o}[0];
	}
	is(join("\n", @wrong), '', "doc/security.md's privileges table classifies every object as this test does");
}

done_testing();
