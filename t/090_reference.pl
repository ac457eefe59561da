# The reference (doc/reference.md) agrees with the catalog: every function
# (with its argument names and types), view, table and setting of the
# extension is documented, and everything documented exists.  A new object without
# documentation, or documentation of a renamed one, fails here.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $readme = slurp_file("$FindBin::RealBin/../doc/reference.md");
my $node = new_primary('reference', streaming => 0);

# --- what the reference documents
my (%doc_functions, %doc_relations, %doc_settings);
my $section = '';
for my $line (split /\n/, $readme)
{
	$section = $1 if $line =~ /^## (.*)/;
	# a heading, or a definition-list term, that starts with the signature
	if ($line =~ /^(?:#+ (?:Function )?)?`(\w+)\((.*?)\)(?: RETURNS [^`]*)?`\s*$/)
	{
		my ($name, $args) = ($1, $2);
		my @args;
		for my $arg (split /,\s*(?=\w+ )/, $args)
		{
			$arg =~ s/\s+DEFAULT\s+.*$//;
			push @args, $arg;
		}
		$doc_functions{$name} = join(', ', @args);
	}
	if ($line =~ /^#+ (View|Table) `(\w+)`/)
	{
		$doc_relations{$2} = lc $1;
	}
	if ($section eq 'Settings' && $line =~ /^\| `(pgrepl_admin\.\w+)` \|/)
	{
		$doc_settings{$1} = 1;
	}
}
# zero-argument functions may be documented in running text as `name()`
my %mentioned = map { $_ => 1 } ($readme =~ /`(\w+)\(\)`/g);

# --- what the catalog has
my %functions = map { (split /\t/, $_, -1)[ 0, 1 ] } split /\n/, $node->safe_psql('postgres', q{
	SELECT p.proname || E'\t' || COALESCE(string_agg(a.name || ' ' || format_type(a.type, NULL), ', ' ORDER BY a.n), '')
	FROM pg_depend d
	JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
	LEFT JOIN LATERAL unnest(p.proargnames, p.proargtypes::oid[] || ARRAY[]::oid[], COALESCE(p.proargmodes, array_fill('i'::"char", ARRAY[cardinality(p.proargtypes)])))
	     WITH ORDINALITY AS a(name, type, mode, n) ON a.mode IN ('i', 'b', 'v')
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin') AND d.deptype = 'e'
	GROUP BY p.proname
}, extra_params => [ '-F', "\t" ]);
my %relations = map { (split /\t/, $_, -1)[ 0, 1 ] } split /\n/, $node->safe_psql('postgres', q{
	SELECT c.relname || E'\t' || CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END
	FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgrepl_admin') AND d.deptype = 'e'
	  AND c.relkind IN ('r', 'v')
});
my %settings = map { $_ => 1 } split /\n/,
  $node->safe_psql('postgres', q{SELECT name FROM pg_settings WHERE name LIKE 'pgrepl_admin.%'});

ok(scalar(keys %functions) > 5 && scalar(keys %relations) > 3 && scalar(keys %settings) > 3,
	'the catalog lists the extension\'s objects');

for my $f (sort keys %functions)
{
	if (exists $doc_functions{$f})
	{
		is($doc_functions{$f}, $functions{$f}, "the reference documents $f with its arguments");
	}
	else
	{
		ok($functions{$f} eq '' && $mentioned{$f}, "the reference documents function $f");
	}
}
for my $f (sort keys %doc_functions)
{
	ok(exists $functions{$f}, "documented function $f exists");
}
for my $r (sort keys %relations)
{
	is($doc_relations{$r}, $relations{$r}, "the reference documents $relations{$r} $r");
}
for my $r (sort keys %doc_relations)
{
	ok(exists $relations{$r}, "documented $doc_relations{$r} $r exists");
}
for my $s (sort keys %settings)
{
	ok($doc_settings{$s}, "the reference documents setting $s");
}
for my $s (sort keys %doc_settings)
{
	ok($settings{$s}, "documented setting $s exists");
}

$node->stop;
done_testing();
