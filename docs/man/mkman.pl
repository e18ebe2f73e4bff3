#!/usr/bin/perl
# Generates libpeerop's reference manual (section 3) from the Doxygen-style
# comments of the public headers, which are the reference (docs/conventions.md):
#
#   perl mkman.pl --version 0.1.0 --out DIR HEADER...
#
# Writes, into DIR:
#   libpeerop.3            the overview (from peerop.h) and the list of modules
#   libpeerop-MODULE.3     one page per header: its description, types, macros,
#                          and its functions, each with a one-line summary
#   peerop_FUNCTION.3      one page per exported function: synopsis, description,
#                          parameters, return value, see also
#   pages.list             the names of the pages above, one a line (for install)
#   undocumented.list      exported functions that have no doc comment
#
# A page is rewritten only when its text changes, so `make` stays quiet, and
# through a file of its own (PID-named) renamed over it, so two runs at once
# (make install during make check) never mix.
# Perl with only perl-base modules (Essential on Debian): nothing to install.
# Doxygen would do this too, but its man output is one page per header file
# with no per-function pages, and this header style (a few tags, `code`,
# "- " lists) is small enough to translate exactly.
use strict;
use warnings;
use File::Basename qw(basename);
use Getopt::Long qw(GetOptions);

my ($version, $out) = ('', '.');
GetOptions('version=s' => \$version, 'out=s' => \$out)
	or die "usage: mkman.pl --version V --out DIR HEADER...\n";
die "mkman.pl: no headers given\n" unless @ARGV;
-d $out or mkdir $out or die "mkman.pl: cannot create $out: $!\n";

my $source = "libpeerop $version";
my $manual = 'libpeerop Manual';

# ---------------------------------------------------------------- parsing

# One header -> { module, include, brief, doc, items => [...] }, where an item
# is { kind => function|type|macro|group, name, decl, doc, line }.
sub parse_header {
	my ($path) = @_;
	open my $fh, '<', $path or die "mkman.pl: $path: $!\n";
	my @lines = <$fh>;
	close $fh;
	my $base = basename($path);
	$base =~ s/\.in$//;
	(my $module = $base) =~ s/\.h$//;
	my %h = (module => $module, include => "peerop/$base", brief => '', doc => '',
		items => [], path => $path);
	my $guard = '';
	my $doc;          # pending doc comment text
	my $docline = 0;
	my $i = 0;
	while ($i < @lines) {
		my $l = $lines[$i];
		if ($l =~ m{^\s*/\*\*(?!<)}) {                 # a doc comment
			my $text = '';
			my $start = $i + 1;
			while (1) {
				my $c = $lines[$i];
				$text .= $c;
				last if $c =~ m{\*/};
				$i++;
				die "mkman.pl: $path:$start: unterminated comment\n" if $i >= @lines;
			}
			$i++;
			$text = clean_comment($text);
			if ($text =~ /\@file\b/) {
				($h{brief}) = $text =~ /\@brief\s+(.*?)(?:\n\s*\n|\z)/s;
				$h{brief} //= '';
				$h{brief} =~ s/\s+/ /g;
				$h{brief} =~ s/\.$//;
				(my $d = $text) =~ s/\@file[^\n]*\n?//;
				$d =~ s/\@brief\s+.*?(?:\n\s*\n|\z)//s;
				$h{doc} = $d;
			} else {
				$doc = $text;
				$docline = $start;
			}
			next;
		}
		if ($l =~ m{^\s*/\*(?!\*)}) {                  # a plain comment: a group title?
			my $text = '';
			while (1) {
				$text .= $lines[$i];
				last if $lines[$i] =~ m{\*/};
				$i++;
				last if $i >= @lines;
			}
			$i++;
			if ($text =~ /-{8,}/) {
				my @t = grep { /\w/ && !/-{8,}/ } map { s{^\s*/?\*+/?\s?}{}r } split /\n/, $text;
				s/\s+$// for @t;
				push @{$h{items}}, { kind => 'group', name => join(' ', @t) } if @t;
			}
			next;
		}
		if ($l =~ /^\s*PEEROP_EXTERN\(/) {
			my $start = $i + 1;
			my $decl = '';
			while (1) {
				$decl .= $lines[$i];
				last if $lines[$i] =~ /;/;
				$i++;
				die "mkman.pl: $path:$start: unterminated declaration\n" if $i >= @lines;
			}
			$i++;
			$decl =~ s/\s+/ /g;
			$decl =~ s/^\s+|\s+$//g;
			my ($ret, $name, $args) = $decl =~ /^PEEROP_EXTERN\((.*?)\)\s*(\w+)\s*\((.*)\)\s*(?:PEEROP_\w+(?:\([^)]*\))?\s*)*;$/
				or die "mkman.pl: $path:$start: cannot parse declaration: $decl\n";
			push @{$h{items}}, { kind => 'function', name => $name, ret => $ret, args => $args,
				doc => $doc, line => $start };
			undef $doc;
			next;
		}
		if ($l =~ /^\s*typedef\b/) {
			my $start = $i + 1;
			my $decl = '';
			my $depth = 0;
			while (1) {
				my $c = $lines[$i];
				$decl .= $c;
				(my $code = $c) =~ s{/\*.*?\*/}{}g;
				$depth += () = $code =~ /\{/g;
				$depth -= () = $code =~ /\}/g;
				last if $depth <= 0 && $code =~ /;\s*$/;
				$i++;
				die "mkman.pl: $path:$start: unterminated typedef\n" if $i >= @lines;
			}
			$i++;
			my $name;
			if ($decl =~ /\(\s*\*\s*(\w+)\s*\)/ && $decl !~ /\{/) {
				$name = $1;                               # a function pointer
			} else {
				($name) = $decl =~ /(\w+)\s*;\s*$/;
			}
			die "mkman.pl: $path:$start: cannot name typedef\n" unless defined $name;
			push @{$h{items}}, { kind => 'type', name => $name, decl => $decl,
				doc => $doc, line => $start };
			undef $doc;
			next;
		}
		if ($l =~ /^\s*#\s*(?:ifndef|define)\s+(\w+)(.*)$/) {
			my ($macro, $rest) = ($1, $2);
			if ($l =~ /^\s*#\s*ifndef/) {
				$guard ||= $macro;
				$i++;
				next;
			}
			my $start = $i + 1;
			my $decl = $lines[$i];
			while ($lines[$i] =~ /\\\s*$/) {
				$i++;
				$decl .= $lines[$i];
			}
			$i++;
			# The include guard and macros inside #if blocks of common.h are not API to document.
			if ($macro ne $guard && $l =~ /^#define/) {
				push @{$h{items}}, { kind => 'macro', name => $macro, decl => $decl,
					doc => $doc, line => $start };
			}
			undef $doc;
			next;
		}
		undef $doc if $l =~ /\S/ && $l !~ /^\s*(PEEROP_BEGIN_DECL|PEEROP_END_DECL|#)/;
		$i++;
	}
	return \%h;
}

# The text of a /** ... */ comment, without the markers and the " * " margins.
sub clean_comment {
	my ($t) = @_;
	$t =~ s{^\s*/\*\*\s?}{};
	$t =~ s{\s*\*/\s*$}{};
	my @l = split /\n/, $t, -1;
	s/^\s*\*(?: |\t|$)// for @l;
	s/^\s*\*$// for @l;
	s/\s+$// for @l;
	$t = join "\n", @l;
	$t =~ s/^\n+//;
	$t =~ s/\n+$//;
	return $t;
}

# Split a function's doc into description and tags.
sub split_doc {
	my ($doc) = @_;
	$doc //= '';
	# Tags may follow a sentence on the same line ("Start watching. @return 0").
	$doc =~ s/[ \t]+\@(param|return|returns)\b/\n\@$1/g;
	my (@desc, @params, @returns);
	my $cur = \@desc;
	for my $l (split /\n/, $doc) {
		if ($l =~ /^\@param\s+(\w+)\s*(.*)$/) {
			push @params, [$1, $2];
			$cur = $params[-1];
		} elsif ($l =~ /^\@returns?\s*(.*)$/) {
			push @returns, $1;
			$cur = \@returns;
		} elsif ($l =~ /^\@brief\s*(.*)$/) {
			push @desc, $1;
			$cur = \@desc;
		} elsif (ref $cur eq 'ARRAY' && $cur == \@desc) {
			push @desc, $l;
		} elsif ($cur == \@returns) {
			if ($l eq '') { $cur = \@desc; push @desc, ''; } else { $returns[-1] .= "\n$l"; }
		} else {                                        # a parameter's continuation
			if ($l eq '') { $cur = \@desc; push @desc, ''; } else { $cur->[1] .= "\n$l"; }
		}
	}
	my $d = join "\n", @desc;
	$d =~ s/^\s+|\s+$//g;
	return ($d, \@params, join("\n", @returns));
}

# The first sentence, for NAME lines and summaries.
sub summary {
	my ($d) = @_;
	return '' unless defined $d && length $d;
	my ($p) = split /\n\s*\n/, $d;
	$p =~ s/\s+/ /g;
	$p =~ s/^\s+|\s+$//g;
	if ($p =~ /^(.*?[.:;])(?:\s|$)/) { $p = $1; }
	$p =~ s/[.:;]$//;
	return $p;
}

# ---------------------------------------------------------------- roff output

my %known;   # function name -> 1, for links

# Escape text for roff, and mark up `code` and function names.
sub inline {
	my ($t) = @_;
	my @code;
	$t =~ s/`([^`]+)`/push @code, $1; "\x01" . $#code . "\x02"/ge;
	$t = esc($t);
	$t =~ s/\b(peerop_\w+)\(\)/\\fB$1\\fP()/g;
	# \: lets a long code span (a JSON shape) break after its commas.
	$t =~ s/\x01(\d+)\x02/'\\fB' . (esc_code($code[$1]) =~ s{,}{,\\:}gr) . '\\fP'/ge;
	return $t;
}

sub esc {
	my ($t) = @_;
	$t =~ s/\\/\\e/g;
	return $t;
}

# In code and in no-fill blocks, a hyphen is a minus sign: \- keeps it ASCII.
sub esc_code {
	my ($t) = @_;
	$t = esc($t);
	$t =~ s/-/\\-/g;
	return $t;
}

# Lines must not start with a control character.
sub guard_lines {
	my ($t) = @_;
	$t =~ s/^([.'])/\\&$1/mg;
	return $t;
}

# Doc text (paragraphs, "- " lists) -> roff body.
sub body {
	my ($t) = @_;
	return '' unless defined $t && $t =~ /\S/;
	my $r = '';
	for my $para (split /\n\s*\n/, $t) {
		my @lines = split /\n/, $para;
		if ($lines[0] =~ /^\s*- /) {
			my @items;
			for my $l (@lines) {
				if ($l =~ /^\s*- (.*)$/) { push @items, $1; }
				elsif (@items) { $items[-1] .= ' ' . ($l =~ s/^\s+//r); }
				else { push @items, $l; }
			}
			$r .= ".IP \\(bu 2\n" . guard_lines(inline($_)) . "\n" for @items;
			$r .= ".PP\n";
		} else {
			my $p = join ' ', map { s/^\s+//r } @lines;
			$r .= guard_lines(inline($p)) . "\n.PP\n";
		}
	}
	$r =~ s/\.PP\n$//;
	return $r;
}

# A block shown as written (declarations), in no-fill mode.
sub verbatim {
	my ($t) = @_;
	$t =~ s/\t/    /g;
	$t =~ s/\s+$//;
	$t =~ s{/\*\*<?}{/*}g;
	$t = esc_code($t);
	$t = guard_lines($t);
	return ".PP\n.nf\n.RS 4\n$t\n.RE\n.fi\n";
}

# The prototype of a function, arguments on their own lines when long.
sub prototype_of {
	my ($f) = @_;
	my $head = "$f->{ret} $f->{name}(";
	$head =~ s/\* /*/ if $f->{ret} =~ /\*$/;
	$head = "$f->{ret}$f->{name}(" if $f->{ret} =~ /\*$/;
	my $one = "$head$f->{args});";
	return $one if length $one <= 76;
	my @args;
	my ($depth, $cur) = (0, '');
	for my $ch (split //, $f->{args}) {
		if ($ch eq ',' && $depth == 0) { push @args, $cur; $cur = ''; next; }
		$depth++ if $ch eq '(';
		$depth-- if $ch eq ')';
		$cur .= $ch;
	}
	push @args, $cur;
	s/^\s+|\s+$//g for @args;
	my $pad = ' ' x length $head;
	my $r = $head . shift(@args);
	$r .= ",\n$pad$_" for @args;
	return "$r);";
}

sub params_list {
	my ($params) = @_;
	my $t = '';
	for my $p (@$params) {
		$t .= ".TP\n.I " . $p->[0] . "\n" . body($p->[1] =~ s/\n/ /gr) . "\n";
	}
	return $t;
}

sub th {
	my ($name) = @_;
	# Left-aligned and unhyphenated: identifiers must not be split, and
	# long ones would otherwise leave lines troff "cannot adjust".
	return ".TH " . uc($name =~ s/-/\\-/gr) . " 3 \"\" \"$source\" \"$manual\"\n.nh\n.ad l\n";
}

sub name_line {
	my ($name, $what) = @_;
	return ".SH NAME\n" . esc_code($name) . " \\- " . inline($what) . "\n";
}

sub library_section {
	return ".SH LIBRARY\nlibpeerop (\\fB\\-lpeerop\\fP; \\fBpkg\\-config \\-\\-cflags \\-\\-libs libpeerop\\fP)\n";
}

my %written;
sub write_page {
	my ($file, $text) = @_;
	my $path = "$out/$file";
	$written{$file} = 1;
	if (open my $old, '<', $path) {
		local $/;
		my $cur = <$old>;
		close $old;
		return if defined $cur && $cur eq $text;
	}
	open my $fh, ">", "$path.tmp.$$" or die "mkman.pl: $path.tmp.$$: $!\n";
	print $fh $text;
	close $fh or die "mkman.pl: $path.tmp.$$: $!\n";
	rename "$path.tmp.$$", $path or die "mkman.pl: $path: $!\n";
}

sub page_name { my ($m) = @_; return $m eq 'peerop' ? 'libpeerop' : "libpeerop-$m"; }

sub see_also {
	my ($self, @refs) = @_;
	my %seen = ($self => 1);
	my @out;
	for my $r (@refs) {
		next if $seen{$r}++;
		push @out, "\\fB" . esc_code($r) . "\\fP(3)";
	}
	return @out ? ".SH SEE ALSO\n" . join(",\n", @out) . "\n" : '';
}

# Functions named in a text, in order, that have pages.
sub mentioned {
	my ($t) = @_;
	my @m;
	while ($t =~ /\b(peerop_\w+)\(\)/g) { push @m, $1 if $known{$1}; }
	return @m;
}

# ---------------------------------------------------------------- pages

# In an in-tree build the generated version.h sits beside the others: each header once.
my %seen_header;
my @headers = map { parse_header($_) } grep { !$seen_header{basename($_)}++ } @ARGV;
@headers = sort { $a->{module} cmp $b->{module} } @headers;
my %func;
for my $h (@headers) {
	$func{$_->{name}} = $_ for grep { $_->{kind} eq 'function' } @{$h->{items}};
}
$known{$_} = 1 for keys %func;
# `@copydoc other_function`: the same documentation as that function's.
for my $f (values %func) {
	next unless defined $f->{doc} && $f->{doc} =~ /^\@copydoc\s+(\w+)(?:\(\))?\s*$/;
	my $src = $func{$1};
	$f->{doc} = ($src && defined $src->{doc} && $src->{doc} !~ /\@copydoc/) ? $src->{doc} : undef;
}

my @undocumented;
my @modules;
for my $h (@headers) {
	my $page = page_name($h->{module});
	my @funcs = grep { $_->{kind} eq 'function' } @{$h->{items}};
	my @types = grep { $_->{kind} eq 'type' } @{$h->{items}};
	my @macros = grep { $_->{kind} eq 'macro' } @{$h->{items}};
	push @modules, [$page, $h->{brief}] unless $page eq 'libpeerop';

	for my $f (@funcs) {
		push @undocumented, "$h->{include}:$f->{line}: $f->{name}" unless defined $f->{doc};
		my ($desc, $params, $ret) = split_doc($f->{doc});
		my $t = th($f->{name});
		$t .= name_line($f->{name}, summary($desc) || 'undocumented');
		$t .= library_section();
		$t .= ".SH SYNOPSIS\n.nf\n.B #include <peerop/peerop.h>\n.PP\n";
		$t .= guard_lines(esc_code(prototype_of($f))) . "\n.fi\n";
		$t .= ".SH DESCRIPTION\n" . body($desc) if $desc =~ /\S/;
		$t .= ".SH PARAMETERS\n" . params_list($params) if @$params;
		$t .= ".SH RETURN VALUE\n" . body($ret) . "\n" if $ret =~ /\S/;
		$t =~ s/\n\n+/\n/g;
		$t .= ".SH SEE ALSO\n" . join(",\n", map { "\\fB" . esc_code($_) . "\\fP(3)" }
			grep { $_ ne $f->{name} } uniq(mentioned(($f->{doc} // '')), $page)) . "\n";
		write_page("$f->{name}.3", $t);
	}

	next if $page eq 'libpeerop';
	my $t = th($page);
	$t .= name_line($page, $h->{brief} || $h->{module});
	$t .= library_section();
	$t .= ".SH SYNOPSIS\n.nf\n.B #include <peerop/peerop.h>\n.fi\n";
	$t .= ".PP\nor, for this module alone,\n.B #include <$h->{include}>\n";
	$t .= ".SH DESCRIPTION\n" . body($h->{doc}) . "\n" if $h->{doc} =~ /\S/;
	if (@funcs) {
		$t .= ".SH FUNCTIONS\nEach function has its own page.\n";
		for my $it (@{$h->{items}}) {
			if ($it->{kind} eq 'group') {
				$t .= ".SS " . inline($it->{name}) . "\n";
			} elsif ($it->{kind} eq 'function') {
				my ($d) = split_doc($it->{doc});
				$t .= ".TP\n\\fB" . esc_code($it->{name}) . "\\fP(3)\n" . guard_lines(inline(summary($d))) . "\n";
			}
		}
	}
	if (@types) {
		$t .= ".SH TYPES\n";
		for my $ty (@types) {
			$t .= ".SS " . esc_code($ty->{name}) . "\n";
			my ($d, $params, $ret) = split_doc($ty->{doc});
			$t .= body($d) . "\n" if $d =~ /\S/;
			$t .= verbatim($ty->{decl});
			$t .= ".PP\nParameters:\n" . params_list($params) if @$params;
			$t .= ".PP\nReturns " . body($ret) . "\n" if $ret =~ /\S/;
		}
	}
	if (@macros) {
		$t .= ".SH MACROS\n";
		for my $m (@macros) {
			$t .= ".SS " . esc_code($m->{name}) . "\n";
			$t .= body($m->{doc}) . "\n" if defined $m->{doc};
			$t .= verbatim($m->{decl});
		}
	}
	$t =~ s/\n\n+/\n/g;
	$t .= see_also($page, 'libpeerop', mentioned($h->{doc}));
	write_page("$page.3", $t);
}

sub uniq { my %s; return grep { !$s{$_}++ } @_; }

# The overview page.
{
	my ($top) = grep { $_->{module} eq 'peerop' } @headers;
	my $t;
	$t = th('libpeerop') . name_line('libpeerop', 'Kubernetes operators in C') . library_section()
		. ".SH SYNOPSIS\n.nf\n.B #include <peerop/peerop.h>\n.PP\n"
		. esc_code('cc $(pkg-config --cflags libpeerop) -o prog prog.c $(pkg-config --libs libpeerop)') . "\n.fi\n";
	$t .= ".SH DESCRIPTION\n" . body($top ? $top->{doc} : '') . "\n" if $top;
	$t .= ".PP\nEvery fallible function returns 0 or a negative \\fBPEEROP_E*\\fP code "
		. "and leaves the detail in \\fBpeerop_error_last\\fP(3). Handles are opaque; "
		. "\\fB_new\\fP pairs with \\fB_free\\fP, and \\fB_free(NULL)\\fP is a no-op. "
		. "Each function's page says who owns what it takes and returns, and from which threads it may be called.\n";
	$t .= ".SH MODULES\n";
	for my $m (@modules) {
		$t .= ".TP\n\\fB" . esc_code($m->[0]) . "\\fP(3)\n" . inline($m->[1]) . "\n";
	}
	$t .= ".SH NOTES\nThe source tree's \\fBdocs/\\fP holds the architecture, conventions, errors, threading, "
		. "a guide per module, and tutorials.\n";
	$t .= ".SH SEE ALSO\n" . join(",\n", map { "\\fB" . esc_code($_->[0]) . "\\fP(3)" } @modules) . "\n";
	write_page('libpeerop.3', $t);
}

# Lists for the Makefile and the checks; pages of headers that went away are removed.
opendir my $dh, $out or die "mkman.pl: $out: $!\n";
for my $f (readdir $dh) {
	unlink "$out/$f" if $f =~ /\.3$/ && !$written{$f};
}
closedir $dh;
my $list = join('', map { "$_\n" } sort keys %written);
write_page('pages.list', $list);
delete $written{'pages.list'};
write_page('undocumented.list', join('', map { "$_\n" } @undocumented));
exit 0;
