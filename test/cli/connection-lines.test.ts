import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionLines, serverClosedLine } from '../../src/cli/connection-lines.js';
import type { TransportKind, TransportUnreachable } from '../../src/protocol/auto.js';

const cut = {
  kind: 'websocket',
  reason: 'close code 1006: no reason given',
  goingAway: false,
} as const;
const back = { from: 'websocket', to: 'websocket', reason: cut.reason } as const;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Lines as the runner prints them, on a connection that is `kind` between drops (null: reconnecting),
 * once its start line was told (unless `starting`): what it says after that line.
 */
function lines(kind: TransportKind | null = 'websocket', starting = false) {
  const said: string[] = [];
  const connection = new ConnectionLines(
    'http://ci.example:7070',
    (line) => said.push(line),
    () => kind ?? undefined,
    {
      burst: 3,
      windowMs: 60_000,
      now: () => Date.now(),
    },
  );
  if (!starting) {
    connection.registered(() => 'r1 connected to http://ci.example:7070 over websocket');
    said.length = 0;
  }
  /** The register of a new session is answered. */
  const registered = () => connection.registered(() => 'not a start');
  /** A drop and the return after it, `everyMs` after the last. */
  const flap = (times: number, everyMs: number) => {
    for (let i = 0; i < times; i++) {
      vi.advanceTimersByTime(everyMs);
      connection.lost(cut);
      connection.switched(back);
      registered();
    }
  };
  return { said, connection, flap, registered };
}

describe('ConnectionLines', () => {
  it('tells each drop and return while the connection is steady', () => {
    const { said, flap } = lines();
    flap(3, 30_000);
    flap(2, 40_000);
    expect(said).toHaveLength(10);
    expect(said.slice(0, 2)).toEqual([
      'lost the websocket connection (close code 1006: no reason given); reconnecting now',
      'reconnected over websocket (it had been lost: close code 1006: no reason given)',
    ]);
  });

  it('holds the lines of a connection that keeps dropping, and tells them once a window', () => {
    const { said, flap } = lines();
    flap(3, 1_000);
    expect(said).toHaveLength(6);
    // The 4th drop within a minute: the runner says it will summarise, then holds 56 more lines.
    flap(29, 2_000);
    expect(said.slice(6)).toEqual([
      'the connection keeps dropping (4 times in 1m); its drops are told once every 1m while it goes on',
    ]);
    // The window began at the 4th drop (5 s), and the last drop came at 61 s.
    vi.advanceTimersByTime(4_000);
    expect(said.slice(7)).toEqual([
      'the connection dropped 29 more times in 1m (the last: websocket: close code 1006: no reason given); connected over websocket',
    ]);
    // A quiet minute: it says so, and the next drop is told as it comes.
    vi.advanceTimersByTime(60_000);
    expect(said.slice(8)).toEqual([
      'the connection held for 1m: connected over websocket; drops are told one by one again',
    ]);
    flap(1, 1_000);
    expect(said.slice(9)).toHaveLength(2);
  });

  it('tells the drops held when it closes, and nothing after', () => {
    const { said, connection, flap } = lines(null);
    flap(5, 100);
    connection.close();
    expect(said.at(-1)).toBe(
      'the connection dropped 2 more times since the last count (the last: websocket: close code 1006: no reason given); reconnecting',
    );
    const told = said.length;
    vi.advanceTimersByTime(120_000);
    connection.close();
    expect(said).toHaveLength(told);
  });
});

describe('ConnectionLines in an outage', () => {
  const refused =
    'long-poll: connect ECONNREFUSED 10.0.0.7:7070; websocket: connect ECONNREFUSED 10.0.0.7:7070';
  const round = (retryInMs: number, atCap = false) => ({
    reason: refused,
    retryInMs,
    atCap,
    failed: { kind: 'network' } as const,
  });

  it('tells each round of attempts while the backoff grows, then one a minute at its cap, and the return', () => {
    const { said, connection, registered } = lines(null);
    connection.lost(cut);
    for (const waitMs of [200, 400, 800]) {
      connection.unreachable(round(waitMs));
      vi.advanceTimersByTime(waitMs);
    }
    expect(said.slice(1)).toEqual([
      `http://ci.example:7070 unreachable for 0ms (last error: ${refused}); retrying in 200ms`,
      `http://ci.example:7070 unreachable for 200ms (last error: ${refused}); retrying in 400ms`,
      `http://ci.example:7070 unreachable for 600ms (last error: ${refused}); retrying in 800ms`,
    ]);
    // At the cap, a round every 20 s for 3 minutes: the first is told, then one a minute.
    const told = said.length;
    for (let i = 0; i < 9; i++) {
      connection.unreachable(round(20_000, true));
      vi.advanceTimersByTime(20_000);
    }
    expect(said.slice(told)).toEqual([
      `http://ci.example:7070 unreachable for 1.4s (last error: ${refused}); retrying in 20s; from now on told once every 1m`,
      `http://ci.example:7070 unreachable for 1m (last error: ${refused}); retrying in 20s`,
      `http://ci.example:7070 unreachable for 2m (last error: ${refused}); retrying in 20s`,
    ]);
    connection.switched(back);
    registered();
    expect(said.at(-1)).toBe(
      'http://ci.example:7070 reachable again after 3m: connected over websocket (the websocket connection had been lost: close code 1006: no reason given)',
    );
  });

  it('says nothing of an outage at a reconnect that needed no second round', () => {
    const { said, connection, registered } = lines(null);
    connection.lost(cut);
    connection.switched({ ...back, to: 'long-poll' });
    registered();
    expect(said).toEqual([
      'lost the websocket connection (close code 1006: no reason given); reconnecting now',
      'switched from websocket to long-poll (close code 1006: no reason given)',
    ]);
  });
});

describe('ConnectionLines while the runner starts', () => {
  const refused = 'registration: connect ECONNREFUSED 10.0.0.7:7070';
  const round = (retryInMs: number, atCap = false) => ({
    reason: refused,
    retryInMs,
    atCap,
    failed: { kind: 'network' } as const,
  });

  // It printed a line at every attempt, forever (registering), or one after 2 s and then nothing (connecting).
  it('tells each round from when it began to try, then one a minute at the cap, and the answer after how long', () => {
    const { said, connection } = lines(null, true);
    connection.connecting();
    vi.advanceTimersByTime(300);
    for (const waitMs of [200, 400]) {
      connection.unreachable(round(waitMs));
      vi.advanceTimersByTime(waitMs);
    }
    for (let i = 0; i < 7; i++) {
      connection.unreachable(round(30_000, true));
      vi.advanceTimersByTime(30_000);
    }
    expect(said).toEqual([
      `http://ci.example:7070 unreachable for 300ms (last error: ${refused}); retrying in 200ms`,
      `http://ci.example:7070 unreachable for 500ms (last error: ${refused}); retrying in 400ms`,
      `http://ci.example:7070 unreachable for 900ms (last error: ${refused}); retrying in 30s; from now on told once every 1m`,
      `http://ci.example:7070 unreachable for 1m (last error: ${refused}); retrying in 30s`,
      `http://ci.example:7070 unreachable for 2m (last error: ${refused}); retrying in 30s`,
      `http://ci.example:7070 unreachable for 3m (last error: ${refused}); retrying in 30s`,
    ]);
    connection.reached('registered with http://ci.example:7070 as 3f9a0c1d2e4b');
    expect(said.at(-1)).toBe(
      'http://ci.example:7070 reachable after 3.5m: registered with http://ci.example:7070 as 3f9a0c1d2e4b',
    );
    // Connecting next starts anew: reached at the first attempt, it says only that.
    connection.connecting();
    connection.registered(() => 'r1 connected to http://ci.example:7070 over websocket');
    expect(said.at(-1)).toBe('r1 connected to http://ci.example:7070 over websocket');
  });

  // The start line came as the session opened, before the server had the runner's register.
  it('tells the start once the server answers the register, also when the first session was lost before', () => {
    const { said, connection } = lines(null, true);
    connection.connecting();
    expect(said).toEqual([]);
    connection.lost(cut);
    connection.switched({ ...back, to: 'long-poll' });
    connection.registered(() => 'r1 connected to http://ci.example:7070 over long-poll');
    expect(said).toEqual([
      'lost the websocket connection (close code 1006: no reason given); reconnecting now',
      'r1 connected to http://ci.example:7070 over long-poll',
    ]);
  });
});

describe('ConnectionLines at a reconnect', () => {
  // "reconnected over …" came as the new session opened, before the server had the runner's register.
  it('tells a new session only once the server answers its register', () => {
    const { said, connection, registered } = lines();
    connection.lost(cut);
    connection.switched({ ...back, to: 'long-poll' });
    expect(said).toHaveLength(1);
    registered();
    expect(said.slice(1)).toEqual([
      'switched from websocket to long-poll (close code 1006: no reason given)',
    ]);
    // An answer that no switch came before (none does) says nothing more.
    registered();
    expect(said).toHaveLength(2);
  });

  it('counts an outage from its first loss when a session in it was lost before its register was answered', () => {
    const { said, connection, registered } = lines(null);
    const round = {
      reason: 'websocket: connect ECONNREFUSED',
      atCap: false,
      failed: { kind: 'network' },
    } as const;
    connection.lost(cut);
    connection.unreachable({ ...round, retryInMs: 1_000 });
    vi.advanceTimersByTime(1_000);
    connection.switched(back);
    vi.advanceTimersByTime(500);
    connection.lost(cut);
    connection.unreachable({ ...round, retryInMs: 2_000 });
    vi.advanceTimersByTime(2_000);
    connection.switched(back);
    registered();
    expect(said.slice(1)).toEqual([
      'http://ci.example:7070 unreachable for 0ms (last error: websocket: connect ECONNREFUSED); retrying in 1s',
      'lost the websocket connection (close code 1006: no reason given); reconnecting now',
      'http://ci.example:7070 unreachable for 1.5s (last error: websocket: connect ECONNREFUSED); retrying in 2s',
      'http://ci.example:7070 reachable again after 3.5s: connected over websocket (the websocket connection had been lost: close code 1006: no reason given)',
    ]);
  });
});

describe('ConnectionLines for a server that answers but is not usable', () => {
  const round = (failed: TransportUnreachable['failed'], reason: string) => ({
    reason,
    retryInMs: 200,
    atCap: false,
    failed,
  });

  it('says what the server answered, or that the TLS handshake failed or that it speaks TLS, rather than that it is unreachable', () => {
    const { said, connection } = lines(null);
    connection.connecting();
    connection.unreachable(
      round({ kind: 'answered', status: 502 }, 'registration: answered 502: HTTP 502: …'),
    );
    vi.advanceTimersByTime(200);
    connection.unreachable(round({ kind: 'tls', plainHttp: true }, 'websocket: write EPROTO …'));
    vi.advanceTimersByTime(200);
    connection.unreachable(round({ kind: 'tls', plainHttp: false }, 'websocket: write EPROTO …'));
    vi.advanceTimersByTime(200);
    connection.unreachable(round({ kind: 'answered', status: 599 }, 'long-poll: …'));
    vi.advanceTimersByTime(200);
    connection.unreachable(round({ kind: 'speaksTls' }, 'websocket: socket hang up'));
    expect(said).toEqual([
      'http://ci.example:7070 not usable for 0ms: it answered 502 Bad Gateway (last error: registration: answered 502: HTTP 502: …); retrying in 200ms',
      'http://ci.example:7070 not usable for 200ms: TLS handshake failed, is the server plain http? (last error: websocket: write EPROTO …); retrying in 200ms',
      'http://ci.example:7070 not usable for 400ms: TLS handshake failed (last error: websocket: write EPROTO …); retrying in 200ms',
      'http://ci.example:7070 not usable for 600ms: it answered 599 (last error: long-poll: …); retrying in 200ms',
      'http://ci.example:7070 not usable for 800ms: it closed the connection at once and answers TLS, not plain HTTP; try https://ci.example:7070 (last error: websocket: socket hang up); retrying in 200ms',
    ]);
    // It was reachable all along: what came back is that it is usable.
    vi.advanceTimersByTime(200);
    connection.reached('registered with http://ci.example:7070 as 3f9a0c1d2e4b');
    expect(said.at(-1)).toBe(
      'http://ci.example:7070 usable after 1s: registered with http://ci.example:7070 as 3f9a0c1d2e4b',
    );
  });
});

describe('serverClosedLine', () => {
  it('says a connection superseded by one of the same runner is another process with this runner.json', () => {
    const line = serverClosedLine('superseded by a new connection of the same runner', '/w/runner.json');
    expect(line).toContain("another runner process connected with this runner's credential (/w/runner.json)");
    expect(line).toContain('Two runners must not share one runner.json');
    expect(serverClosedLine('VK_PROTOCOL: bad frame', '/w/runner.json')).toBe(
      'the server closed the connection: VK_PROTOCOL: bad frame',
    );
  });
});
