#!/usr/bin/ruby
# A CCS app server on xmpp4r, run as `ccsbench judge -- ruby ccs_xmpp4r.rb`.
#
# xmpp4r (Debian's ruby-xmpp4r) is what Ruby CCS app servers were built on:
# Client#use_ssl = true for TLS from the first byte, Client#connect(host,
# port), Client#auth(api_key) for SASL PLAIN, the bind and the session. The
# <gcm xmlns="google:mobile:data"> element is a REXML element in an
# xmpp4r Message, found again by namespace in every message that arrives.
#
# On top of that, the app does what a CCS app server must: at most 100
# messages unanswered per connection, an ACK for every upstream message and
# delivery receipt (with the receipt's own "dr2:" id), a new connection at
# once on CONNECTION_DRAINING while the old one is still read, every
# unanswered message sent again when a connection is lost, and
# SERVICE_UNAVAILABLE / INTERNAL_SERVER_ERROR retried after a backoff
# doubling from one second.
#
# The contract is the judge's environment: CCS_HOST, CCS_PORT,
# CCS_SENDER_ID, CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_RATE,
# CCS_RECEIPTS, CCS_SCENARIO. CCS_CONNS sets the connections held (default
# 2); XMPP4R_DEBUG=1 turns on xmpp4r's wire log (SASL included: only with a
# test key). CCS_CA_FILE is not used: xmpp4r's use_ssl wraps the socket in
# an SSLSocket with a default context, which verifies no certificate (see the
# README). CCS_PROBE=1 first sends one message without a message_id and one that is not JSON,
# which the fake answers with stanza errors.

require 'json'
require 'openssl'
require 'thread'
require 'xmpp4r'

GCM_NS = 'google:mobile:data'
WINDOW = 100
MAX_RETRIES = 6
RETRYABLE = %w[SERVICE_UNAVAILABLE INTERNAL_SERVER_ERROR].freeze

$stderr.sync = true
$t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
def log(msg) = $stderr.puts(format('ccs_xmpp4r [%s] %.3f %s', ENV['CCS_SCENARIO'], now - $t0, msg))

# One downstream message of the run and its retry state.
Item = Struct.new(:idx, :id, :reg, :attempts, :backoff, :final)

# One CCS connection: an xmpp4r Client plus its window and pending ids.
class Conn
  attr_reader :client, :slot, :pending, :mu
  attr_accessor :draining, :ended, :answers

  def initialize(app, slot)
    @app, @slot = app, slot
    @mu = Mutex.new
    @cv = ConditionVariable.new
    @pending = {}
    @draining = @ended = false
    @answers = 0
    @client = Jabber::Client.new(Jabber::JID.new("#{app.sender}@gcm.googleapis.com"))
    @client.use_ssl = true # TLS from the first byte (no STARTTLS in CCS)
  end

  def open(host, port)
    @client.connect(host, port)
    @client.on_exception { |e, _stream, where| ended!("#{where}: #{e ? "#{e.class}: #{e.message}" : 'stream closed'}") }
    @client.add_message_callback { |m| guard { @app.read(self, m) } }
    @client.auth(@app.key)
  end

  def guard
    yield
  rescue StandardError => e
    log("handling a message: #{e.class}: #{e.message}")
  end

  def send_gcm(payload)
    text = payload.is_a?(String) ? payload : JSON.generate(payload)
    msg = Jabber::Message.new
    gcm = msg.add_element('gcm', 'xmlns' => GCM_NS)
    gcm.text = text # REXML escapes it
    @client.send(msg)
  end

  # reserve waits for room in the window; false once the connection stops.
  def reserve
    @mu.synchronize do
      @cv.wait(@mu, 0.05) while @pending.size >= WINDOW && !stopped?
      !stopped?
    end
  end

  def stopped? = @draining || @ended

  def wake = @mu.synchronize { @cv.broadcast }

  def take(mid)
    @mu.synchronize do
      item = @pending.delete(mid)
      if item
        @answers += 1
        @cv.broadcast
      end
      item
    end
  end

  def ended!(why)
    @mu.synchronize do
      return if @ended
      @ended = true
      @cv.broadcast
    end
    @app.lost(self, why)
  end
end

class App
  attr_reader :sender, :key

  def initialize
    @host, @port = ENV.fetch('CCS_HOST'), Integer(ENV.fetch('CCS_PORT'))
    @sender, @key = ENV.fetch('CCS_SENDER_ID'), ENV.fetch('CCS_API_KEY', '')
    @scenario = ENV.fetch('CCS_SCENARIO', '')
    @rate = Float(ENV.fetch('CCS_RATE', '0').then { |s| s.empty? ? '0' : s })
    @receipts = ENV['CCS_RECEIPTS'] == '1'
    @nconns = Integer(ENV.fetch('CCS_CONNS', '2'))
    @probe = ENV['CCS_PROBE'] == '1'
    @items = Array.new(Integer(ENV.fetch('CCS_MESSAGES'))) { |i| Item.new(i, "m#{i}", format('reg-%07d', i), 0, 0.0, false) }
    @mu = Mutex.new
    @cv = ConditionVariable.new
    @resend = [] # sent again ahead of new messages
    @next_new = 0
    @finals = 0
    @live = []
    @c = Hash.new(0)
    @nacks = Hash.new(0)
    @start = now
  end

  def done? = @mu.synchronize { @finals == @items.size }

  def run(deadline)
    return true if @items.empty?

    slots = Array.new(@nconns) { |n| Thread.new { slot(n) } }
    @mu.synchronize { @cv.wait(@mu, 0.1) until @finals == @items.size || now - @start > deadline }
    ok = done?
    log("gave up with #{@finals} of #{@items.size} messages answered") unless ok
    slots.each { |t| t.join(1) || t.kill }
    @mu.synchronize { @live.dup }.each do |conn|
      conn.ended = true
      conn.client.close # sends </stream:stream>
    rescue StandardError
      nil
    end
    ok
  end

  # slot holds one logical connection: dial, send, dial again after a drain
  # or a loss (at once if the connection worked, else backing off).
  def slot(n)
    backoff = 0.0
    until done?
      sleep(backoff * (1 + rand / 4)) if backoff.positive?
      conn = Conn.new(self, n)
      @mu.synchronize { @c[:dials] += 1 }
      begin
        conn.open(@host, @port)
      rescue StandardError => e
        log("slot #{n}: #{e.class}: #{e.message}")
        conn.ended = true
        begin
          conn.client.close
        rescue StandardError
          nil
        end
        backoff = [[0.5, 2 * backoff].max, 15].min
        next
      end
      @mu.synchronize { @live << conn }
      probe(conn)
      send_loop(conn)
      backoff = conn.draining || conn.answers.positive? ? 0.0 : [[0.5, 2 * backoff].max, 15].min
    end
  end

  def probe(conn)
    return unless @mu.synchronize { @probe.tap { @probe = false } }

    conn.send_gcm(JSON.generate({ to: 'reg-probe', data: { probe: 'no message_id' } }))
    conn.send_gcm('{"to": "reg-probe", not json')
  end

  # next_item waits for a message to send (resends first, new ones at the
  # pace of CCS_RATE); nil once the connection stops or the run is done.
  def next_item(conn)
    @mu.synchronize do
      loop do
        return nil if conn.stopped? || @finals == @items.size

        item = @resend.shift
        return item if item && !item.final
        next if item

        if @next_new < @items.size
          due = @rate.positive? ? @start + @next_new / @rate : 0
          if now >= due
            @next_new += 1
            return @items[@next_new - 1]
          end
          @cv.wait(@mu, [due - now, 0.05].min)
        else
          @cv.wait(@mu, 0.05)
        end
      end
    end
  end

  def send_loop(conn)
    loop do
      break unless conn.reserve

      item = next_item(conn)
      break unless item

      conn.mu.synchronize do
        if conn.stopped?
          put(item)
          return
        end
        conn.pending[item.id] = item
      end
      payload = { to: item.reg, message_id: item.id, time_to_live: 600, data: { n: item.id, scenario: @scenario } }
      payload[:delivery_receipt_requested] = true if @receipts
      conn.send_gcm(payload)
    end
    # Keep reading a draining connection until the server ends it.
    sleep 0.05 until conn.ended || done?
  end

  def put(item)
    @mu.synchronize do
      @resend << item
      @cv.broadcast
    end
  end

  def finish(item)
    @mu.synchronize do
      item.final = true
      @finals += 1
      @cv.broadcast
    end
  end

  def count(key, by = 1) = @mu.synchronize { @c[key] += by }

  def read(conn, msg)
    gcm = msg.elements.to_a.find { |e| e.name == 'gcm' && e.namespace == GCM_NS }
    return unless gcm

    text = gcm.text.to_s
    begin
      p = JSON.parse(text)
    rescue JSON::ParserError
      p = nil
    end
    if msg.type == :error
      # A stanza error echoes the payload that caused it.
      item = p.is_a?(Hash) && p['message_id'] ? conn.take(p['message_id']) : nil
      if item
        count(:stanza_errors)
        finish(item)
      else
        count(:probe_errors)
        log("stanza error #{msg.error&.error} for a message that is not ours: #{text[0, 120]}")
      end
      return
    end
    unless p.is_a?(Hash)
      log("unreadable gcm payload: #{text[0, 200]}")
      return
    end
    case p['message_type']
    when 'ack'
      item = conn.take(p['message_id'])
      if item
        count(:acked)
        finish(item)
      end
    when 'nack' then nack(conn, p)
    when 'control' then drain(conn) if p['control_type'] == 'CONNECTION_DRAINING'
    when 'receipt', nil
      # Upstream messages and receipts: ACK at once, whatever the window.
      conn.send_gcm({ message_type: 'ack', to: p['from'], message_id: p['message_id'] })
      count(p['message_type'] ? :receipts_acked : :upstream_acked)
    end
  end

  def nack(conn, p)
    code = p['error'].to_s.split(/[: ]/).first.to_s
    drain(conn) if code == 'CONNECTION_DRAINING'
    item = conn.take(p['message_id'])
    unless item
      log("answer for #{p['message_id'].inspect}, which is not pending here")
      return
    end
    if code == 'CONNECTION_DRAINING'
      count(:resends)
      put(item)
    elsif RETRYABLE.include?(code) && item.attempts < MAX_RETRIES
      item.attempts += 1
      item.backoff = item.backoff.zero? ? 1.0 : [2 * item.backoff, 16.0].min
      count(:retries)
      wait = item.backoff * (1 + rand / 10)
      Thread.new { sleep wait; put(item) }
    else
      count(:nacked)
      @mu.synchronize { @nacks[code] += 1 }
      finish(item)
    end
  end

  def drain(conn)
    first = conn.mu.synchronize { !conn.draining.tap { conn.draining = true } }
    return unless first

    count(:drains)
    conn.wake
  end

  def lost(conn, why)
    @mu.synchronize { @live.delete(conn) }
    return if done?

    count(:losses) unless conn.draining
    items = conn.mu.synchronize { conn.pending.values.tap { conn.pending.clear } }
    items.each do |item|
      count(:resends)
      put(item)
    end
    log("connection ended (draining=#{conn.draining}, #{items.size} unanswered sent again): #{why}") if items.any? || !conn.draining
  end

  def summary
    el = now - @start
    format('messages=%d %s nacks=%s in %.2fs (%.0f acked/s)', @items.size,
           @c.map { |k, v| "#{k}=#{v}" }.join(' '), @nacks.to_h, el, el.positive? ? @c[:acked] / el : 0)
  end
end

Jabber.debug = ENV['XMPP4R_DEBUG'] == '1'
app = App.new
ok = app.run(600)
log(app.summary)
exit(ok ? 0 : 1)
