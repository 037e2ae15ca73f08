import { type AttemptFailure, mostTelling, networkFailure } from './attempt-failure.js';
import { type BackoffPolicy, backoffDelayMs, backoffWait, defaultBackoff } from './backoff.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import type { MessageDecoder, ProtocolError } from './frame.js';
import type { ConnectResult } from './handshake.js';
import { connectLongPoll, type LongPollClient } from './long-poll/client.js';
import type { Dropped, SendLane } from './long-poll/outgoing-queue.js';
import { type CloseInfo, type NetworkTransport, protocolCloseInfo, TransportEnd } from './transport-end.js';
import { connectWebSocket } from './websocket/connector.js';

export type TransportKind = 'websocket' | 'long-poll';

/** What connecting resolves with once this transport is closed (its stop): no round is told of it. */
const closedWhileConnecting = {
  kind: 'unreachable',
  reason: 'closed while connecting',
  failed: networkFailure,
} as const;

/** capRetryDelay's ceiling goes no lower: a tiny lease TTL must not make reconnects hammer. */
export const minRetryCeilingMs = 250;

export interface TransportSwitch {
  readonly from: TransportKind;
  readonly to: TransportKind;
  readonly reason: string;
}

/** The connection of `kind` was lost (not closed on purpose); a new one is being opened. */
export interface TransportLoss {
  readonly kind: TransportKind;
  readonly reason: string;
  /** The server said it is shutting down (CloseInfo's goingAway). */
  readonly goingAway: boolean;
}

/** A round of connection attempts (each transport tried once) reached no server. */
export interface TransportUnreachable {
  /** Each transport's failure, as `kind: reason`, joined by `; `. */
  readonly reason: string;
  /** How long it waits before the next round. */
  readonly retryInMs: number;
  /** The wait has reached its cap (the backoff's, or capRetryDelay's): the rounds come no further apart. */
  readonly atCap: boolean;
  /** What the round's attempts say of the server (mostTelling): unreachable, or there but not usable. */
  readonly failed: AttemptFailure;
}

type Connection<Out, In> =
  | { readonly kind: 'websocket'; readonly transport: NetworkTransport<Out, In> }
  | { readonly kind: 'long-poll'; readonly transport: LongPollClient<Out, In> };

export interface AutoConnectOptions<In, Out = unknown> {
  readonly webSocketUrl: string;
  readonly longPollUrl: string;
  readonly decoder: MessageDecoder<In>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly keepAliveIntervalMs?: number;
  /** Use this transport only (`--protocol ws|http`): same reconnects and backoff, no switching. */
  readonly only?: TransportKind;
  /**
   * Which of the messages a lost long-poll session had not delivered go out again on the next
   * session, in order, after its onSwitch listeners' and before those sent since (none by default).
   * Such a session stays open while its requests fail, for up to its give-up time, so a server
   * restart would otherwise drop every message sent meanwhile.
   */
  readonly carryOver?: (message: Out) => boolean;
  /** How a long-poll session queues each message (LongPollConnectOptions.laneOf). */
  readonly laneOf?: (message: Out) => SendLane;
  /** Told of each droppable message a long-poll session dropped unsent (LongPollConnectOptions). */
  readonly onDropped?: (dropped: Dropped) => void;
  /**
   * Told of each round of attempts that reached no server (AutoTransport.onUnreachable), from the
   * first connect on: a listener added once connectAuto resolves would miss those of a server that
   * is down when the runner starts.
   */
  readonly onUnreachable?: (round: TransportUnreachable) => void;
  readonly signal?: AbortSignal;
}

/**
 * Connects by WebSocket, or by HTTP long-poll when the WebSocket cannot connect; retries both with
 * jittered exponential backoff (capped at 30 s by default) until one connects, the server rejects the
 * credentials or version (`rejected`), its TLS certificate fails verification (`untrusted`: the other
 * transport would meet the same certificate), or the signal aborts (`unreachable`).
 */
export async function connectAuto<Out, In>(
  options: AutoConnectOptions<In, Out>,
): Promise<ConnectResult<AutoTransport<Out, In>>> {
  const auto = new AutoTransport<Out, In>(options);
  const first = await auto.connectFirst();
  return first.kind === 'connected' ? { kind: 'connected', transport: auto } : first;
}

/**
 * A Transport that keeps one underlying connection, WebSocket preferred:
 * - When the WebSocket drops (the network, a keep-alive timeout, a server going away), it opens a
 *   long-poll session at once, then probes the WebSocket with backoff and moves back when it opens.
 * - When the long-poll session is lost, it tries the WebSocket first, then long-poll, with backoff.
 * - A deliberate close by the server, a protocol error, a refused credential (revoked, or refused at a
 *   reconnect: `refused`), a TLS certificate that fails verification at a reconnect or a WebSocket
 *   probe (`untrusted`) or close() ends it for good (onClose).
 * Messages sent while no connection is up are held and sent, in order, on the next one. Messages
 * already handed to a connection that then dropped may be lost: a switch is a new session — but
 * those a lost long-poll session had not delivered that `carryOver` keeps go first to the next one.
 *
 * A switch is a new session on the server, which knows nothing of the old one: onSwitch listeners
 * run before held messages are flushed, so a `register` sent from the listener is the first message
 * of the new session. Running a job exactly once across a switch is the control plane's job (leases
 * and fencing tokens), not the transport's.
 */
export class AutoTransport<Out, In> extends TransportEnd<Out, In> {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly stop = new AbortController();
  private readonly switchListeners: ((event: TransportSwitch) => void)[] = [];
  private readonly lossListeners: ((event: TransportLoss) => void)[] = [];
  private readonly unreachableListeners: ((event: TransportUnreachable) => void)[] = [];
  private current: Connection<Out, In> | undefined;
  private ended: Promise<void> = Promise.resolve();
  private waiting: Out[] = [];
  private probeTimer: TimerHandle | undefined;
  private probeAttempt = 0;
  private retryCeilingMs: () => number | undefined = () => undefined;
  /** When the last connection that ended heard from the server last. */
  private endedHeardAt: number | undefined;

  constructor(private readonly options: AutoConnectOptions<In, Out>) {
    super();
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    if (options.onUnreachable !== undefined) this.unreachableListeners.push(options.onUnreachable);
    options.signal?.addEventListener('abort', () => this.close('aborted'), { once: true });
  }

  /**
   * When the server was last heard from on the current connection (it opening, a message, a
   * keep-alive answer, a poll or send answered); while reconnecting, on the one that was lost.
   */
  override get heardAt(): number | undefined {
    return this.current?.transport.heardAt ?? this.endedHeardAt;
  }

  /** Which transport carries messages now; undefined while reconnecting. */
  get kind(): TransportKind | undefined {
    return this.current?.kind;
  }

  onSwitch(listener: (event: TransportSwitch) => void): void {
    this.switchListeners.push(listener);
  }

  /**
   * The moment a connection is lost, before the next one is tried: reconnecting may take a while
   * (backoff up to 30 s), and onSwitch only tells when it is done.
   */
  onLost(listener: (event: TransportLoss) => void): void {
    this.lossListeners.push(listener);
  }

  /**
   * A round of connection attempts (each transport tried once) reached no server, refused or
   * unanswered; the next round follows its backoff. After a loss whose server said it is going away,
   * the first such round says no other server behind the address took its place.
   */
  onUnreachable(listener: (event: TransportUnreachable) => void): void {
    this.unreachableListeners.push(listener);
  }

  /**
   * While `ceilingMs()` gives a number, reconnecting after a loss waits at most that long between
   * attempts, below the backoff's cap: a runner that holds leases must be back within their TTL, for
   * which a restarted server holds them (asked before each wait). Never below minRetryCeilingMs.
   */
  capRetryDelay(ceilingMs: () => number | undefined): void {
    this.retryCeilingMs = ceilingMs;
  }

  send(message: Out): void {
    if (this.isClosed) return;
    if (this.current === undefined) this.waiting.push(message);
    else this.current.transport.send(message);
  }

  close(reason = 'closed'): void {
    this.shutDown({ kind: 'local', reason }, (inner) => inner.close(reason));
  }

  /** The transport in use when this one closed: its whenEnded. */
  whenEnded(): Promise<void> {
    return this.ended;
  }

  reject(error: ProtocolError): void {
    this.shutDown(protocolCloseInfo(error), (inner) => inner.reject(error));
  }

  /** Ends this transport for good, and the current inner one with `endInner`. */
  private shutDown(info: CloseInfo, endInner: (inner: Connection<Out, In>['transport']) => void): void {
    if (this.isClosed) return;
    this.finish(info);
    this.stop.abort();
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    const inner = this.current?.transport;
    this.current = undefined;
    if (inner === undefined) return;
    endInner(inner);
    this.ended = inner.whenEnded?.() ?? this.ended;
  }

  /** @internal Used by connectAuto. */
  async connectFirst(): Promise<ConnectResult<true>> {
    const result = await this.connectWithBackoff(this.order(['websocket', 'long-poll']));
    if (result.kind === 'connected') this.adopt(result.transport);
    return result.kind === 'connected' ? { kind: 'connected', transport: true } : result;
  }

  private async connectWithBackoff(
    order: readonly TransportKind[],
  ): Promise<ConnectResult<Connection<Out, In>>> {
    for (let attempt = 0; ; attempt++) {
      const reasons: string[] = [];
      const failures: AttemptFailure[] = [];
      for (const kind of order) {
        if (this.stop.signal.aborted) return closedWhileConnecting;
        const result = await this.connect(kind);
        if (result.kind !== 'unreachable') return result;
        reasons.push(`${kind}: ${result.reason}`);
        failures.push(result.failed);
      }
      // A round the stop cut short says nothing of the server: its last attempt was aborted, or
      // asking what the server speaks was (requestFailureAt), and told it would read "unreachable".
      if (this.stop.signal.aborted) return closedWhileConnecting;
      const { delayMs, atCap } = backoffWait(attempt, this.random, this.retryPolicy());
      const failed = mostTelling(failures);
      const unreachable = { reason: reasons.join('; '), retryInMs: delayMs, atCap, failed };
      for (const listener of this.unreachableListeners) tell(listener, unreachable);
      const slept = await this.sleep(delayMs);
      if (!slept) return { kind: 'unreachable', reason: reasons.join('; '), failed };
    }
  }

  private retryPolicy(): BackoffPolicy {
    const policy = this.options.backoff ?? defaultBackoff;
    const ceiling = this.retryCeilingMs();
    if (ceiling === undefined) return policy;
    const capMs = Math.max(minRetryCeilingMs, ceiling);
    return capMs < policy.capMs ? { ...policy, capMs } : policy;
  }

  private async connect(kind: TransportKind): Promise<ConnectResult<Connection<Out, In>>> {
    const { decoder, headers, clock } = this.options;
    const common = {
      decoder,
      signal: this.stop.signal,
      ...(headers ? { headers } : {}),
      ...(clock ? { clock } : {}),
    };
    if (kind === 'long-poll') {
      const { laneOf, onDropped, longPollUrl } = this.options;
      const result = await connectLongPoll<Out, In>({
        ...common,
        baseUrl: longPollUrl,
        ...(laneOf === undefined ? {} : { laneOf }),
        ...(onDropped === undefined ? {} : { onDropped }),
      });
      return result.kind === 'connected'
        ? { kind: 'connected', transport: { kind, transport: result.transport } }
        : result;
    }
    const keepAlive = this.options.keepAliveIntervalMs;
    const result = await connectWebSocket<Out, In>({
      ...common,
      url: this.options.webSocketUrl,
      ...(keepAlive === undefined ? {} : { keepAliveIntervalMs: keepAlive }),
    });
    return result.kind === 'connected'
      ? { kind: 'connected', transport: { kind, transport: result.transport } }
      : result;
  }

  private adopt(entry: Connection<Out, In>, switched?: TransportSwitch): void {
    const { kind, transport } = entry;
    if (this.isClosed) {
      transport.close('closed');
      return;
    }
    this.current = entry;
    transport.onMessage((message) => {
      if (this.current === entry) this.deliver(message);
    });
    transport.onCloseInfo((info) => {
      if (this.current !== entry) return;
      this.endedHeardAt = transport.heardAt;
      if (info.kind === 'lost' && entry.kind === 'long-poll') this.carryOver(entry.transport);
      void this.connectionEnded(kind, info);
    });
    if (switched !== undefined) for (const listener of this.switchListeners) tell(listener, switched);
    const waiting = this.waiting;
    this.waiting = [];
    for (const message of waiting) transport.send(message);
    if (kind === 'long-poll' && this.options.only === undefined) this.scheduleProbe();
  }

  /** The lost session's undelivered messages that `carryOver` keeps, ahead of those held since. */
  private carryOver(lost: LongPollClient<Out, In>): void {
    const keep = this.options.carryOver;
    const unacknowledged = lost.takeUnacknowledged();
    if (keep === undefined) return;
    this.waiting = [...unacknowledged.filter(keep), ...this.waiting];
  }

  private async connectionEnded(kind: TransportKind, info: CloseInfo): Promise<void> {
    this.current = undefined;
    if (info.kind !== 'lost') return this.finish(info);
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    const loss = { kind, reason: info.reason, goingAway: info.goingAway === true };
    for (const listener of this.lossListeners) tell(listener, loss);
    const order: TransportKind[] =
      kind === 'websocket' ? ['long-poll', 'websocket'] : ['websocket', 'long-poll'];
    const result = await this.connectWithBackoff(this.order(order));
    if (result.kind === 'connected') {
      this.adopt(result.transport, { from: kind, to: result.transport.kind, reason: info.reason });
    } else if (this.isClosed) {
      return;
    } else if (result.kind === 'untrusted') {
      this.finish({ kind: 'untrusted', failure: result.failure, reason: result.reason });
    } else if (result.kind === 'rejected' && (result.status === 401 || result.status === 403)) {
      // The credential was revoked while the connection was down, perhaps on another replica.
      this.finish({ kind: 'refused', code: result.code, reason: result.reason });
    } else {
      this.finish({ kind: 'remote', reason: result.reason });
    }
  }

  private order(preferred: readonly TransportKind[]): readonly TransportKind[] {
    const { only } = this.options;
    return only === undefined ? preferred : [only];
  }

  /** While on long-poll, tries the WebSocket with backoff and moves over when it opens. */
  private scheduleProbe(): void {
    const delay = backoffDelayMs(this.probeAttempt++, this.random, this.options.backoff ?? defaultBackoff);
    this.probeTimer = this.clock.setTimeout(() => void this.probe(), delay);
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    const polling = this.current;
    if (this.isClosed || polling?.kind !== 'long-poll') return;
    const result = await this.connect('websocket');
    if (this.current !== polling || this.isClosed) {
      if (result.kind === 'connected') result.transport.transport.close('superseded');
      return;
    }
    if (result.kind === 'untrusted') {
      this.current = undefined;
      polling.transport.close('the WebSocket found an untrusted TLS certificate');
      this.finish({ kind: 'untrusted', failure: result.failure, reason: result.reason });
      this.stop.abort();
      return;
    }
    if (result.kind !== 'connected') return this.scheduleProbe();
    this.probeAttempt = 0;
    // Hold new sends until long-poll has delivered what it already took, so order survives the move.
    this.endedHeardAt = polling.transport.heardAt;
    this.current = undefined;
    await polling.transport.drained();
    this.endedHeardAt = polling.transport.heardAt;
    polling.transport.close('moving to WebSocket');
    this.adopt(result.transport, { from: 'long-poll', to: 'websocket', reason: 'WebSocket reachable again' });
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stop.signal.aborted) return resolve(false);
      const onAbort = () => {
        this.clock.clearTimeout(timer);
        resolve(false);
      };
      const timer = this.clock.setTimeout(() => {
        this.stop.signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      this.stop.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * A listener's error is its own: it surfaces (uncaught, on its own) without stopping the reconnect
 * or the other listeners.
 */
function tell<T>(listener: (event: T) => void, event: T): void {
  try {
    listener(event);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
