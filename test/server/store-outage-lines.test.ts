import { describe, expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import { StoreOutageLines } from '../../src/server/store-outage-lines.js';
import { ManualClock } from '../core/manual-clock.js';

const lost = (action: string) =>
  new ValkyrieError(
    'VK_STORE_UNREACHABLE',
    `could not ${action}: could not connect to Postgres at 127.0.0.1:5: connection refused`,
  );

function outageLines() {
  const clock = new ManualClock();
  const lines: string[] = [];
  let answering = false;
  const outage = new StoreOutageLines(
    (line) => lines.push(line),
    () => (answering ? Promise.resolve() : Promise.reject(lost('list runs'))),
    clock,
  );
  return { clock, lines, outage, answer: () => (answering = true) };
}

/** Two failed reads a second, as the server's periodic tasks fail during an outage, for `ms`. */
async function failingFor(clock: ManualClock, outage: StoreOutageLines, ms: number): Promise<void> {
  for (let at = 0; at < ms; at += 500) {
    outage.report(lost(at % 1000 === 0 ? 'read runner modes' : 'list runs'));
    await clock.advance(500);
  }
}

describe('a server whose store is unreachable for a while', () => {
  it('says so once with the reason, again every 60 s with how long, and once when it answers', async () => {
    const { clock, lines, outage, answer } = outageLines();
    await failingFor(clock, outage, 150_000);
    answer();
    await clock.advance(1_000);
    expect(lines).toEqual([
      'valkyrie server: the store is unreachable: could not read runner modes: could not connect to Postgres at 127.0.0.1:5: connection refused. Retrying; a line every 60 s while this lasts, and one when it answers again',
      'valkyrie server: the store is still unreachable after 60 s: could not read runner modes: could not connect to Postgres at 127.0.0.1:5: connection refused',
      'valkyrie server: the store is still unreachable after 120 s: could not read runner modes: could not connect to Postgres at 127.0.0.1:5: connection refused',
      'valkyrie server: the store is reachable again after 151 s',
    ]);
    // A second outage is told anew.
    outage.report(lost('list runs'));
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/^valkyrie server: the store is unreachable: could not list runs/);
    outage.stop();
    expect(clock.pending).toBe(0);
  });

  it('tells any other failure as it comes, each time', () => {
    const { lines, outage } = outageLines();
    const full = new ValkyrieError('VK_STORE', 'could not list runs: disk full');
    outage.report(full);
    outage.report(full);
    expect(lines).toEqual([
      'valkyrie server: could not list runs: disk full',
      'valkyrie server: could not list runs: disk full',
    ]);
  });

  it('gives up on a probe that is never answered, and tells the end of the outage by a later one', async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    let probes = 0;
    const outage = new StoreOutageLines(
      (line) => lines.push(line),
      // The first probe is never answered, as a read on a connection the network dropped; the rest are.
      () => (++probes === 1 ? new Promise(() => {}) : Promise.resolve()),
      clock,
    );
    outage.report(lost('list runs'));
    await clock.advance(5_000);
    expect(probes).toBe(1);
    await clock.advance(10_000);
    expect(lines.at(-1)).toMatch(/^valkyrie server: the store is reachable again after 1\d s$/);
    expect(probes).toBe(2);
    outage.stop();
    expect(clock.pending).toBe(0);
  });
});
