# SPDX-License-Identifier: BSD-3-Clause
# A plain TCP transfer between two nodes of the virtual cluster (cluster_tcp_mbps in
# tests/cluster/lib-cluster.sh), to measure what a shaped link carries without MPI in the way.
# perl-base only (Debian's essential perl), so that a minimal system runs it.
#
#   perl tcp-rate.pl recv ADDR PORT    listen on ADDR:PORT, take one connection, read it to its
#                                      end; print "BYTES SECONDS" (first byte to end) on stdout
#   perl tcp-rate.pl send ADDR PORT BYTES
#                                      connect to ADDR:PORT (retrying while the receiver comes
#                                      up) and write BYTES bytes
# Both give up after 60 s.
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my ($mode, $addr, $port, $bytes) = @ARGV;
die "usage: tcp-rate.pl recv ADDR PORT | send ADDR PORT BYTES\n"
    unless defined $port && ($mode eq 'recv' || ($mode eq 'send' && defined $bytes));
$SIG{ALRM} = sub { die "tcp-rate.pl $mode $addr:$port: no end after 60 s\n" };
alarm 60;

if ($mode eq 'recv') {
	my $l = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Listen => 1,
				      ReuseAddr => 1) or die "tcp-rate.pl: listen on $addr:$port: $!\n";
	my $c = $l->accept or die "tcp-rate.pl: accept: $!\n";
	my ($n, $t0, $buf) = (0, 0, '');
	while (my $r = sysread($c, $buf, 1 << 16)) {
		$t0 ||= time;
		$n += $r;
	}
	printf "%d %.6f\n", $n, $t0 ? time - $t0 : 0;
	exit 0;
}

my $c;
for (1 .. 200) {
	last if $c = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port);
	sleep 0.05;
}
$c or die "tcp-rate.pl: connect to $addr:$port: $!\n";
my $buf = "\0" x (1 << 16);
while ($bytes > 0) {
	my $w = syswrite($c, $buf, $bytes < length $buf ? $bytes : length $buf);
	die "tcp-rate.pl: write: $!\n" unless defined $w;
	$bytes -= $w;
}
close $c or die "tcp-rate.pl: close: $!\n";
