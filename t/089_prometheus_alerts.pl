# contrib/prometheus_alerts.yml: promtool checks the rules and runs their
# unit tests (contrib/prometheus_alerts_test.yml, where every rule fires and
# stays silent when it should); then a real scrape, end to end: a primary
# with a registered standby, Debian's prometheus-postgres-exporter with
# contrib/postgres_exporter_queries.yaml, and Debian's prometheus scraping
# it every second and evaluating a copy of the rules whose for: are 1 s, all
# on loopback.  Every metric family of the queries that have rows there
# reaches Prometheus and pg_exporter_last_scrape_error is 0; healthy and idle
# (lag_sample_interval raised to a minute, so that nothing is written) for
# longer than lag_warn_time and lag_stall_after (2 s here), no alert is
# pending or firing at any evaluation (ALERTS over the window); the standby
# stopped, PgreplAdminStandbyDisconnected fires in Prometheus' own
# /api/v1/alerts, and resolves when it is started again; a server
# certificate of one day fires the certificate alerts, and a renewal
# resolves them.  Without promtool (or the exporter and Prometheus) the
# test is skipped, unless scripts/test.sh runs it (PGREPL_PACKAGE is set),
# which installs them: then it fails.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(usleep);

my $contrib = "$FindBin::RealBin/../contrib";
my $in_matrix = defined $ENV{PGREPL_PACKAGE};

# The END block below stops the exporter and Prometheus: also when the test
# is interrupted
$SIG{TERM} = $SIG{INT} = sub { die "interrupted\n" };

my $rules_text = slurp_file("$contrib/prometheus_alerts.yml");
my @alerts = $rules_text =~ /^\s+- alert: (\w+)$/mg;
cmp_ok(scalar @alerts, '>=', 20, 'prometheus_alerts.yml has the alerts');

# --- every runbook_url names a section that exists: the anchors GitHub
# makes of the headings (lower case, punctuation but - and _ dropped,
# spaces to -)
my %anchors;
for my $doc ('doc/runbooks.md', 'doc/monitoring.md')
{
	for my $heading (slurp_file("$FindBin::RealBin/../$doc") =~ /^#+ (.+?)\s*$/mg)
	{
		(my $anchor = lc $heading) =~ s/[^\w\- ]//g;
		$anchor =~ s/ /-/g;
		$anchors{"$doc#$anchor"} = 1;
	}
}
my @urls = $rules_text =~ /^\s+runbook_url: "([^"]+)"$/mg;
is(scalar @urls, scalar @alerts, 'every alert has a runbook_url');
for my $url (sort { $a cmp $b } keys %{ { map { $_ => 1 } @urls } })
{
	ok($anchors{$url}, "runbook_url $url names an existing section");
}

my $promtool = find_program('promtool');
if (!$promtool)
{
	my $why = 'promtool is not installed (Debian: apt-get install prometheus; scripts/install-deps.sh installs it)';
	BAIL_OUT("the test matrix installs promtool, yet $why") if $in_matrix;
	diag("skipping promtool and the scrape: $why");
	done_testing();
	exit 0;
}

# --- promtool: the shipped rules and their unit tests
my ($out, $err);
my $ok = IPC::Run::run([ $promtool, 'check', 'rules', "$contrib/prometheus_alerts.yml" ], '>', \$out, '2>', \$err);
ok($ok, 'promtool check rules passes') or diag("$out$err");
like($out . $err, qr/SUCCESS: ${\ scalar @alerts} rules found/, 'promtool finds every rule');

my $tests_text = slurp_file("$contrib/prometheus_alerts_test.yml");
for my $alert (@alerts)
{
	like($tests_text, qr/alertname: \Q$alert\E\n\s+exp_alerts:\n\s+- exp_labels:/,
		"the unit tests see $alert fire");
	like($tests_text, qr/alertname: \Q$alert\E\n\s+exp_alerts: \[\]/,
		"the unit tests see $alert silent");
}
$ok = IPC::Run::run([ $promtool, 'test', 'rules', 'prometheus_alerts_test.yml' ],
	'>', \$out, '2>', \$err, init => sub { chdir $contrib or die "chdir $contrib: $!" });
ok($ok, 'promtool test rules passes') or diag("$out$err");
like($out . $err, qr/SUCCESS/, 'promtool reports success');

# --- the real thing
my $prometheus = find_program('prometheus');
my $exporter = find_program('prometheus-postgres-exporter');
if (!$prometheus || !$exporter)
{
	my $why = 'prometheus or prometheus-postgres-exporter is not installed (scripts/install-deps.sh installs them)';
	BAIL_OUT("the test matrix installs them, yet $why") if $in_matrix;
	diag("skipping the end-to-end scrape: $why");
	done_testing();
	exit 0;
}

my $primary = new_primary('primary', conf => q{
listen_addresses = '127.0.0.1'
fsync = on
pgrepl_admin.lag_sample_interval = '1s'
pgrepl_admin.lag_warn_time = '2s'
pgrepl_admin.lag_stall_after = '2s'
pgrepl_admin.cert_auto_renew = off
});
$primary->safe_psql('postgres', q{
	SELECT pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1']);
	SELECT pg_create_physical_replication_slot('standby1', true);
	INSERT INTO pgrepl_admin.standbys (name, role_name, address, auth, slot_name)
	VALUES ('standby1', 'postgres', '127.0.0.1/32', 'scram-sha-256', 'standby1');
	CREATE ROLE exporter LOGIN IN ROLE pg_monitor;
	ALTER ROLE exporter SET jit = off;
});
my $standby = new_standby($primary, 'standby1', 'standby1');

my $dir = PostgreSQL::Test::Utils::tempdir();
# started here, ended here, also when the test dies
my @harnesses;
END
{
	for my $h (@harnesses)
	{
		eval { $h->kill_kill(grace => 5) };
	}
}
my ($exporter_harness, $exporter_port) = start_exporter($primary, $exporter, $dir);
push @harnesses, $exporter_harness;
my $prometheus_port = PostgreSQL::Test::Cluster::get_free_port();

# the rules as shipped, but for: 1s, so that firing takes seconds
(my $test_rules = $rules_text) =~ s/^(\s+for:) \S+$/$1 1s/mg;
open(my $fh, '>', "$dir/rules.yml") or die $!;
print $fh $test_rules;
close($fh);
open($fh, '>', "$dir/prometheus.yml") or die $!;
print $fh <<"EOF";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $dir/rules.yml
scrape_configs:
  - job_name: pgrepl_admin
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
EOF
close($fh);

push @harnesses, IPC::Run::start(
	[ $prometheus, "--config.file=$dir/prometheus.yml", "--storage.tsdb.path=$dir/data",
		"--web.listen-address=127.0.0.1:$prometheus_port" ],
	'<', \undef, '>>', "$dir/prometheus.log", '2>&1');

my $http = HTTP::Tiny->new(timeout => 5);
my $api = "http://127.0.0.1:$prometheus_port/api/v1";

# api($path): the data of a Prometheus API answer, or undef
sub api
{
	my ($path) = @_;
	my $res = $http->get("$api/$path");
	return undef unless $res->{success};
	my $json = eval { decode_json($res->{content}) };
	return $json && $json->{status} eq 'success' ? $json->{data} : undef;
}

# poll($what, $sub): call $sub every 200 ms until it returns true, for at most
# the framework's timeout; fails the test with the logs when it never does
sub poll
{
	my ($what, $sub) = @_;
	my $tries = $PostgreSQL::Test::Utils::timeout_default * 5;
	while ($tries-- > 0)
	{
		my $r = $sub->();
		return $r if $r;
		usleep(200_000);
	}
	diag("gave up waiting for $what");
	diag("exporter log:\n" . slurp_file("$dir/exporter.log"));
	diag("prometheus log (tail):\n" . substr(slurp_file("$dir/prometheus.log"), -3000));
	diag('alerts: ' . encode_json(api('alerts') // {}));
	return undef;
}

# alerts(): Prometheus' active alerts of pgrepl_admin (pending and firing)
sub alerts
{
	my $data = api('alerts') or return undef;
	return [ grep { $_->{labels}{alertname} =~ /^PgreplAdmin/ } @{ $data->{alerts} } ];
}

# evaluations($n): wait until the rule group has been evaluated $n more times
sub evaluations
{
	my ($n) = @_;
	my $last = '';
	for (1 .. $n)
	{
		poll('a rule evaluation', sub {
			my $d = api('rules') or return 0;
			my $t = $d->{groups}[0]{lastEvaluation} // '';
			return 0 if $t eq $last;
			$last = $t;
			return 1;
		}) or return 0;
	}
	return 1;
}

# alert_state($name, %labels): 'pending', 'firing', or '' when not active;
# dies when Prometheus does not answer (not a silent "not active")
sub alert_state
{
	my ($name, %labels) = @_;
	my $list = alerts() // die "Prometheus' /api/v1/alerts did not answer\n";
	for my $a (@$list)
	{
		next unless $a->{labels}{alertname} eq $name;
		next if grep { ($a->{labels}{$_} // '') ne $labels{$_} } keys %labels;
		return $a->{state};
	}
	return '';
}

ok(poll('the loaded rules', sub {
	my $d = api('rules') or return 0;
	my @names = map { $_->{name} } map { @{ $_->{rules} } } @{ $d->{groups} };
	return @names == @alerts;
}), 'Prometheus loaded every rule');
ok(poll('the standby streaming in Prometheus', sub {
	my $d = api('query?query=' . 'pgrepl_admin_replication_status_info%7Bstandby%3D%22standby1%22%2Cstatus%3D%22streaming%22%7D')
	  or return 0;
	return @{ $d->{result} } == 1;
}), 'Prometheus scrapes the exporter: standby1 streaming');

# every metric family of the queries that have rows here (t/092 sees the
# others: a backup held, a managed rule, a synchronous standby), and no
# query failing
my (@families, $family_query, $family_column);
for my $line (split /\n/, slurp_file("$contrib/postgres_exporter_queries.yaml"))
{
	$family_query = $1 if $line =~ /^(\w+):\s*$/;
	$family_column = $1 if $line =~ /^    - (\w+):\s*$/;
	push @families, "${family_query}_$family_column" if $line =~ /^        usage: "GAUGE"/;
}
my @expected = grep { /^pgrepl_admin_(replication|certificate|check|settings|synchronous)_/ && !/^pgrepl_admin_synchronous_standby_/ } @families;
ok(poll('every metric family in Prometheus', sub {
	my $d = api('query?query=' . 'count%20by%20(__name__)(%7B__name__%3D~%22pgrepl_admin_.%2B%22%7D)') or return 0;
	my %got = map { $_->{metric}{__name__} => 1 } @{ $d->{result} };
	return !grep { !$got{$_} } @expected;
}), 'Prometheus has every metric family: ' . scalar(@expected) . ' of the replication, certificate, check, settings and synchronous queries');
my $scrape_error = api('query?query=pg_exporter_last_scrape_error') // die "no answer\n";
is(join(',', map { $_->{value}[1] } @{ $scrape_error->{result} }), '0', 'pg_exporter_last_scrape_error is 0: no query fails');

# --- healthy and idle: nothing pending, nothing firing, for longer than
# lag_warn_time and lag_stall_after (2 s here) and the for: (1 s), so that
# a rule that fires on an idle primary's time lag, or a standby taken for
# stalled while nothing is written, would have fired.  The lag_sample task
# writes lag_history every lag_sample_interval (1 s above): raised to a
# minute for the window, so that the primary really writes nothing.  Every
# evaluation of the window is asked (ALERTS over it), not one snapshot, so
# an alert pending for a moment is seen too.
$primary->safe_psql('postgres', q{
	ALTER SYSTEM SET pgrepl_admin.lag_sample_interval = '60s';
	SELECT pg_reload_conf();
});
# the last sample taken at the old interval has been scraped once over
ok(evaluations(2), 'lag_sample_interval raised to 60 s');
my $window_start = time;
ok(evaluations(10), 'the rules were evaluated ten more times (10 s: past lag_warn_time and lag_stall_after)');
my $window = time - $window_start + 1;
my $over_window = api('query?' . $http->www_form_urlencode(
	{ query => qq{count_over_time(ALERTS{alertname=~"PgreplAdmin.+"}[${window}s])} }));
is_deeply([ map { "$_->{metric}{alertname} $_->{metric}{alertstate}" } @{ $over_window ? $over_window->{result} : [ { metric => { alertname => 'no answer' } } ] } ], [],
	"a healthy idle primary with a caught-up standby: no alert pending or firing at any evaluation of the last ${window} s");
my $active = alerts();
is_deeply([ map { "$_->{labels}{alertname} $_->{state}" } @{ $active // [ 'no answer' ] } ], [],
	'and none active now');
$primary->safe_psql('postgres', q{
	ALTER SYSTEM RESET pgrepl_admin.lag_sample_interval;
	SELECT pg_reload_conf();
});

# --- the standby stops: disconnected, firing; started again: resolved
$standby->stop;
ok(poll('PgreplAdminStandbyDisconnected firing',
		sub { alert_state('PgreplAdminStandbyDisconnected', standby => 'standby1', slot => 'standby1') eq 'firing' }),
	'the standby stopped: PgreplAdminStandbyDisconnected fires for standby1');
my ($fired) = grep { $_->{labels}{alertname} eq 'PgreplAdminStandbyDisconnected' } @{ alerts() // [] };
like($fired->{annotations}{summary} // '', qr/^Standby standby1 of 127\.0\.0\.1:$exporter_port is disconnected$/,
	'its summary names the standby and the instance');
is($fired->{labels}{severity} // '', 'warning', 'it is routed as a warning');
$standby->start;
ok(poll('PgreplAdminStandbyDisconnected resolved',
		sub { alert_state('PgreplAdminStandbyDisconnected') eq '' }),
	'the standby started again: the alert resolves');
ok(poll('the rule inactive', sub {
	my $d = api('rules') or return 0;
	my ($r) = grep { $_->{name} eq 'PgreplAdminStandbyDisconnected' } map { @{ $_->{rules} } } @{ $d->{groups} };
	return $r && $r->{state} eq 'inactive';
}), 'the rule is inactive in /api/v1/rules');

# --- a certificate of one day: the renewal window is passed (the worker
# does not renew here, cert_auto_renew is off) and fewer than 7 days are left
my $serial = $primary->safe_psql('postgres',
	q{SELECT serial FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'], valid_for => '1 day')});
for my $name ('PgreplAdminServerCertificateNotRenewed', 'PgreplAdminServerCertificateExpiring')
{
	ok(poll("$name firing", sub { alert_state($name, kind => 'server', serial => $serial) eq 'firing' }),
		"a server certificate of one day: $name fires for serial $serial");
}
my $renewed = $primary->safe_psql('postgres',
	q{SELECT serial FROM pgrepl_admin.rotate_server_cert(ARRAY['localhost', '127.0.0.1'])});
for my $name ('PgreplAdminServerCertificateNotRenewed', 'PgreplAdminServerCertificateExpiring')
{
	ok(poll("$name resolved", sub { alert_state($name) eq '' }),
		"renewed for 90 days (serial $renewed): $name resolves");
}

# and still nothing else (the standby streams again, the checks are ok)
$primary->wait_for_catchup($standby, 'replay');
ok(poll('no alert', sub { my $a = alerts(); return $a && !@$a; }), 'after all that, no alert is active');

for my $h (@harnesses)
{
	$h->kill_kill(grace => 5);
}
@harnesses = ();
$standby->stop;
$primary->stop;
done_testing();
