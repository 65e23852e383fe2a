#!/usr/bin/perl
# A small CCS app server on Net::XMPP (Debian's libnet-xmpp-perl), for a
# handshake, throughput and drain check by hand against `ccsbench fake`
# (not judged on every scenario: one connection at a time, no retry
# backoff). Net::XMPP connects with ssl => 1 (TLS from the first byte,
# the certificate checked against CCS_CA_FILE and the name
# gcm.googleapis.com), and AuthSend does SASL PLAIN, the bind and the
# session. Messages go out as raw XML (SendXML); what comes back is read by
# the namespace of its gcm child.
#
# Environment: the judge's contract (CCS_HOST, CCS_PORT, CCS_SENDER_ID,
# CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_SCENARIO); NETXMPP_DEBUG=2
# prints Net::XMPP's wire trace (SASL included: only with a test key).
use strict;
use warnings;
use JSON::PP;
use Net::XMPP;
use Time::HiRes qw(time);

my $NS     = 'google:mobile:data';
my $WINDOW = 100;
my $json   = JSON::PP->new->canonical;
my $n      = $ENV{CCS_MESSAGES} // 0;
my ( $next, $finals, %pending, @resend, %c ) = ( 0, 0 );
my ( $conn, $draining );
my $start = time;

sub xml_escape {
    my $s = shift;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    return $s;
}

sub send_gcm {
    my ( $cl, $payload ) = @_;
    $cl->SendXML( '<message id=""><gcm xmlns="' . $NS . '">' . xml_escape( $json->encode($payload) ) . '</gcm></message>' );
}

sub on_message {
    my ( $sid, $msg ) = @_;
    my ($gcm) = $msg->GetChild($NS);
    return unless $gcm;
    my $text = $gcm->GetXML();
    $text =~ s/^<[^>]*>//;
    $text =~ s/<\/[^>]*>$//;
    $text =~ s/&lt;/</g; $text =~ s/&gt;/>/g; $text =~ s/&quot;/"/g; $text =~ s/&apos;/'/g; $text =~ s/&amp;/&/g;
    my $p = eval { $json->decode($text) };
    unless ( ref $p eq 'HASH' ) { warn "unreadable gcm payload: $text\n"; return }
    my $kind = $p->{message_type} // '';
    my $id   = $p->{message_id}   // '';
    if ( ( $msg->GetType() // '' ) eq 'error' ) {
        $c{stanza_errors}++;
        $finals++ if delete $pending{$id};
    } elsif ( $kind eq 'ack' ) {
        $c{acked}++;
        $finals++ if delete $pending{$id};
    } elsif ( $kind eq 'nack' ) {
        my ($code) = ( $p->{error} // '' ) =~ /^([A-Z_]+)/;
        $code //= '';
        delete $pending{$id} or return;
        if ( $code eq 'CONNECTION_DRAINING' ) { $draining = 1; $c{drains}++; push @resend, $id }
        elsif ( $code eq 'SERVICE_UNAVAILABLE' || $code eq 'INTERNAL_SERVER_ERROR' ) { push @resend, $id; $c{retries}++ }
        else { $c{nacked}++; $finals++ }
    } elsif ( $kind eq 'control' ) {
        if ( ( $p->{control_type} // '' ) eq 'CONNECTION_DRAINING' ) { $draining = 1; $c{drains}++ }
    } elsif ( $kind eq 'receipt' || $kind eq '' ) {
        send_gcm( $conn, { message_type => 'ack', to => $p->{from}, message_id => $id } );
        $c{ $kind ? 'receipts_acked' : 'upstream_acked' }++;
    }
}

sub dial {
    my $cl = Net::XMPP::Client->new( debuglevel => $ENV{NETXMPP_DEBUG} // -1, debugfile => 'stdout' );
    $cl->Connect(
        hostname      => $ENV{CCS_HOST},
        port          => $ENV{CCS_PORT},
        ssl           => 1,                    # TLS from the first byte
        componentname => 'gcm.googleapis.com', # the stream's "to", and the certificate's name
        ssl_ca_path   => $ENV{CCS_CA_FILE},    # a file is used as SSL_ca_file
        ssl_verify    => 0x01,
    ) or die 'connect: ' . ( $cl->GetErrorCode() // '?' ) . "\n";
    my @r = $cl->AuthSend( username => $ENV{CCS_SENDER_ID}, password => $ENV{CCS_API_KEY}, resource => 'ccs' );
    die "auth: @r\n" unless $r[0] eq 'ok';
    $cl->SetCallBacks( message => \&on_message );
    $c{dials}++;
    return $cl;
}

$SIG{TERM} = sub { summary(); exit 1 };    # stopped: say how far it got
$conn = dial() if $n > 0;
while ( $finals < $n && time - $start < 600 ) {
    if ($draining) {
        # A parallel connection at once; the old one is read until it ends.
        my $old = $conn;
        $conn     = dial();
        $draining = 0;
        for ( 1 .. 50 ) { last unless defined $old->Process(0.01) }
        $old->Disconnect();
        push @resend, keys %pending;    # what the old one left unanswered
        $c{resends} += keys %pending;
        %pending = ();
    }
    while ( keys %pending < $WINDOW && ( @resend || $next < $n ) ) {
        my $id = @resend ? shift @resend : 'm' . $next++;
        my ($i) = $id =~ /(\d+)/;
        $pending{$id} = 1;
        send_gcm( $conn, { to => sprintf( 'reg-%07d', $i ), message_id => $id, time_to_live => 600,
                           data => { n => $id, scenario => $ENV{CCS_SCENARIO} // '' } } );
    }
    next if defined $conn->Process(0.05);
    # The stream ended (a drained one the server closed, or a drop): what
    # it left unanswered goes out again on a new connection.
    $c{losses}++ unless $draining;
    push @resend, keys %pending;
    $c{resends} += keys %pending;
    %pending  = ();
    $conn     = dial();
    $draining = 0;
}
$conn->Disconnect() if $conn;
summary();
exit( $finals == $n ? 0 : 1 );

sub summary {
    my $el = time - $start;
    printf STDERR "ccs_netxmpp messages=%d finals=%d pending=%d %s in %.2fs (%.0f acked/s)\n", $n, $finals,
      scalar( keys %pending ), join( ' ', map {"$_=$c{$_}"} sort keys %c ), $el, $el > 0 ? ( $c{acked} // 0 ) / $el : 0;
}
