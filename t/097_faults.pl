# Faults: kill -9 at random moments of every write path of pgrepl_admin,
# of the backend running the call or of the postmaster alone (its children
# then end by themselves).  The paths: rotate_server_cert, ca_init(replace),
# ca_retire, hba_add, hba_remove, hba_sync (after an edit inside the
# managed block), add_standby with scram and with cert, remove_standby,
# backup_start, backup_stop, backup_abort.  Each path is timed once
# without a fault; each injection then kills after a delay drawn evenly
# over 1.25 times that duration, so that kills land in the key generation,
# the durable renames, the commit, the reload and the TLS self-check alike.
#
# After each injection the server is started again (restart_after_crash is
# off in the tests) and must hold every invariant:
#   - it starts;
#   - ssl is on; the pair in the managed server file matches (openssl, from
#     outside the server) and is the one a TLS handshake is given, and the
#     certificates view agrees; a verify-full connection against
#     ca_certificate() succeeds;
#   - pg_hba.conf parses (no error row in pg_hba_file_rules) and, once the
#     worker's hba_sync task has had its chance, every managed line is
#     exactly a row of hba_rules as the server parses it, and every row has
#     its line, in order;
#   - no backup runs in the server (no full-page images with
#     full_page_writes = off, no backup worker) and the backups view shows
#     none as starting, running or stopping;
#   - every row of standbys has its LOGIN REPLICATION role, its rule and
#     its slot; no test role or rule exists without its standby; a slot that
#     no standby owns (add_standby creates slots at pre-commit, so a kill
#     between that and the commit record leaves one) is shown as
#     orphaned-slot by replication_lag, and is then dropped.
#
# PGREPL_FAULT_ITERATIONS sets the number of injections (default 20; `make
# faults` runs 200), PGREPL_FAULT_SEED the seed.  Injection i draws its
# path, victim and delay from srand(seed + i) alone, so each TAP
# line names what to replay.

use strict;
use warnings;

use Cwd qw(realpath);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep gettimeofday tv_interval);
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $iterations = $ENV{PGREPL_FAULT_ITERATIONS} // 20;
my $seed = $ENV{PGREPL_FAULT_SEED} // time();
note("seed $seed, $iterations injections");
my $began = [gettimeofday];

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $root = "$tmp/root.crt";
# the worker would renew these short-lived certificates at each start; it
# checks the managed block of pg_hba.conf every second; full_page_writes =
# off makes backup mode visible (in_backup_mode)
my $primary = new_primary('primary', conf => "listen_addresses = '127.0.0.1'\n"
	  . "pgrepl_admin.cert_auto_renew = off\n"
	  . "pgrepl_admin.hba_check_interval = '1s'\n"
	  . "pgrepl_admin.primary_host = '127.0.0.1'\n"
	  . "full_page_writes = off\n");
set_hba($primary, 'hostssl all all 127.0.0.1/32 trust');
my $datadir = realpath($primary->data_dir);
my $hba = "$datadir/pg_hba.conf";
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day');
	CREATE ROLE fault_rules LOGIN;
	SELECT pgrepl_admin.hba_add('10.65.0.0/24', 'fault_rules', 'postgres');
	CREATE TABLE probe AS SELECT g AS n FROM generate_series(1, 2000) g;
});

sub query { return $primary->safe_psql('postgres', $_[0]); }

# ---------------------------------------------------------------- the paths

my $standby_max = 4;    # slots: max_replication_slots is 10
my $rule_max = 8;

# a rotation, with an EC key unless told otherwise
sub rotate_sql
{
	my ($key_type) = @_;
	$key_type //= 'ec-p256';
	return "SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], '1 day', '$key_type')";
}

sub retiring_serials
{
	return split /\n/, query("SELECT serial FROM pgrepl_admin.certificates WHERE kind = 'ca-retiring' ORDER BY serial");
}

# a server certificate signed by the current CA, so that every retiring CA
# may be retired
sub rotate_now { query(rotate_sql()); }

sub standby_names
{
	return split /\n/, query('SELECT name FROM pgrepl_admin.standbys ORDER BY created_at, name');
}

# room for one more standby: remove the oldest ones beyond the limit
sub make_room_for_standby
{
	my @names = standby_names();
	query("SELECT pgrepl_admin.remove_standby('$_')") for @names[0 .. $#names - $standby_max + 1];
}

sub start_backup
{
	my ($label) = @_;
	query("SELECT pgrepl_admin.backup_start('$label')");
}

# Each path: given the injection's number, do what it needs first (without
# a fault) and return the statement to kill.
my %paths = (
	# both key types, in turn: an RSA key takes far longer to make
	rotate_server_cert => sub { return rotate_sql($_[0] % 2 ? 'rsa-2048' : 'ec-p256'); },
	ca_replace => sub {
		if (retiring_serials() >= 2)
		{
			rotate_now();
			query("SELECT pgrepl_admin.ca_retire('$_')") for retiring_serials();
		}
		return "SELECT pgrepl_admin.ca_init(replace => true, valid_for => '1 year')";
	},
	ca_retire => sub {
		query("SELECT pgrepl_admin.ca_init(replace => true, valid_for => '1 year')") unless retiring_serials();
		rotate_now();
		my ($serial) = retiring_serials();
		return "SELECT pgrepl_admin.ca_retire('$serial')";
	},
	hba_add => sub {
		my ($i) = @_;
		query("SELECT pgrepl_admin.hba_remove(rule_id) FROM pgrepl_admin.hba_rules WHERE address << '10.66.0.0/16'")
		  if query("SELECT count(*) FROM pgrepl_admin.hba_rules WHERE address << '10.66.0.0/16'") >= $rule_max;
		return "SELECT pgrepl_admin.hba_add('10.66." . ($i % 250) . ".0/24', 'fault_rules', 'postgres')";
	},
	hba_remove => sub {
		my ($i) = @_;
		query("SELECT pgrepl_admin.hba_add('10.67." . ($i % 250) . ".0/24', 'fault_rules', 'postgres')");
		my $id = query("SELECT min(rule_id) FROM pgrepl_admin.hba_rules WHERE address << '10.67.0.0/16'");
		return "SELECT pgrepl_admin.hba_remove($id)";
	},
	hba_sync => sub {
		# drop the block's last rule line, as a hand edit would; the
		# call (or the worker, whichever comes first) puts it back
		my $text = slurp_file($hba);
		$text =~ s/^[^\n]*# pgrepl_admin rule \d+[^\n]*\n(# END pgrepl_admin)/$1/m;
		open(my $fh, '>', $hba) or die $!;
		print $fh $text;
		close($fh);
		return 'SELECT pgrepl_admin.hba_sync()';
	},
	add_standby_scram => sub {
		my ($i) = @_;
		make_room_for_standby();
		return "SELECT standby_name FROM pgrepl_admin.add_standby('sb_$i', '10.77." . ($i % 250) . ".1/32')";
	},
	add_standby_cert => sub {
		my ($i) = @_;
		make_room_for_standby();
		return "SELECT standby_name FROM pgrepl_admin.add_standby('sb_$i', '10.78." . ($i % 250) . ".1/32', auth => 'cert')";
	},
	remove_standby => sub {
		my ($i) = @_;
		my ($name) = standby_names();
		unless (defined $name)
		{
			$name = "sb_$i";
			query("SELECT standby_name FROM pgrepl_admin.add_standby('$name', '10.79." . ($i % 250) . ".1/32')");
		}
		return "SELECT pgrepl_admin.remove_standby('$name')";
	},
	backup_start => sub {
		my ($i) = @_;
		return "SELECT pgrepl_admin.backup_start('fault_$i')";
	},
	backup_stop => sub {
		my ($i) = @_;
		start_backup("fault_$i");
		return "SELECT lsn FROM pgrepl_admin.backup_stop('fault_$i', wait_for_archive => false)";
	},
	backup_abort => sub {
		my ($i) = @_;
		start_backup("fault_$i");
		return "SELECT pgrepl_admin.backup_abort('fault_$i')";
	},
);
my @path_names = sort keys %paths;

# end backups a path left running (after a run without a fault)
sub end_backups
{
	query("SELECT pgrepl_admin.backup_abort(label) FROM pgrepl_admin.backups WHERE state = 'running'");
}

# ---------------------------------------------------------------- processes

sub postmaster_pid
{
	my ($pid) = split /\n/, slurp_file("$datadir/postmaster.pid");
	return $pid;
}

# every process of this server: they all work in the data directory
sub server_processes
{
	my @pids;
	opendir(my $dh, '/proc') or die;
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		my $cwd = readlink("/proc/$pid/cwd");
		push @pids, $pid if defined $cwd && $cwd eq $datadir;
	}
	closedir($dh);
	return @pids;
}

# ---------------------------------------------------------------- invariants

# what differs between the pair in the managed server file and the one a
# TLS handshake is given, seen with the openssl command: '' when nothing
sub tls_pair_problem
{
	my $file = "$datadir/pgrepl_admin/server.pem";
	my ($cert_pub, $key_pub, $file_fp, $served_fp, $err) = ('', '', '', '', '');
	IPC::Run::run([ 'openssl', 'x509', '-noout', '-pubkey', '-in', $file ], '>', \$cert_pub, '2>', \$err);
	IPC::Run::run([ 'openssl', 'pkey', '-pubout', '-in', $file ], '>', \$key_pub, '2>', \$err);
	IPC::Run::run([ 'openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', $file ], '>', \$file_fp, '2>', \$err);
	IPC::Run::run(
		[ 'openssl', 's_client', '-starttls', 'postgres', '-connect', '127.0.0.1:' . $primary->port ],
		'<', \'', '2>', \$err, '|',
		[ 'openssl', 'x509', '-noout', '-fingerprint', '-sha256' ], '>', \$served_fp, '2>', \$err);
	return 'no public key in the file' if $cert_pub eq '';
	return 'the key in the file does not match its certificate' if $cert_pub ne $key_pub;
	return "the server presents $served_fp, the file holds $file_fp" if $served_fp ne $file_fp;
	return '';
}

# what differs between the managed block of pg_hba.conf, as the server
# parses it, and hba_rules: '' when nothing
sub hba_block_problem
{
	my @lines = split /\n/, slurp_file($hba);
	my (@pairs, @ids);
	my ($begins, $ends) = (0, 0);
	for my $n (1 .. @lines)
	{
		$begins++ if $lines[ $n - 1 ] =~ /^# BEGIN pgrepl_admin managed block/;
		$ends++ if $lines[ $n - 1 ] =~ /^# END pgrepl_admin managed block$/;
		next unless $lines[ $n - 1 ] =~ /# pgrepl_admin rule (\d+)/;
		push @pairs, "($n, $1)";
		push @ids, $1;
	}
	return "$begins BEGIN and $ends END markers" unless $begins == 1 && $ends == 1;
	return 'rules out of order: ' . join(',', @ids)
	  unless join(',', @ids) eq join(',', sort { $a <=> $b } @ids);
	my $lines = @pairs ? join(', ', @pairs) : '(NULL::int, NULL::bigint)';
	return query(qq{
		WITH m(line_number, rule_id) AS (SELECT * FROM (VALUES $lines) v(l, r) WHERE r IS NOT NULL)
		SELECT coalesce(string_agg(coalesce(r.rule_id, m.rule_id) || ': ' ||
		         CASE WHEN r.rule_id IS NULL THEN 'a line without a row'
		              WHEN m.rule_id IS NULL THEN 'a row without a line'
		              WHEN f.line_number IS NULL THEN 'line not parsed'
		              WHEN f.error IS NOT NULL THEN f.error
		              ELSE 'the line differs from the row' END, '; '), '')
		FROM m
		FULL JOIN pgrepl_admin.hba_rules r ON r.rule_id = m.rule_id
		LEFT JOIN pg_hba_file_rules f ON f.line_number = m.line_number
		WHERE r.rule_id IS NULL OR m.rule_id IS NULL OR f.line_number IS NULL OR f.error IS NOT NULL
		   OR f.type <> r.connection_type OR f.database <> ARRAY[r.database]
		   OR f.user_name <> ARRAY[r.role_name::text] OR f.address <> host(r.address)
		   OR f.netmask <> host(netmask(r.address)) OR f.auth_method <> r.method});
}

# what in standbys, roles, rules and slots disagrees: '' when nothing
sub standby_problem
{
	return query(q{
		SELECT coalesce(string_agg(problem, '; ' ORDER BY problem), '') FROM (
		  SELECT s.name || ': no LOGIN REPLICATION role' AS problem FROM pgrepl_admin.standbys s
		  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = s.role_name AND rolcanlogin AND rolreplication)
		  UNION ALL
		  SELECT s.name || ': no rule' FROM pgrepl_admin.standbys s
		  WHERE NOT EXISTS (SELECT FROM pgrepl_admin.hba_rules r
		                    WHERE r.role_name = s.role_name AND r.address = s.address AND r.method = s.auth
		                      AND r.database = 'replication' AND r.connection_type = 'hostssl')
		  UNION ALL
		  SELECT s.name || ': its slot is missing' FROM pgrepl_admin.standbys s
		  WHERE s.slot_name IS NOT NULL
		    AND NOT EXISTS (SELECT FROM pg_replication_slots p WHERE p.slot_name = s.slot_name AND p.slot_type = 'physical')
		  UNION ALL
		  SELECT rolname || ': a role without its standby' FROM pg_roles
		  WHERE rolname LIKE 'sb\_%' AND NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.role_name = rolname)
		  UNION ALL
		  SELECT r.rule_id || ': a rule without its standby' FROM pgrepl_admin.hba_rules r
		  WHERE r.role_name LIKE 'sb\_%' AND NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.role_name = r.role_name)
		  UNION ALL
		  -- a kill between the slot's creation and its WAL reservation leaves
		  -- a slot that holds no WAL (restart_lsn NULL): the view shows only
		  -- slots holding WAL, and a retry of add_standby adopts it
		  SELECT p.slot_name || ': a slot of no standby, not shown as orphaned-slot' FROM pg_replication_slots p
		  WHERE NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.slot_name = p.slot_name)
		    AND p.restart_lsn IS NOT NULL
		    AND NOT EXISTS (SELECT FROM pgrepl_admin.replication_lag l
		                    WHERE l.slot_name = p.slot_name AND l.status = 'orphaned-slot')
		) problems});
}

# what the write paths change, to tell whether a kill landed before or
# after the change took effect
my $changed_sql = q{SELECT md5(concat_ws('|',
	(SELECT string_agg(serial, ',' ORDER BY serial) FROM pgrepl_admin.certificates),
	(SELECT string_agg(rule_id::text, ',' ORDER BY rule_id) FROM pgrepl_admin.hba_rules),
	(SELECT string_agg(name, ',' ORDER BY name) FROM pgrepl_admin.standbys),
	(SELECT string_agg(id || state, ',' ORDER BY id) FROM pgrepl_admin.backup_history),
	pg_read_file(current_setting('hba_file'))))};

# ---------------------------------------------------------------- calibration

# how long each path takes without a fault, in ms
my %duration;
for my $path (@path_names)
{
	my $sql = $paths{$path}->(0);
	my $session = $primary->background_psql('postgres');
	my $t0 = [gettimeofday];
	$session->query_safe($sql);
	$duration{$path} = tv_interval($t0) * 1000;
	$session->quit;
	end_backups();
	query("SELECT pgrepl_admin.remove_standby(name) FROM pgrepl_admin.standbys");
}
note(join(', ', map { sprintf('%s %.0f ms', $_, $duration{$_}) } @path_names));

# ---------------------------------------------------------------- injections

my (%by_path, %orphans, %landed, $lingered);
for my $i (1 .. $iterations)
{
	srand($seed + $i);
	my $path = $path_names[ int(rand(@path_names)) ];
	my $victim = rand() < 0.5 ? 'backend' : 'postmaster';
	my $delay = int(rand() * 1.25 * $duration{$path});
	my $tag = "injection $i (seed $seed): $path, kill -9 of the $victim after $delay ms";
	$by_path{"$path/$victim"}++;

	my $sql = $paths{$path}->($i);
	my $before = query($changed_sql);
	my $session = $primary->background_psql('postgres', on_error_stop => 0);
	my $backend = $session->query_safe('SELECT pg_backend_pid()');
	my $pm = postmaster_pid();
	$session->query_until(qr//, "$sql;\n");
	usleep($delay * 1000);
	kill 'KILL', $victim eq 'backend' ? $backend : $pm;
	eval { $session->quit };

	# the crash ends the server (restart_after_crash is off); after the
	# postmaster's death its children notice it and end by themselves
	my @left;
	for (1 .. 600)
	{
		@left = server_processes();
		push @left, $pm if kill(0, $pm);
		last unless @left;
		usleep(100_000);
	}
	if (@left)
	{
		$lingered++;
		diag("$tag: processes still running 60 s later, killed: @left");
		kill 'KILL', @left;
		usleep(500_000);
	}
	$primary->_update_pid(-1);
	my $started = $primary->start(fail_ok => 1);
	ok($started, "$tag: the server starts")
	  or BAIL_OUT('the server does not start: ' . join('', (split /^/m, slurp_file($primary->logfile))[-20 .. -1]));

	$landed{ query($changed_sql) eq $before ? 'before' : 'after' }++;

	# TLS
	is( query(q{SELECT current_setting('ssl') || ' ' ||
	                   bool_and(key_matches) FILTER (WHERE kind IN ('ca', 'server')) || ' ' ||
	                   bool_and(served) FILTER (WHERE kind = 'server')
	            FROM pgrepl_admin.certificates})
		  . ' ' . (tls_pair_problem() || 'pair served'),
		'on true true pair served',
		"$tag: ssl on, the managed pair matches and is the one served");
	write_private_file($root, query('SELECT pgrepl_admin.ca_certificate()') . "\n");
	$primary->connect_ok(tls_connstr($primary, $root), "$tag: a verify-full connection succeeds");

	# pg_hba.conf
	is(query('SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL'),
		'0', "$tag: pg_hba.conf parses");
	my $problem;
	for (1 .. 100)
	{
		$problem = hba_block_problem();
		last if $problem eq '';
		usleep(100_000);
	}
	is($problem, '', "$tag: after the worker's repair, the managed block is hba_rules");

	# backups
	is( in_backup_mode($primary) . ' '
		  . query(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgrepl_admin backup'}) . ' '
		  . query(q{SELECT count(*) FROM pgrepl_admin.backups WHERE state IN ('starting', 'running', 'stopping')}),
		'0 0 0', "$tag: no backup runs in the server, none is shown running");

	# standbys, roles, rules and slots
	is(standby_problem(), '', "$tag: standbys, roles, rules and slots agree");
	for my $slot (split /\n/, query(q{SELECT slot_name FROM pg_replication_slots p
	                                  WHERE NOT EXISTS (SELECT FROM pgrepl_admin.standbys s WHERE s.slot_name = p.slot_name)}))
	{
		$orphans{$path}++;
		query("SELECT pg_drop_replication_slot('$slot')");
	}
}

note('injections by path and victim: ' . join(', ', map { "$_ $by_path{$_}" } sort keys %by_path));
note("the kill landed before the change took effect " . ($landed{before} // 0) . " times, after it " . ($landed{after} // 0) . " times");
note('slots left orphaned (kill between their creation and the commit): '
	  . (%orphans ? join(', ', map { "$_ $orphans{$_}" } sort keys %orphans) : 'none'));
note('injections whose processes outlived the postmaster 60 s: ' . ($lingered // 0));
note(sprintf('%d injections in %.0f s', $iterations, tv_interval($began)));

$primary->stop;
done_testing();
