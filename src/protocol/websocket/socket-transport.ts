import type { RawData, WebSocket } from 'ws';
import { SweepTimer } from '../../core/sweep-timer.js';
import { type Clock, timerClock } from '../clock.js';
import type { MessageDecoder, ProtocolError, ProtocolErrorCode } from '../frame.js';
import { decodeMessages, encodeFrame, encodeMessages } from '../frame.js';
import { messageJson } from '../message-json.js';
import { credentialRevokedReason, protocolCloseInfo, TransportEnd } from '../transport-end.js';

/**
 * WebSocket close codes of protocol v1. 1000/1001/1009 keep their RFC 6455 meanings; the 4000
 * range is ours. A close frame's reason starts with the error code, e.g. `VK_PROTOCOL: m.jobId: …`.
 */
export const closeCodes = {
  normal: 1000,
  goingAway: 1001,
  frameTooLarge: 1009,
  protocol: 4000,
  protocolVersion: 4001,
  peerTimeout: 4008,
  /** VK_CREDENTIAL_REVOKED: the credential the connection was opened with was revoked (as HTTP 401). */
  credentialRevoked: 4401,
} as const;

const closeCodeOf: Record<ProtocolErrorCode, number> = {
  VK_PROTOCOL: closeCodes.protocol,
  VK_PROTOCOL_VERSION: closeCodes.protocolVersion,
  VK_FRAME_TOO_LARGE: closeCodes.frameTooLarge,
};

export interface KeepAliveOptions {
  readonly clock: Clock;
  /** A ping goes out this often; a peer that answered nothing since the previous ping is dead. */
  readonly intervalMs: number;
}

export const defaultKeepAliveIntervalMs = 15_000;

/** The connection's underlying stream (a net.Socket), whose writes can be held back and sent together. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * While corked, the writes of one tick are flushed whenever this many characters of frames have been
 * held back: a dispatcher that sends thousands of offers in one tick then lets the peer start on the
 * first ones while it is still sending the rest, instead of handing over everything at the tick's end.
 */
const flushEveryChars = 32 * 1024;

/** How a connection's ends frame messages, as agreed at the upgrade (handshake.ts, framesHeader). */
export type Framing = 'single' | 'batched';

/** RFC 6455 caps a close reason at 123 bytes. */
const maxCloseReasonBytes = 123;

/**
 * One WebSocket connection as a Transport, used by both the acceptor and the connector. Every text
 * frame is one message (see frame.ts). A frame that does not decode closes this connection with the
 * matching close code; so does a binary frame. Keep-alive: both ends ping every interval and
 * terminate a peer that sent neither a pong nor anything else since the previous ping — read first
 * when the check fires late, as after this process was paused (see SweepTimer).
 */
export class WebSocketTransport<Out, In> extends TransportEnd<Out, In> {
  private heardSincePing = true;
  private readonly keepAliveTimer: SweepTimer;
  private corked = false;
  /** Characters of frames sent since the stream was last corked or flushed. */
  private heldChars = 0;
  /** `batched`: the JSON of the messages sent this tick, not yet framed, and their length. */
  private pending: string[] = [];
  private pendingChars = 0;

  /**
   * `stream`, when given, is the socket under `socket`: messages sent in the same tick then leave in
   * one write instead of one system call each (a dispatcher sends hundreds of offers at once).
   * `batched` (both ends agreed): the messages of one tick leave in one frame, up to `flushEveryChars`
   * a frame, which saves each end most of the work of a frame per message; either end may still send
   * a frame of one message, and this end reads both kinds.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly decoder: MessageDecoder<In>,
    private readonly keepAlive: KeepAliveOptions,
    private readonly stream?: Corkable,
    private readonly framing: Framing = 'single',
  ) {
    super();
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('pong', () => this.heardNow());
    socket.on('ping', () => this.heardNow());
    // The 'close' event follows every 'error'; the error itself only shapes the reason.
    let socketError: Error | undefined;
    socket.on('error', (error) => {
      socketError = error;
    });
    socket.on('close', (code, reason) => this.socketClosed(code, reason.toString('utf8'), socketError));
    this.keepAliveTimer = new SweepTimer(timerClock(keepAlive.clock), {
      expire: () => this.checkPeer(),
      // The process was not running: what the peer sent meanwhile is read before the next check.
      extendDue: () => {
        this.heardSincePing = true;
      },
    });
    this.heard(keepAlive.clock.now());
    this.scheduleKeepAlive();
  }

  private heardNow(): void {
    this.heardSincePing = true;
    this.heard(this.keepAlive.clock.now());
  }

  send(message: Out): void {
    if (this.isClosed || this.socket.readyState !== this.socket.OPEN) return;
    if (this.framing === 'batched') {
      this.hold(messageJson(message));
      return;
    }
    const frame = encodeFrame(message);
    this.holdWritesUntilNextTick(frame.length);
    this.socket.send(frame);
  }

  /** Encoded at send, as a single frame is, so a caller may change the message object afterwards. */
  private hold(json: string): void {
    if (this.pendingChars + json.length > flushEveryChars) this.sendPending();
    if (this.pending.length === 0) process.nextTick(this.sendPending);
    this.pending.push(json);
    this.pendingChars += json.length;
  }

  private readonly sendPending = (): void => {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(encodeMessages(pending));
  };

  /**
   * Corks the stream once per tick, and flushes it early every `flushEveryChars`; cork counts nest, so
   * ws's own cork/uncork per frame still holds.
   */
  private holdWritesUntilNextTick(chars: number): void {
    const stream = this.stream;
    if (stream === undefined) return;
    if (this.corked) {
      this.heldChars += chars;
      if (this.heldChars < flushEveryChars) return;
      this.heldChars = chars;
      stream.uncork();
      stream.cork();
      return;
    }
    this.corked = true;
    this.heldChars = chars;
    stream.cork();
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.sendPending();
    this.finish({ kind: 'local', reason });
    this.stopKeepAlive();
    this.socket.close(closeCodes.normal, truncateReason(reason));
  }

  /** Closes with 1001: the peer should reconnect (a server shutting down). */
  goAway(reason: string): void {
    if (this.isClosed) return;
    this.sendPending();
    this.finish({ kind: 'local', reason });
    this.stopKeepAlive();
    this.socket.close(closeCodes.goingAway, truncateReason(reason));
  }

  /**
   * Closes with 4401: the credential this connection was opened with was revoked, and the peer must
   * not reconnect with it. Messages not yet written are dropped: nothing more goes to that peer. The
   * close reason is `VK_CREDENTIAL_REVOKED: <why>`.
   */
  credentialRevoked(why: string): void {
    if (this.isClosed) return;
    this.pending = [];
    this.pendingChars = 0;
    const reason = credentialRevokedReason(why);
    this.finish({ kind: 'local', reason });
    this.stopKeepAlive();
    this.socket.close(closeCodes.credentialRevoked, truncateReason(reason));
  }

  private receive(data: RawData, isBinary: boolean): void {
    this.heardNow();
    if (this.isClosed) return;
    if (isBinary || !Buffer.isBuffer(data)) {
      this.reject({ code: 'VK_PROTOCOL', message: 'binary frames are not part of the protocol; send text' });
      return;
    }
    const decoded = decodeMessages(data, this.decoder, this.framing === 'batched');
    if (decoded.kind === 'error') this.reject(decoded.error);
    else for (const message of decoded.value) this.deliver(message);
  }

  reject(error: ProtocolError): void {
    if (this.isClosed) return;
    this.sendPending();
    const info = protocolCloseInfo(error);
    this.finish(info);
    this.stopKeepAlive();
    this.socket.close(closeCodeOf[error.code], truncateReason(info.reason));
  }

  private socketClosed(code: number, reason: string, error: Error | undefined): void {
    this.stopKeepAlive();
    const detail = reason !== '' ? reason : (error?.message ?? 'no reason given');
    if (code === closeCodes.normal || code === closeCodes.protocol || code === closeCodes.protocolVersion) {
      this.finish({ kind: 'remote', reason: detail });
    } else if (code === closeCodes.frameTooLarge && reason === '') {
      // ws closes with a bare 1009 when a frame exceeds maxPayload, on either end.
      const limit = this.decoder.maxFrameBytes;
      this.finish({
        kind: 'protocol',
        code: 'VK_FRAME_TOO_LARGE',
        reason: `VK_FRAME_TOO_LARGE: a frame exceeded the limit of ${limit} bytes`,
      });
    } else if (code === closeCodes.frameTooLarge) {
      this.finish({ kind: 'remote', reason });
    } else if (code === closeCodes.credentialRevoked) {
      this.finish({ kind: 'refused', code: 'VK_CREDENTIAL_REVOKED', reason: detail });
    } else {
      // What ended it, not that it ended: every reader of a `lost` reason already says it was lost.
      const reason = `close code ${code}: ${detail}`;
      this.finish(
        code === closeCodes.goingAway ? { kind: 'lost', reason, goingAway: true } : { kind: 'lost', reason },
      );
    }
  }

  private scheduleKeepAlive(): void {
    const { clock, intervalMs } = this.keepAlive;
    this.keepAliveTimer.arm(clock.now() + intervalMs);
  }

  /** Terminates a peer that answered nothing since the previous ping; pings one that did. */
  private checkPeer(): void {
    if (this.isClosed) return;
    if (!this.heardSincePing) {
      const reason = `VK_PEER_TIMEOUT: no pong or message for ${this.keepAlive.intervalMs} ms after a ping`;
      this.finish({ kind: 'lost', reason });
      this.socket.terminate();
      return;
    }
    this.heardSincePing = false;
    this.socket.ping();
    this.scheduleKeepAlive();
  }

  private stopKeepAlive(): void {
    this.keepAliveTimer.close();
  }
}

function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= maxCloseReasonBytes) return reason;
  // Cut on a character boundary: decoding a split multi-byte sequence would yield U+FFFD.
  let end = maxCloseReasonBytes - 3;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}...`;
}
