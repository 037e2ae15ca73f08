import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { settle } from '../core/manual-clock.js';
import { oneJobWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

describe('ControlPlane: writes under a stale token about a job the runner never held', () => {
  const openPlane = planesOnSqlite('stale-writes');

  it('stores the first 10 of a session, announces none, and closes the session with VK_PROTOCOL at the 1,000th', async () => {
    const { plane: p, stores, events } = openPlane();
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
    expect(closed).toEqual([
      expect.stringMatching(/^VK_PROTOCOL: 1000 messages about jobs runner \S+ never held/),
    ]);

    // The holder's own write under a wrong token is a stale write of a runner that held the job: announced.
    holder.send({ type: 'renew', jobId, fencingToken: lease.fencingToken + 1 });
    holder.complete(lease);
    expect(await handle.done).toBe('succeeded');
    const said = events.filter((event) => event.type === 'log' && event.text.startsWith('ignored a stale'));
    expect(said.map((event) => (event.type === 'log' ? event.text : ''))).toEqual([
      `ignored a stale renew for ${jobId}`,
    ]);
    const stored = await stores.staleWrites.list({ jobId: asJobId(jobId) });
    expect(stored.map((write) => write.fencingToken)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => 500 + i),
      lease.fencingToken + 1,
    ]);
  });
});
