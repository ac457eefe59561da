# PgreplAdminTest: helpers shared by pgrepl_admin's TAP tests.
#
# They build real clusters with PostgreSQL::Test::Cluster: a primary with
# pgrepl_admin preloaded and created, and streaming standbys taken from it.

package PgreplAdminTest;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Find;
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(strace_attach new_primary new_standby provisioned_standby task_status
  wait_for_task write_private_file tls_connstr set_hba in_backup_mode
  store_key_files files_holding_key failing_remote_commit tls_primary
  commit_or_timeout used_sql_names plant_hostile_objects planted_runs
  planted_reached $HOSTILE_PATH find_program start_exporter);

# new_primary($name, %opts): a started primary that allows streaming, with
# pgrepl_admin in shared_preload_libraries.  Options:
#   extension => 0     do not run CREATE EXTENSION
#   streaming => 0     initdb's settings as PostgreSQL::Test::Cluster leaves
#                      them without streaming (wal_level minimal,
#                      max_wal_senders 0, fsync off)
#   conf      => text  more postgresql.conf lines
#   node      => node  a node made but not initialized, e.g. on a network
#                      host (PgreplNetns's node()), instead of a new one
sub new_primary
{
	my ($name, %opts) = @_;
	my $node = $opts{node} // PostgreSQL::Test::Cluster->new($name);

	$node->init(allows_streaming => $opts{streaming} // 1);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pgrepl_admin'\n" . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pgrepl_admin')
	  unless defined $opts{extension} && !$opts{extension};
	return $node;
}

# strace_attach($pid, @options): strace attached to process $pid with
# @options (e.g. -e inject=...), its output thrown away; returns the
# IPC::Run handle (end it with ->signal('INT') and ->finish), or undef and
# why when strace is not installed or may not trace the process (yama's
# ptrace_scope, a container without CAP_SYS_PTRACE): the caller skips.
sub strace_attach
{
	my ($pid, @options) = @_;
	my ($out, $err) = ('', '');

	my $strace = find_program('strace');

	return (undef, 'strace is not installed') unless defined $strace;
	require IPC::Run;
	my $h = IPC::Run::start([ $strace, '-p', $pid, @options, '-o', '/dev/null' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$h->pump while $h->pumpable && $err !~ /attached/;
	return ($h, undef) if $err =~ /attached/;
	$h->finish;
	chomp $err;
	return (undef, "strace -p $pid was refused: $err");
}

# new_standby($primary, $name, $slot): a hot standby streaming from $primary
# (from the physical slot $slot when given, which must exist), made
# from a fresh base backup, started and caught up.
sub new_standby
{
	my ($primary, $name, $slot) = @_;
	my $backup = "${name}_base";

	$primary->backup($backup);
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->append_conf('postgresql.conf', "primary_slot_name = '$slot'\n") if defined $slot;
	$standby->start;
	$primary->wait_for_catchup($standby, 'replay');
	return $standby;
}

# provisioned_standby($primary, $name, $conninfo, $slot, $conf): a standby
# of $primary made from a fresh base backup, with $conninfo as its
# primary_conninfo, $slot as its slot and $conf appended to its
# postgresql.conf; started, and seen streaming over TLS from the slot as
# role $name (add_standby()'s default role).
sub provisioned_standby
{
	my ($primary, $name, $conninfo, $slot, $conf) = @_;

	$primary->backup("${name}_base");
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init_from_backup($primary, "${name}_base", has_streaming => 1);
	$node->append_conf('postgresql.conf',
		"primary_conninfo = '$conninfo'\nprimary_slot_name = '$slot'\n" . ($conf // ''));
	$node->start;
	$primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
		 JOIN pg_replication_slots sl ON sl.active_pid = r.pid
		 WHERE r.application_name = '$name' AND r.state = 'streaming' AND s.ssl
		   AND r.usename = '$name' AND sl.slot_name = '$slot'")
	  or die "$name does not stream";
	return $node;
}

# task_status($node, $task, $columns): the given worker_status columns of
# one task, '|'-separated as psql prints them.
sub task_status
{
	my ($node, $task, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM pgrepl_admin.worker_status WHERE task = '$task'");
}

# wait_for_task($node, $task, $condition): wait until $condition (SQL over
# worker_status's columns) holds for the task; fails the test if it never does.
sub wait_for_task
{
	my ($node, $task, $condition) = @_;
	my $ok = $node->poll_query_until('postgres',
		"SELECT $condition FROM pgrepl_admin.worker_status WHERE task = '$task'");
	ok($ok, $node->name . ": task $task reaches $condition")
	  or diag(task_status($node, $task, '*'));
	return $ok;
}

# write_private_file($path, $content): a file only its owner may read, as
# libpq wants for client keys.
sub write_private_file
{
	my ($path, $content) = @_;
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh $content;
	close($fh);
	chmod(0600, $path) or die "could not chmod $path: $!";
	return $path;
}

# tls_connstr($node, $rootcert, %extra): a libpq connection string to the
# node over TCP on 127.0.0.1 with sslmode=verify-full against $rootcert.
sub tls_connstr
{
	my ($node, $rootcert, %extra) = @_;
	my $connstr = 'host=127.0.0.1 port=' . $node->port
	  . " dbname=postgres sslmode=verify-full sslrootcert=$rootcert";
	$connstr .= " $_=$extra{$_}" for sort keys %extra;
	return $connstr;
}

# tls_primary($name, $root, $conf): a primary listening on 127.0.0.1 with
# pgrepl_admin.primary_host 127.0.0.1, a managed certificate covering it
# and its CA certificate written to $root (for standbys' sslrootcert); $conf
# is appended to postgresql.conf.
sub tls_primary
{
	my ($name, $root, $conf) = @_;
	my $node = new_primary($name, conf => "listen_addresses = '127.0.0.1'\n"
		  . "pgrepl_admin.primary_host = '127.0.0.1'\n" . ($conf // ''));
	set_hba($node);
	$node->safe_psql('postgres', "SELECT pgrepl_admin.rotate_server_cert(ARRAY['127.0.0.1'], '1 day')");
	write_private_file($root, $node->safe_psql('postgres', 'SELECT pgrepl_admin.ca_certificate()') . "\n");
	return $node;
}

# commit_or_timeout($node, $sql): what psql printed for $sql, a statement
# that would wait for ever in SyncRep if commits waited for a standby that
# never confirms, or 'timed out' when it has not returned after 60 s (the
# harness's limit, not a measure of speed).
sub commit_or_timeout
{
	my ($node, $sql) = @_;
	my ($out, $timed_out) = ('', 0);
	$node->psql('postgres', $sql, stdout => \$out, timeout => 60, timed_out => \$timed_out);
	return $timed_out ? 'timed out' : $out;
}

# set_hba($node, @lines): replace pg_hba.conf with local trust lines for the
# test framework followed by @lines, and reload.
sub set_hba
{
	my ($node, @lines) = @_;
	open(my $fh, '>', $node->data_dir . '/pg_hba.conf') or die $!;
	print $fh join("\n", 'local all all trust', 'local replication all trust', @lines), "\n";
	close($fh);
	$node->reload;
	return;
}

# in_backup_mode($node): whether the server is in backup mode, which a
# running backup puts it in whoever started it.  With full_page_writes =
# off, only backup mode makes the server write full-page images: after a
# checkpoint, does updating every row of the table probe (which the test
# creates with a few pages) write any?
sub in_backup_mode
{
	my ($node) = @_;
	$node->safe_psql('postgres', 'CHECKPOINT');
	my $plan = $node->safe_psql('postgres',
		'EXPLAIN (ANALYZE, WAL, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE probe SET n = n + 1');
	my ($fpi) = $plan =~ /fpi=(\d+)/;
	return ($fpi // 0) > 0 ? 1 : 0;
}

# store_key_files($datadir): the files of $datadir/pgrepl_admin that hold a
# PEM private key, sorted, comma-separated ('' when none).
sub store_key_files
{
	my ($datadir) = @_;
	my $store = "$datadir/pgrepl_admin";
	opendir(my $dh, $store) or return '';
	my @found = sort grep { -f "$store/$_" && slurp_file("$store/$_") =~ /PRIVATE KEY-----/ } readdir($dh);
	closedir($dh);
	return join(',', @found);
}

# files_holding_key($dir, $pem): the files anywhere under $dir (relative
# paths, sorted, comma-separated; '' when none) that hold a line of the
# base64 body of the PEM key $pem, so a copy of the key in any form of PEM.
sub files_holding_key
{
	my ($dir, $pem) = @_;
	my @lines = grep { length($_) >= 32 } $pem =~ /^([A-Za-z0-9+\/=]+)$/mg;
	die 'no base64 body in the key' unless @lines;
	my $re = join('|', map { quotemeta } @lines);
	my @found;
	File::Find::find(
		{
			no_chdir => 1,
			wanted => sub {
				return unless -f $_ && !-l $_;
				push @found, File::Spec->abs2rel($_, $dir) if slurp_file($_) =~ /$re/;
			}
		},
		$dir);
	return join(',', sort @found);
}


# failing_remote_commit($node): a foreign table fdw_remote (postgres_fdw, on
# $node itself) whose remote commit fails once a row is inserted, since
# fdw_target's deferred unique constraint already holds that row.
# postgres_fdw's pre-commit step runs after pgrepl_admin's, so a transaction
# that writes to fdw_remote fails after pgrepl_admin did its pre-commit work.
# Read fdw_remote once in a session before the transaction: that registers
# postgres_fdw's callback first.
sub failing_remote_commit
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION postgres_fdw;
		CREATE TABLE fdw_target (k int UNIQUE DEFERRABLE INITIALLY DEFERRED);
		INSERT INTO fdw_target VALUES (1);
	} . "CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '" . $node->host
		  . "', port '" . $node->port . "', dbname 'postgres');" . q{
		CREATE USER MAPPING FOR CURRENT_USER SERVER loopback;
		CREATE FOREIGN TABLE fdw_remote (k int) SERVER loopback OPTIONS (table_name 'fdw_target');
	});
	return;
}

# --- planted objects (issue 22): names the extension's code uses, planted
# by an unprivileged role where a caller's search_path would find them

# the search_path of the hostile callers: a schema of mallory's first, then
# pg_catalog, then public (where mallory may create, as in every database
# upgraded from 14 or earlier)
our $HOSTILE_PATH = 'evil, pg_catalog, public';

# used_sql_names(): the function names and operator symbols the extension's
# code may call, as two array refs: read from the install and update
# scripts, the SQL strings of the C sources and the clone command.  A word
# followed by "(" is a candidate function name, a run of operator
# characters a candidate operator (LIKE stands for ~~, IN and ANY for =);
# plant_hostile_objects() keeps those pg_catalog has.  A name added to the
# code later is found the same way.
sub used_sql_names
{
	my $root = File::Spec->catdir(dirname(__FILE__), '..');
	my @texts;
	for my $sql (glob("$root/pgrepl_admin--*.sql"))
	{
		(my $t = PostgreSQL::Test::Utils::slurp_file($sql)) =~ s/--[^\n]*//g;
		push @texts, $t;
	}
	for my $c (glob("$root/src/*.c"), glob("$root/pgrepl_admin.c"))
	{
		my $t = PostgreSQL::Test::Utils::slurp_file($c);
		$t =~ s{/\*.*?\*/}{}gs;
		# adjacent string literals make one statement
		push @texts, join(' ', $t =~ /"((?:[^"\\\n]|\\.)*)"/g);
	}
	my $clone = PostgreSQL::Test::Utils::slurp_file("$root/scripts/pgrepl_clone_standby");
	push @texts, grep { /\b(?:SELECT|SET|DO|interval)\b/ } $clone =~ /"((?:[^"\\]|\\.)*)"/gs;
	my (%functions, %operators);
	for my $t (@texts)
	{
		$functions{ lc $1 } = 1 while $t =~ /\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;
		$operators{$1} = 1 while $t =~ m{(?<![-+*/<>=~!@#%^&|`?])([-+*/<>=~!@#%^&|`?]+)(?![-+*/<>=~!@#%^&|`?])}g;
		$operators{'~~'} = 1 if $t =~ /\bI?LIKE\b/i;
		$operators{'='} = 1 if $t =~ /\b(?:IN|ANY|DISTINCT)\b/i;
	}
	delete $operators{$_} for grep { length($_) > 3 || /^--/ } keys %operators;
	return ([ sort keys %functions ], [ sort keys %operators ]);
}

# plant_hostile_objects($node): as the role mallory (made here, LOGIN, not
# superuser, granted CREATE on public and owner of the schema evil), plant
# in public and in evil, for every name used_sql_names() found that
# pg_catalog has, better-matching objects: for each built-in function of
# that name, a copy with its argument types, one with each polymorphic or
# "any" argument made each common type, and one with each argument made
# each common type that casts to it implicitly (the call would then match
# the copy exactly); for each operator, one for each pair of common types
# the built-in operators accept.  Each returns what the built-in returns
# and, when run, calls public.planted_ran(), which logs a WARNING
# "pgrepl-planted-ran", inserts a row into public.planted_log (every role
# may) and, as a superuser, makes mallory superuser.  Returns the numbers
# of functions and operators planted.
sub plant_hostile_objects
{
	my ($node) = @_;
	my ($functions, $operators) = used_sql_names();
	my $array = sub { 'ARRAY[' . join(',', map { "'" . s/'/''/gr . "'" } @{ $_[0] }) . ']::text[]' };
	$node->safe_psql('postgres', q{
		SET search_path = pg_catalog, pg_temp;
		CREATE ROLE mallory LOGIN;
		GRANT CREATE ON SCHEMA public TO mallory;
		CREATE SCHEMA evil AUTHORIZATION mallory;
		GRANT USAGE ON SCHEMA evil TO PUBLIC;
		CREATE TABLE public.planted_log (what text, run_as name, application_name text, backend_type text);
		GRANT SELECT, INSERT ON public.planted_log TO PUBLIC;
		CREATE TABLE public.planted_objects (what text PRIMARY KEY, probe text NOT NULL);
		GRANT SELECT, INSERT ON public.planted_objects TO mallory;
		SET ROLE mallory;
		CREATE FUNCTION public.planted_ran(what text) RETURNS void
		LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
		BEGIN
			RAISE WARNING 'pgrepl-planted-ran: % as %', what, current_user;
			BEGIN
				INSERT INTO public.planted_log
				SELECT what, current_user, current_setting('application_name'),
				       (SELECT a.backend_type FROM pg_stat_activity a WHERE a.pid = pg_backend_pid());
			EXCEPTION WHEN OTHERS THEN NULL;	-- (a standby cannot write)
			END;
			IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
				BEGIN
					EXECUTE 'ALTER ROLE mallory SUPERUSER';
				EXCEPTION WHEN OTHERS THEN NULL;
				END;
			END IF;
		END $$;
		GRANT EXECUTE ON FUNCTION public.planted_ran(text) TO PUBLIC;
	});
	my $counts = $node->safe_psql('postgres', q{
		SET search_path = pg_catalog, pg_temp;
		SET ROLE mallory;
		SET client_min_messages = error;
		CREATE TEMP TABLE planted (what text);
		DO $plant$
		DECLARE
			types text[] := ARRAY['text', 'name', 'numeric', 'bigint', 'integer', 'smallint',
				'double precision', 'pg_lsn', 'interval', 'timestamp with time zone', 'boolean',
				'inet', 'cidr', 'jsonb', 'bytea', 'text[]', 'oid', '"char"'];
			poly text[] := ARRAY['anyelement', 'anynonarray', 'anycompatible',
				'anycompatiblenonarray', '"any"'];
			polyarray text[] := ARRAY['anyarray', 'anycompatiblearray'];
			fnames text[] := } . $array->($functions) . q{;
			ops text[] := } . $array->($operators) . q{;
			op text; l text; r text; rt text; t text; sch text; fn text; body text;
			p record; args text[]; a text[]; ret text; i int; j int; n int := 0;
		BEGIN
			FOREACH op IN ARRAY ops LOOP
				FOREACH l IN ARRAY types LOOP
					FOREACH r IN ARRAY types LOOP
						BEGIN
							EXECUTE format('SELECT pg_typeof(NULL::%s %s NULL::%s)::text', l, op, r) INTO rt;
						EXCEPTION WHEN OTHERS THEN
							CONTINUE;
						END;
						FOREACH sch IN ARRAY ARRAY['public', 'evil'] LOOP
							n := n + 1;
							fn := format('%I.planted_op_%s', sch, n);
							EXECUTE format('CREATE FUNCTION %s(%s, %s) RETURNS %s LANGUAGE plpgsql '
								'SET search_path = pg_catalog, pg_temp '
								'AS $b$BEGIN PERFORM public.planted_ran(%L); RETURN NULL; END$b$',
								fn, l, r, rt, format('operator %s.%s(%s, %s)', sch, op, l, r));
							EXECUTE format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s)',
								sch, op, l, r, fn);
							INSERT INTO planted VALUES ('operator');
							INSERT INTO public.planted_objects
							VALUES (format('operator %s.%s(%s, %s)', sch, op, l, r),
							        format('NULL::%s %s NULL::%s', l, op, r));
						END LOOP;
					END LOOP;
				END LOOP;
			END LOOP;

			FOR p IN
				SELECT pr.proname, pr.provariadic <> 0 AS variadic, pr.proretset,
				       pg_catalog.format_type(pr.prorettype, NULL) AS rettype,
				       ARRAY(SELECT pg_catalog.format_type(x, NULL)
				             FROM pg_catalog.unnest(pr.proargtypes) WITH ORDINALITY u(x, o) ORDER BY o) AS argtypes
				FROM pg_catalog.pg_proc pr
				WHERE pr.pronamespace = 'pg_catalog'::regnamespace AND pr.prokind = 'f'
				  AND pr.proname = ANY (fnames) AND pr.pronargs <= 4
			LOOP
				-- the variants: the copy, the polymorphic ones made each
				-- type, each argument made each type that casts to it
				FOR i IN 0 .. pg_catalog.array_length(types, 1) * (pg_catalog.cardinality(p.argtypes) + 1) LOOP
					args := p.argtypes;
					ret := p.rettype;
					IF i > 0 THEN
						t := types[(i - 1) % pg_catalog.array_length(types, 1) + 1];
						IF (i - 1) / pg_catalog.array_length(types, 1) = 0 THEN
							-- every polymorphic argument made t
							IF NOT (args && (poly || polyarray)) THEN CONTINUE; END IF;
							FOR j IN 1 .. pg_catalog.cardinality(args) LOOP
								IF args[j] = ANY (poly) THEN
									args[j] := CASE WHEN p.variadic AND j = pg_catalog.cardinality(args) THEN t || '[]' ELSE t END;
								ELSIF args[j] = ANY (polyarray) THEN
									args[j] := t || '[]';
								END IF;
							END LOOP;
							IF ret = ANY (poly) THEN ret := t;
							ELSIF ret = ANY (polyarray) THEN ret := t || '[]';
							END IF;
						ELSE
							-- argument j made t, when t casts to it implicitly
							j := (i - 1) / pg_catalog.array_length(types, 1);
							IF args[j] = t OR NOT EXISTS (
								SELECT FROM pg_catalog.pg_cast c
								WHERE c.castsource = t::regtype AND c.casttarget = args[j]::regtype
								  AND c.castcontext = 'i') THEN
								CONTINUE;
							END IF;
							args[j] := t;
						END IF;
					END IF;
					-- (what is still polymorphic, anyrange and the like, no call can name)
					IF pg_catalog.array_to_string(args || ret, ',') ~ '(^|,)(VARIADIC )?"?any'
					   OR args && ARRAY['internal', 'cstring', '"any"[]'] OR ret IN ('internal', 'cstring', 'record', 'trigger', 'event_trigger', 'language_handler') THEN
						CONTINUE;
					END IF;
					a := args;
					IF p.variadic THEN
						a[pg_catalog.cardinality(a)] := 'VARIADIC ' || a[pg_catalog.cardinality(a)];
					END IF;
					body := format('BEGIN PERFORM public.planted_ran(%L); RETURN%s; END',
						format('function %%s.%s(%s)', p.proname, pg_catalog.array_to_string(args, ', ')),
						CASE WHEN p.proretset THEN '' WHEN ret = 'void' THEN '' ELSE ' NULL' END);
					FOREACH sch IN ARRAY ARRAY['public', 'evil'] LOOP
						BEGIN
							EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s%s LANGUAGE plpgsql '
								'SET search_path = pg_catalog, pg_temp AS %L',
								sch, p.proname, pg_catalog.array_to_string(a, ', '),
								CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, ret,
								format(body, sch));
							INSERT INTO planted VALUES ('function');
							INSERT INTO public.planted_objects
							VALUES (format(format('function %%s.%s(%s)', p.proname, pg_catalog.array_to_string(args, ', ')), sch),
							        format('%I(%s)', p.proname,
							               (SELECT pg_catalog.string_agg(pg_catalog.regexp_replace(x, '^(VARIADIC )?', '\1NULL::'), ', ' ORDER BY o)
							                FROM pg_catalog.unnest(a) WITH ORDINALITY u(x, o))));
						EXCEPTION WHEN duplicate_function THEN
							NULL;
						END;
					END LOOP;
				END LOOP;
			END LOOP;
		END
		$plant$;
		SELECT string_agg(what || ' ' || n, ', ' ORDER BY what) FROM (SELECT what, count(*) AS n FROM planted GROUP BY what) c;
	});
	note("planted: $counts (names: @$functions; operators: @$operators)");
	return $counts;
}

# planted_reached($node, $schema, $path): the positive control of the
# planting.  In a session of mallory's (so that nothing is made superuser)
# whose search_path is $path, not pinned, each object planted in $schema is
# called once by its bare name with NULLs of the types it was planted for
# (NULL::numeric > NULL::bigint): returns how many of them ran, out of how
# many, and the first few that did not, as "RAN of PLANTED; missed: ...".
# public.planted_log is emptied afterwards.
sub planted_reached
{
	my ($node, $schema, $path) = @_;
	my @probes = split /\n/, $node->safe_psql('postgres', qq{
		SET search_path = pg_catalog, pg_temp;
		SELECT probe FROM public.planted_objects WHERE what LIKE '% $schema.%' ORDER BY what});
	my $script = "SET ROLE mallory;\nSET client_min_messages = error;\nSET search_path = $path;\n"
	  . join('', map { "SELECT $_;\n" } @probes);
	$node->psql('postgres', $script, on_error_stop => 0);
	my $result = $node->safe_psql('postgres', qq{
		SET search_path = pg_catalog, pg_temp;
		SELECT count(*) FILTER (WHERE l.what IS NOT NULL) || ' of ' || count(*) || '; missed: '
		       || coalesce(string_agg(o.what, ', ' ORDER BY o.what) FILTER (WHERE l.what IS NULL), '')
		FROM public.planted_objects o
		LEFT JOIN (SELECT DISTINCT what FROM public.planted_log) l ON l.what = o.what
		WHERE o.what LIKE '% $schema.%';
		TRUNCATE public.planted_log});
	return $result;
}

# planted_runs($node, @others): what ran of the planted objects: the rows of
# public.planted_log on $node and the "pgrepl-planted-ran" lines of the
# logs of $node and @others, one per line ('' when nothing ran); also
# whether mallory became superuser.
sub planted_runs
{
	my ($node, @others) = @_;
	my @ran = split /\n/, $node->safe_psql('postgres', q{
		SET search_path = pg_catalog, pg_temp;
		SELECT what || ' as ' || run_as || ' in ' || coalesce(backend_type, '?') || ' (' || application_name || ')'
		FROM public.planted_log
		UNION ALL
		SELECT 'mallory is superuser' FROM pg_roles WHERE rolname = 'mallory' AND rolsuper});
	for my $n ($node, @others)
	{
		push @ran, map { $n->name . ": $_" }
		  PostgreSQL::Test::Utils::slurp_file($n->logfile) =~ /WARNING:  (pgrepl-planted-ran: [^\n]*)/g;
	}
	return join("\n", @ran);
}

# find_program($name): the path of an installed program, or undef
sub find_program
{
	my ($name) = @_;
	for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/sbin')
	{
		return "$dir/$name" if -x "$dir/$name";
	}
	return undef;
}

# start_exporter($node, $exporter, $dir): Debian's postgres_exporter (the
# program $exporter) with contrib/postgres_exporter_queries.yaml, scraping
# $node over TCP on loopback as the role exporter, on a free loopback port,
# logging to $dir/exporter.log; returns its IPC::Run harness (the caller
# kills it) and its port
sub start_exporter
{
	my ($node, $exporter, $dir) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $queries = dirname(__FILE__) . '/../contrib/postgres_exporter_queries.yaml';
	my $dsn = 'host=127.0.0.1 port=' . $node->port . ' user=exporter dbname=postgres sslmode=disable';
	my $h = IPC::Run::start(
		[ $exporter, "--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$queries",
			'--disable-default-metrics', '--disable-settings-metrics' ],
		'<', \undef, '>>', "$dir/exporter.log", '2>&1',
		init => sub { $ENV{DATA_SOURCE_NAME} = $dsn });
	return ($h, $port);
}

1;
