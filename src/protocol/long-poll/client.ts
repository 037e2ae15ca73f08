import type { Agent } from 'node:http';
import { DeadlineTimer } from '../../core/deadline-timer.js';
import { networkFailure, requestFailureAt } from '../attempt-failure.js';
import { type Clock, systemClock, timerClock } from '../clock.js';
import { decodeBatch, type MessageDecoder, type ProtocolError } from '../frame.js';
import { type ConnectResult, parseErrorBody, refusesCredential, versionHeader } from '../handshake.js';
import { protocolVersion } from '../messages.js';
import { certificateFailure } from '../tls-certificate.js';
import { type CloseInfo, protocolCloseInfo, TransportEnd } from '../transport-end.js';
import { keepAliveAgent, sendRequest } from './http-request.js';
import { type Dropped, defaultMaxQueuedBytes, OutgoingQueue, type SendLane } from './outgoing-queue.js';

export interface LongPollConnectOptions<In, Out = unknown> {
  /** http(s) URL of the acceptor's basePath. */
  readonly baseUrl: string;
  readonly decoder: MessageDecoder<In>;
  /** Sent with every request, e.g. `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  /** Pause before retrying a request that failed on the network. */
  readonly retryDelayMs?: number;
  /** How each message sent waits in the queue (outgoing-queue.ts); default: all `ordered`. */
  readonly laneOf?: (message: Out) => SendLane;
  /** Droppable messages go once more than this many bytes wait to be sent; default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** Told of each droppable message dropped unsent. */
  readonly onDropped?: (dropped: Dropped) => void;
  readonly signal?: AbortSignal;
}

/**
 * After failing this long without one success, the session counts as lost. Not an option: the
 * server keeps a silent session this long and a margin (defaultSessionTtlMs), which a client that
 * retried for longer would outlast.
 */
export const giveUpAfterMs = 10_000;
/** How long opening a session waits for the server's answer, as a WebSocket handshake does (connector.ts). */
const openTimeoutMs = 10_000;

/** How much longer than the server's hold time a poll waits for its answer. */
const pollGraceMs = 10_000;

const ordered: SendLane = { kind: 'ordered' };

/** Server end codes after which a client should reconnect rather than stop. */
const reconnectCodes = new Set(['VK_SHUTTING_DOWN', 'VK_PEER_TIMEOUT', 'VK_SESSION_NOT_FOUND']);

/** How a session the server ended with `code` closed: lost (reconnect) for the reconnectCodes. */
function lostOrRemote(code: string, reason: string): CloseInfo {
  if (!reconnectCodes.has(code)) return { kind: 'remote', reason };
  return code === 'VK_SHUTTING_DOWN' ? { kind: 'lost', reason, goingAway: true } : { kind: 'lost', reason };
}

/**
 * Opens a long-poll session. Resolves `connected` with the session running (polling already),
 * `rejected` on the server's 401/403 or a protocol version refusal, `untrusted` when the server's TLS certificate
 * fails verification, `unreachable` otherwise. Never rejects.
 */
export async function connectLongPoll<Out, In>(
  options: LongPollConnectOptions<In, Out>,
): Promise<ConnectResult<LongPollClient<Out, In>>> {
  const agent = keepAliveAgent(options.baseUrl);
  // A server that takes the connection and never answers (a hung process, whose kernel still
  // accepts; a proxy holding the request) would hold the runner's reconnect for good, silently.
  // Real time, as the WebSocket handshake is timed (connector.ts): the options' clock paces retries
  // and polls.
  // Late-aware (DeadlineTimer), as the poll's timeout: a runner paused while its open was out reads
  // the session the server opened meanwhile before giving the open up, and after a long pause gives
  // it one more period.
  const timeout = new AbortController();
  const deadline = new DeadlineTimer(timerClock(systemClock), openTimeoutMs, () => timeout.abort());
  deadline.start();
  const signal =
    options.signal === undefined ? timeout.signal : AbortSignal.any([options.signal, timeout.signal]);
  let response: { status: number; text: string };
  try {
    response = await sendRequest(agent, `${options.baseUrl}/sessions`, {
      method: 'POST',
      headers: requestHeaders(options.headers),
      signal,
    });
  } catch (error) {
    agent.destroy();
    if (timeout.signal.aborted && options.signal?.aborted !== true)
      return {
        kind: 'unreachable',
        reason: `no answer within ${openTimeoutMs / 1000}s`,
        failed: networkFailure,
      };
    const failure = certificateFailure(error);
    if (failure !== undefined) return { kind: 'untrusted', failure, reason: describeRequestError(error) };
    return {
      kind: 'unreachable',
      reason: describeRequestError(error),
      failed: await requestFailureAt(options.baseUrl, error, options.signal),
    };
  } finally {
    deadline.close();
  }
  const { text } = response;
  if (response.status !== 201) {
    agent.destroy();
    const body = parseErrorBody(text, response.status);
    const { code, message } = body;
    if (refusesCredential(response.status, body) || code === 'VK_PROTOCOL_VERSION')
      return { kind: 'rejected', status: response.status, code, reason: `${code}: ${message}` };
    return {
      kind: 'unreachable',
      reason: `session refused with ${code}: ${message}`,
      failed: { kind: 'answered', status: response.status },
    };
  }
  const opened = parseOpened(text);
  if (opened === undefined) {
    agent.destroy();
    return {
      kind: 'unreachable',
      reason: `unexpected session response ${text.slice(0, 80)}`,
      failed: { kind: 'answered', status: response.status },
    };
  }
  const sessionUrl = `${options.baseUrl}/sessions/${opened.sessionId}`;
  const client = new LongPollClient<Out, In>(options, agent, sessionUrl, opened.holdMs);
  return { kind: 'connected', transport: client };
}

/**
 * The client end of a long-poll session, as a Transport. One poll is always open while the session
 * is; each acknowledges the last sequence number received, so a lost response is answered again and
 * duplicates are dropped here. Sends leave one POST at a time, batched per tick, in order within
 * their lane: urgent ones (`laneOf`) ahead of the rest, and droppable ones may be dropped unsent when
 * more than `maxQueuedBytes` wait (OutgoingQueue). A POST that fails on the network is retried with
 * the same sequence numbers, which the server dedups.
 * close() fires onClose at once, then delivers what was already sent and deletes the session.
 */
export class LongPollClient<Out, In> extends TransportEnd<Out, In> {
  private readonly clock: Clock;
  private readonly headers: Record<string, string>;
  private readonly poller = new AbortController();
  private lastReceived = 0;
  private readonly outgoing: OutgoingQueue;
  /** What the server had not acknowledged when the session ended (takeUnacknowledged), as sent. */
  private unacknowledged: string[] = [];
  private posting: Promise<void> | undefined;
  /**
   * Abandons the open poll once held pollGraceMs past holdMs. Late-aware (DeadlineTimer), as it fires
   * before a runner that was paused reads the answer waiting in its socket: it reads first, and after
   * a long pause gives the poll one more period.
   */
  private readonly pollTimer: DeadlineTimer;
  /** Aborts the open poll (pollTimer). */
  private pollTimeout = new AbortController();
  /**
   * Started at the first failure since the last success; once it is due, the next failure ends the
   * session. Late-aware (DeadlineTimer), so that time the runner itself did not run is not counted
   * against the server: one late by a pause grants giveUpAfterMs more from the resume.
   */
  private readonly giveUpTimer: DeadlineTimer;
  private failing = false;
  private failingTooLong = false;
  private ending: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: LongPollConnectOptions<In, Out>,
    private readonly agent: Agent,
    private readonly sessionUrl: string,
    private readonly holdMs: number,
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.headers = requestHeaders(options.headers);
    this.outgoing = new OutgoingQueue(
      {
        maxBatchBytes: options.decoder.maxFrameBytes,
        maxQueuedBytes: options.maxQueuedBytes ?? defaultMaxQueuedBytes,
      },
      options.onDropped,
    );
    const timers = timerClock(this.clock);
    this.pollTimer = new DeadlineTimer(timers, holdMs + pollGraceMs, () => this.pollTimeout.abort());
    this.giveUpTimer = new DeadlineTimer(timers, giveUpAfterMs, () => {
      this.failingTooLong = true;
    });
    this.heard(this.clock.now());
    void this.pollLoop();
  }

  send(message: Out): void {
    if (this.isClosed) return;
    this.outgoing.push(JSON.stringify(message), this.options.laneOf?.(message) ?? ordered);
    if (this.posting === undefined) {
      this.posting = Promise.resolve()
        .then(() => this.postLoop())
        .finally(() => {
          this.posting = undefined;
        });
    }
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.end({ kind: 'local', reason });
  }

  reject(error: ProtocolError): void {
    if (this.isClosed) return;
    this.end(protocolCloseInfo(error));
  }

  /** Resolves once close() has delivered what was sent and ended the session, or could not. */
  whenEnded(): Promise<void> {
    return this.ending;
  }

  /** Resolves once everything sent so far has been acknowledged, or could not be. */
  async drained(): Promise<void> {
    while (this.posting !== undefined) await this.posting;
  }

  /**
   * Once the session has ended: the messages sent on it that the server had not acknowledged then,
   * in order (then none). A session that was lost — the server restarted and knows it no more, or
   * requests failed for giveUpAfterMs — leaves every message sent while it was failing here; the
   * server most likely never took them. Each call after the first returns none.
   */
  takeUnacknowledged(): Out[] {
    const taken = this.unacknowledged;
    this.unacknowledged = [];
    // Parsed back from the JSON sent rather than kept as objects too: a backlog of lines is large.
    return taken.map((json) => JSON.parse(json) as Out);
  }

  private end(info: CloseInfo, deleteSession = true): void {
    // A copy: close() still delivers them.
    if (!this.isClosed) this.unacknowledged = this.outgoing.pending();
    this.finish(info);
    this.poller.abort();
    this.pollTimer.close();
    this.giveUpTimer.close();
    if (!deleteSession) {
      this.ending = this.drained().finally(() => this.agent.destroy());
      return;
    }
    this.ending = this.drained()
      .then(() =>
        sendRequest(
          this.agent,
          `${this.sessionUrl}?reason=${encodeURIComponent(info.reason.slice(0, 200))}`,
          {
            method: 'DELETE',
            headers: this.headers,
          },
        ),
      )
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.agent.destroy());
  }

  private async pollLoop(): Promise<void> {
    while (!this.isClosed) {
      const timeout = new AbortController();
      this.pollTimeout = timeout;
      // A server that vanished without a TCP reset would hold the poll forever.
      this.pollTimer.start();
      try {
        const { status, text } = await sendRequest(
          this.agent,
          `${this.sessionUrl}/messages?ack=${this.lastReceived}`,
          {
            method: 'GET',
            headers: this.headers,
            signal: AbortSignal.any([this.poller.signal, timeout.signal]),
          },
        );
        this.succeeded();
        if (status === 200) {
          this.heard(this.clock.now());
          this.receive(text);
        } else this.refused(status, text);
      } catch (error) {
        if (this.isClosed) return;
        // The abort's own text says nothing of why ("The operation was aborted" twice).
        const gaveUp = timeout.signal.aborted && !this.poller.signal.aborted;
        await this.failed(
          'poll failed',
          gaveUp ? `no answer within ${(this.holdMs + pollGraceMs) / 1000}s` : error,
        );
      } finally {
        this.pollTimer.cancel();
      }
    }
  }

  private receive(text: string): void {
    const decoded = decodeBatch(text, { ...this.options.decoder, maxFrameBytes: Number.MAX_SAFE_INTEGER });
    if (decoded.kind === 'error') {
      this.end(protocolCloseInfo(decoded.error));
      return;
    }
    const { seq, messages, envelope } = decoded.value;
    for (const [index, message] of messages.entries()) {
      if (seq + index <= this.lastReceived) continue;
      this.lastReceived = seq + index;
      this.deliver(message);
    }
    const closed = envelope.closed;
    if (typeof closed === 'object' && closed !== null) {
      const { code, reason } = closed as Record<string, unknown>;
      const text = `${String(code)}: ${String(reason)}`;
      this.end(lostOrRemote(String(code), text), false);
    }
  }

  private refused(status: number, text: string): void {
    const body = parseErrorBody(text, status);
    const { code, message } = body;
    const reason = `${code}: ${message}`;
    if (status === 404) this.end({ kind: 'lost', reason }, false);
    else if (reconnectCodes.has(code)) this.end(lostOrRemote(code, reason), false);
    // The session's credential was revoked (VK_CREDENTIAL_REVOKED): a new session would be refused too.
    else if (refusesCredential(status, body)) this.end({ kind: 'refused', code, reason }, false);
    // A proxy's 401/403, not the server's, is the network's answer: reconnect, as after a 404.
    else if (status === 401 || status === 403) this.end({ kind: 'lost', reason }, false);
    else this.end({ kind: 'remote', reason }, false);
  }

  private async postLoop(): Promise<void> {
    for (let batch = this.outgoing.next(); batch !== undefined; batch = this.outgoing.next()) {
      const { first, jsons } = batch;
      try {
        const { status, text } = await sendRequest(this.agent, `${this.sessionUrl}/messages`, {
          method: 'POST',
          headers: { ...this.headers, 'content-type': 'application/json' },
          body: `{"v":${protocolVersion},"seq":${first},"messages":[${jsons.join(',')}]}`,
        });
        this.succeeded();
        if (status !== 200) {
          // Ended first, so that what this batch held stays unacknowledged (a restarted server's 404).
          this.refused(status, text);
          this.outgoing.clear();
          return;
        }
        this.heard(this.clock.now());
        this.outgoing.acknowledged(parseAck(text) ?? first + jsons.length - 1);
      } catch (error) {
        if (await this.failed('send failed', error)) {
          this.outgoing.clear();
          return;
        }
      }
    }
  }

  /** A request was answered: the server is reachable again. */
  private succeeded(): void {
    this.failing = false;
    this.failingTooLong = false;
    this.giveUpTimer.cancel();
  }

  /**
   * Waits before a retry; returns true (and ends the session as lost) once failing too long, or at
   * once (as untrusted) when a new connection found the server's TLS certificate failing verification.
   */
  private async failed(what: string, error: unknown): Promise<boolean> {
    const reason = `${what}: ${describeRequestError(error)}`;
    const failure = certificateFailure(error);
    if (failure !== undefined) {
      this.end({ kind: 'untrusted', failure, reason }, false);
      return true;
    }
    if (!this.failing) {
      this.failing = true;
      this.giveUpTimer.start();
    }
    if (this.failingTooLong) {
      this.end({ kind: 'lost', reason }, false);
      return true;
    }
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.options.retryDelayMs ?? 200));
    return this.isClosed;
  }
}

function requestHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return { ...headers, [versionHeader]: String(protocolVersion) };
}

function parseOpened(text: string): { sessionId: string; holdMs: number } | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (typeof value.sessionId === 'string' && typeof value.holdMs === 'number')
      return { sessionId: value.sessionId, holdMs: value.holdMs };
  } catch {
    // Falls through: not a session response.
  }
  return undefined;
}

function parseAck(text: string): number | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    return typeof value.ack === 'number' ? value.ack : undefined;
  } catch {
    return undefined;
  }
}

function describeRequestError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
