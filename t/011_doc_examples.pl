# Every SQL example of the documentation runs as written: each ```sql block
# of README.md and doc/*.md, in file order, on a fresh primary (TCP on
# 127.0.0.1, the library preloaded) with a streaming standby, one primary
# per file.  Each block runs in its own psql session with ON_ERROR_STOP, on
# the primary, or on the standby when the line before it is
# "<!-- run on: standby -->".  A block that cannot run as it is must say so
# on the line before it, "<!-- not run: reason -->"; those are counted and
# named.  So the examples cannot drift from the code.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgreplAdminTest;

my $root = "$FindBin::RealBin/..";
my @files = ('README.md', map { s{^\Q$root\E/}{}r } sort glob("$root/doc/*.md"));

# blocks($file): the ```sql blocks of a file, each { line, sql, on, skip }
sub blocks
{
	my ($file) = @_;
	my (@blocks, $block, $marker);
	my $n = 0;
	for my $line (split /\n/, slurp_file("$root/$file"))
	{
		$n++;
		if ($block)
		{
			if ($line =~ /^\s*```\s*$/)
			{
				push @blocks, $block;
				undef $block;
			}
			else
			{
				$line =~ s/^\Q$block->{indent}\E//;
				$block->{sql} .= "$line\n";
			}
		}
		elsif ($line =~ /^(\s*)```sql\s*$/)
		{
			$block = { line => $n, indent => $1, sql => '', on => 'primary' };
			$block->{on} = 'standby' if $marker && $marker =~ /^run on: standby$/;
			$block->{skip} = $1 if $marker && $marker =~ /^not run: (.+)$/;
			ok(!$marker || $block->{on} eq 'standby' || defined $block->{skip},
				"$file:$n: the marker before the block is \"run on: standby\" or \"not run: <reason>\"");
		}
		if ($line =~ /^\s*<!--\s*(.*?)\s*-->\s*$/)
		{
			$marker = $1;
		}
		elsif ($line =~ /\S/)
		{
			undef $marker;
		}
	}
	ok(!$block, "$file: every ```sql block is closed");
	return @blocks;
}

my ($ran, @skipped) = (0);
for my $file (@files)
{
	my @blocks = blocks($file);
	push @skipped, map { "$file:$_->{line} ($_->{skip})" } grep { defined $_->{skip} } @blocks;
	my @run = grep { !defined $_->{skip} } @blocks;
	next unless @run;

	(my $name = $file) =~ s/\W/_/g;
	my $primary = new_primary("p_$name", conf => "listen_addresses = '127.0.0.1'\n");
	my $standby = new_standby($primary, "s_$name");
	for my $block (@run)
	{
		my $node = $block->{on} eq 'standby' ? $standby : $primary;
		my ($rc, $out, $err) = $node->psql('postgres', $block->{sql}, on_error_stop => 1);
		is($rc, 0, "$file:$block->{line} runs on the $block->{on}")
		  or diag("block:\n$block->{sql}\nstderr:\n$err");
		$ran++;
	}
	$standby->stop;
	$primary->stop;
}

cmp_ok($ran, '>=', 40, "the documentation's SQL examples ran ($ran blocks)");
note(scalar(@skipped) . ' block(s) not run: ' . join('; ', @skipped));
cmp_ok(scalar(@skipped), '<=', 3, 'at most 3 blocks are marked "not run"');
done_testing();
