import { STATUS_CODES } from 'node:http';
import { counted } from '../core/counted.js';
import { formatDelay } from '../core/retry-delay.js';
import type { AttemptFailure } from '../protocol/attempt-failure.js';
import type {
  TransportKind,
  TransportLoss,
  TransportSwitch,
  TransportUnreachable,
} from '../protocol/auto.js';
import { answersTlsHint } from '../protocol/tls-mismatch.js';

/** Once attempts to reach the server come at their capped backoff, a line about them at most this often. */
const outageLineEveryMs = 60_000;

/**
 * Since the last loss, while no connection is up: when it began, when a round was last told (at the
 * backoff's cap or not), and whether a told one found nothing answering.
 */
interface Outage {
  readonly since: number;
  toldAt: number | undefined;
  toldAtCap: boolean;
  toldUnreachable: boolean;
}

const outageFrom = (since: number): Outage => ({
  since,
  toldAt: undefined,
  toldAtCap: false,
  toldUnreachable: false,
});

export interface ConnectionLinesOptions {
  /** Drops told one by one within `windowMs`; more are held and told together. Default 5. */
  readonly burst?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  readonly now?: () => number;
}

/**
 * A runner's lines about its connection, as an operator reads them: each drop (`lost … reconnecting now`)
 * and each return (`reconnected over …`, `switched from … to …`) while the connection is steady. A
 * connection that keeps dropping — a proxy that cuts it every few seconds — would print two lines a
 * drop, thousands an hour, and bury everything else: past `burst` drops within `windowMs`, the lines
 * of further drops and returns are held, and told as one line at the end of each window while it goes
 * on (how many drops, the last reason, and how the runner is connected now). A window without a drop
 * ends that, and the next drop is told again.
 *
 * While reconnecting takes more than a round of attempts, it says so now and then (`unreachable`),
 * and how long it took once it is back. The same goes for a server that is down when the runner
 * starts, while it registers and while it first connects (`connecting` … `reached`).
 *
 * Lifecycle: at start, `connecting`, `unreachable` for each failed round and `reached` to register;
 * `connecting` and `unreachable` to connect; then `lost`, `unreachable` and `switched` as the
 * transport tells them (auto.ts: onLost, onUnreachable, onSwitch), and `registered` at each answer to
 * the runner's register (the first ends the start) → `close`, which tells what is held and stops the
 * timer; idempotent. A session is told only once `registered`: one that just opened may be lost
 * before the server has the runner, and a line read then (by a script that lists the runners next)
 * would say it is connected while the server does not list it.
 */
export class ConnectionLines {
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** When the recent drops happened, oldest first: those within the last window. */
  private drops: number[] = [];
  /** Set while drops are held: the window's timer, the drops held in it, the last one's reason. */
  private quiet: { timer: NodeJS.Timeout; held: number; lastReason: string } | undefined;
  private outage: Outage | undefined;
  /** The first `registered` has been told (the runner's start line). */
  private started = false;
  /** The switch that opened the session up now, until the server answers its register. */
  private switch: TransportSwitch | undefined;

  constructor(
    /** The server's URL, as the outage lines name it. */
    private readonly server: string,
    private readonly say: (line: string) => void,
    /** Which transport carries messages now; undefined while reconnecting (AutoTransport.kind). */
    private readonly current: () => TransportKind | undefined,
    options: ConnectionLinesOptions = {},
  ) {
    this.burst = options.burst ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The runner starts to reach the server (to register, or to connect at start): an outage counts from now. */
  connecting(): void {
    this.outage = outageFrom(this.now());
  }

  /**
   * The server answered at start (registered, connected): `line`, which says so, after how long it
   * had been unreachable when lines said it was, as a reconnect after an outage does.
   */
  reached(line: string): void {
    const back = this.outageEnded(false);
    this.say(back === undefined ? line : `${back}: ${line}`);
  }

  lost({ kind, reason }: TransportLoss): void {
    const now = this.now();
    // A session lost before its register was answered did not end the outage, which goes on.
    this.switch = undefined;
    this.outage ??= outageFrom(now);
    this.drops = this.drops.filter((at) => at > now - this.windowMs);
    this.drops.push(now);
    if (this.quiet === undefined && this.drops.length <= this.burst) {
      // The first attempt follows at once (AutoTransport); those after it wait their backoff.
      this.say(`lost the ${kind} connection (${reason}); reconnecting now`);
      return;
    }
    if (this.quiet === undefined) {
      this.quiet = { timer: this.windowTimer(), held: 0, lastReason: reason };
      this.say(
        `the connection keeps dropping (${this.drops.length} times in ${formatDelay(this.windowMs)}); ` +
          `its drops are told once every ${formatDelay(this.windowMs)} while it goes on`,
      );
    }
    this.quiet.held++;
    this.quiet.lastReason = `${kind}: ${reason}`;
  }

  /**
   * A round of attempts to reach the server failed (to reconnect, or at start to register or
   * connect). Without a line now and then, a runner in a long outage looks hung: each round is told while the backoff grows, then at most one a minute at its cap.
   * The line says what the round found (serverState): unreachable, or there and answering but not usable.
   */
  unreachable({ reason, retryInMs, atCap, failed }: TransportUnreachable): void {
    const now = this.now();
    this.outage ??= outageFrom(now);
    const { toldAt, toldAtCap } = this.outage;
    if (atCap && toldAtCap && toldAt !== undefined && now - toldAt < outageLineEveryMs) return;
    this.outage.toldAt = now;
    this.outage.toldAtCap = atCap;
    if (failed.kind === 'network') this.outage.toldUnreachable = true;
    const rhythm =
      atCap && !toldAtCap ? `; from now on told once every ${formatDelay(outageLineEveryMs)}` : '';
    this.say(
      `${this.server} ${serverState(failed, formatDelay(now - this.outage.since), this.server)} (last error: ${reason}); ` +
        `retrying in ${formatDelay(retryInMs)}${rhythm}`,
    );
  }

  /** A new session opened: told once the server answers the runner's register on it (`registered`). */
  switched(change: TransportSwitch): void {
    this.switch = change;
  }

  /**
   * The server answered the runner's register: it lists the runner connected. The first time, at
   * start, `startLine` (as `reached`); later, the switch that opened the session.
   */
  registered(startLine: () => string): void {
    const change = this.switch;
    this.switch = undefined;
    if (!this.started) {
      this.started = true;
      this.reached(startLine());
    } else if (change !== undefined) this.tellSwitch(change);
  }

  private tellSwitch({ from, to, reason }: TransportSwitch): void {
    // After lines about the outage the log must not end on one of them, drops held or not.
    const back = this.outageEnded(true);
    if (back !== undefined) {
      this.say(`${back}: connected over ${to} (the ${from} connection had been lost: ${reason})`);
      return;
    }
    if (this.quiet !== undefined) return;
    // The reason is the loss's, in the past: "(VK_SHUTTING_DOWN: …)" alone read as if it still were.
    this.say(
      from === to
        ? `reconnected over ${to} (it had been lost: ${reason})`
        : `switched from ${from} to ${to} (${reason})`,
    );
  }

  /** Ends the outage; when lines told of it, `URL reachable [again] after …` for the line that ends them. */
  private outageEnded(again: boolean): string | undefined {
    const outage = this.outage;
    this.outage = undefined;
    if (outage?.toldAt === undefined) return undefined;
    // A server whose lines only said it answered (a proxy's 502) was reachable all along.
    const state = outage.toldUnreachable ? 'reachable' : 'usable';
    return `${this.server} ${state}${again ? ' again' : ''} after ${formatDelay(this.now() - outage.since)}`;
  }

  /** Tells the drops held so far; no line comes after. */
  close(): void {
    if (this.quiet === undefined) return;
    clearTimeout(this.quiet.timer);
    this.tellHeld('since the last count');
    this.quiet = undefined;
  }

  private windowTimer(): NodeJS.Timeout {
    const timer = setTimeout(() => this.windowEnded(), this.windowMs);
    timer.unref();
    return timer;
  }

  private windowEnded(): void {
    if (this.quiet === undefined) return;
    if (this.quiet.held === 0) {
      this.quiet = undefined;
      this.say(
        `the connection held for ${formatDelay(this.windowMs)}: ${this.state()}; drops are told one by one again`,
      );
      return;
    }
    this.tellHeld(`in ${formatDelay(this.windowMs)}`);
    this.quiet.held = 0;
    this.quiet.timer = this.windowTimer();
  }

  private tellHeld(when: string): void {
    if (this.quiet === undefined || this.quiet.held === 0) return;
    this.say(
      `the connection dropped ${counted(this.quiet.held, 'more time')} ${when} ` +
        `(the last: ${this.quiet.lastReason}); ${this.state()}`,
    );
  }

  private state(): string {
    const kind = this.current();
    return kind === undefined ? 'reconnecting' : `connected over ${kind}`;
  }
}

/**
 * What a failed round says of the server at `server`, `during` how long it has not been usable.
 * "Unreachable" only when nothing answered: a proxy's 502, or a TLS handshake that failed with a
 * plain-HTTP server or succeeded with the server of an http:// URL, shows it is there, and the operator
 * looks elsewhere for the cause (the server behind the proxy, the URL's scheme).
 */
function serverState(failed: AttemptFailure, during: string, server: string): string {
  switch (failed.kind) {
    case 'network':
      return `unreachable for ${during}`;
    case 'answered': {
      const text = STATUS_CODES[failed.status];
      return `not usable for ${during}: it answered ${failed.status}${text === undefined ? '' : ` ${text}`}`;
    }
    case 'tls':
      return `not usable for ${during}: TLS handshake failed${failed.plainHttp ? ', is the server plain http?' : ''}`;
    case 'speaksTls':
      return `not usable for ${during}: it closed the connection at once and ${answersTlsHint(server)}`;
  }
}

/**
 * The line for a connection the server closed on purpose (the runner then exits 1). A connection
 * superseded by one of the same runner id came from another process: this runner's own reconnects
 * only replace connections it has given up, never the one it uses. So two runners share one
 * credential — a work dir or machine image copied with its runner.json — and each would cut the
 * other off whenever it is restarted.
 */
export function serverClosedLine(reason: string, credentialsFile: string): string {
  if (!reason.includes('superseded by a new connection of the same runner'))
    return `the server closed the connection: ${reason}`;
  return (
    `the server closed the connection: another runner process connected with this runner's credential ` +
    `(${credentialsFile}) and replaced it. Two runners must not share one runner.json (a copied work dir ` +
    'or machine image?): give the other one its own by deleting its runner.json and starting it with --token.'
  );
}
