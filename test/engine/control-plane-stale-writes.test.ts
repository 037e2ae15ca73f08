import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { NeverHeldReport } from '../../src/engine/never-held-writes.js';
import { settle } from '../core/manual-clock.js';
import { closedAfterEach, oneJobWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const closedForNeverHeld = /^VK_PROTOCOL: \d+ messages about jobs runner \S+ never held a lease on in 600 s$/;

describe('ControlPlane: writes under a stale token about a job the runner never held', () => {
  const openPlane = planesOnSqlite('stale-writes');
  const closing = closedAfterEach();

  it('stores none, announces none, reports the runner, and closes the session with VK_PROTOCOL at the 1,000th', async () => {
    const reports: NeverHeldReport[] = [];
    const { plane: p, stores, events } = openPlane({ reportNeverHeld: (report) => reports.push(report) });
    const holder = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJobWorkflow(), request);
    await settle();
    const [lease] = holder.of('lease');
    if (!lease) throw new Error('no lease');
    const intruder = new ScriptedRunner(p, () => {}, { labels: ['elsewhere'] });
    const closed: string[] = [];
    intruder.end.onClose((reason) => closed.push(reason));
    const { jobId } = lease;
    for (let i = 0; i < 999; i++) intruder.send({ type: 'renew', jobId, fencingToken: 500 + i });
    await settle();
    expect(closed).toEqual([]);
    expect(intruder.of('error')).toHaveLength(999);
    intruder.send({ type: 'renew', jobId, fencingToken: 1 });
    await settle();
    expect(closed).toEqual([expect.stringMatching(closedForNeverHeld)]);
    expect(closed[0]).toMatch(/^VK_PROTOCOL: 1000 messages/);
    // Once a minute at most: the first message is reported, the rest within the minute are not yet.
    expect(reports).toEqual([{ runnerId: expect.any(String), count: 1, lastJobId: jobId }]);

    // The holder's own write under a wrong token is a stale write of a runner that held the job: announced.
    holder.send({ type: 'renew', jobId, fencingToken: lease.fencingToken + 1 });
    holder.complete(lease);
    expect(await handle.done).toBe('succeeded');
    const said = events.filter((event) => event.type === 'log' && event.text.startsWith('ignored a stale'));
    expect(said.map((event) => (event.type === 'log' ? event.text : ''))).toEqual([
      `ignored a stale renew for ${jobId}`,
    ]);
    const stored = await stores.staleWrites.list({ jobId: asJobId(jobId) });
    expect(stored.map((write) => write.fencingToken)).toEqual([lease.fencingToken + 1]);
  });

  it('counts a runner’s messages across its sessions: reconnecting does not reset the bound', async () => {
    const { plane: p, stores } = openPlane();
    const holder = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJobWorkflow(), request);
    await settle();
    const [lease] = holder.of('lease');
    if (!lease) throw new Error('no lease');
    const { jobId } = lease;
    const closed: string[][] = [];
    // 30 sessions of one runner id, 50 forged messages each: 1,500 in all, but never 1,000 in one session.
    for (let session = 0; session < 30; session++) {
      const spammer = new ScriptedRunner(p, () => {}, {
        labels: ['elsewhere'],
        identity: { runnerId: 'spammer' },
      });
      const reasons: string[] = [];
      spammer.end.onClose((reason) => reasons.push(reason));
      for (let i = 0; i < 50; i++) spammer.send({ type: 'renew', jobId, fencingToken: 10_000 + i });
      await settle();
      closed.push([...reasons]);
      spammer.end.close('reconnecting');
    }
    // Sessions 0–18 sent 950; the 20th is closed at its 50th (the 1,000th), each later one at its first.
    expect(closed.slice(0, 19).flat()).toEqual([]);
    expect(closed.slice(19).map((reasons) => reasons.length)).toEqual(Array(11).fill(1));
    for (const reasons of closed.slice(19)) expect(reasons[0]).toMatch(closedForNeverHeld);
    expect(await stores.staleWrites.list({ jobId: asJobId(jobId) })).toEqual([]);
    holder.complete(lease);
    expect(await handle.done).toBe('succeeded');
  });

  it('from a runner that ran the job under another process and did not list it again: asked of the store, stored, not reported', async () => {
    const { plane: first, stores } = openPlane();
    const identity = { runnerId: 'restarted' };
    const runner = new ScriptedRunner(first, accepting, { identity });
    await first.startRun(oneJobWorkflow(), request);
    await settle();
    const [lease] = runner.of('lease');
    if (!lease) throw new Error('no lease');
    const { jobId, fencingToken } = lease;

    // The server restarts; the runner comes back without the job (its completion, held while it was
    // cut off for longer than a lease TTL, is no longer in doubt) and sends that completion.
    const reports: NeverHeldReport[] = [];
    const second = closing(new ControlPlane(stores, { reportNeverHeld: (report) => reports.push(report) }));
    const back = new ScriptedRunner(second, () => {}, { identity, resume: [] });
    await settle();
    back.send({
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 1,
    });
    await settle();
    expect(reports).toEqual([]);
    const stored = await stores.staleWrites.list({ jobId: asJobId(jobId) });
    expect(stored).toMatchObject([{ messageType: 'job.completed', runnerId: 'restarted', fencingToken }]);
  });

  it('from a runner resuming a lease another process granted: told as a lost lease, stored, never closed', async () => {
    const { plane: first, stores } = openPlane();
    const identity = { runnerId: 'restarted' };
    const runner = new ScriptedRunner(first, accepting, { identity });
    await first.startRun(oneJobWorkflow(), request);
    await settle();
    const [lease] = runner.of('lease');
    if (!lease) throw new Error('no lease');
    const { jobId, fencingToken } = lease;

    // The server restarts (or another replica takes the run over): the new process never granted it.
    const second = closing(new ControlPlane(stores));
    const events: RunEvent[] = [];
    second.onEvent((event) => events.push(event));
    const back = new ScriptedRunner(second, () => {}, { identity, resume: [{ jobId, fencingToken }] });
    const closed: string[] = [];
    back.end.onClose((reason) => closed.push(reason));
    await settle();
    // What it sends while it stops the job: many slots' worth of renews, lines and step reports.
    for (let i = 0; i < 1_100; i++) {
      if (i % 2 === 0) back.send({ type: 'renew', jobId, fencingToken });
      else
        back.send({
          type: 'log',
          jobId,
          fencingToken,
          entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: `line ${i}` }],
        });
    }
    back.send({
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 1,
    });
    await settle();
    expect(closed).toEqual([]);
    const said = events.flatMap((event) =>
      event.type === 'log' && event.text.startsWith('ignored a stale') ? [event.text] : [],
    );
    // Told once per kind under the old token, not 1,102 times to every follower; every one is stored.
    expect(said).toEqual([
      `ignored a stale register for ${jobId}`,
      `ignored a stale renew for ${jobId}`,
      `ignored a stale log for ${jobId}`,
      `ignored a stale job.completed for ${jobId}`,
    ]);
    const stored = await stores.staleWrites.list({ jobId: asJobId(jobId) });
    expect(stored).toHaveLength(1 + 1_100 + 1);
    expect(new Set(stored.map((write) => write.runnerId))).toEqual(new Set(['restarted']));
  });
});
