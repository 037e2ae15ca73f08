import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { Stores } from '../../src/store/store.js';
import { eventually } from '../engine/plane-fixtures.js';
import { startTestServer } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

const workflow = `name: solo
concurrency: solo
jobs:
  build: { runs-on: linux, steps: [{ run: echo build }] }
`;

/** A pid of this host whose process has exited (and been reaped). */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

/** Makes the run's owner a process of this host that no longer exists, as when a server is killed. */
async function ownedByTheDead(stores: Stores, runId: string): Promise<void> {
  const id = asRunId(runId);
  const judged = (await stores.recovery.ownerships([id])).get(id);
  if (judged === undefined) throw new Error(`run ${runId} has no owner`);
  const dead = { owner: { host: hostname(), pid: deadPid() }, heartbeatAt: judged.heartbeatAt };
  expect((await stores.recovery.claim(id, judged, dead)).kind).not.toBe('lost');
}

/** A server's takeover sweep: checks 50 ms apart, for up to 5 s. */
const slowly = { tries: 100, everyMs: 50 };

function scenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a run taken over from a server that exited takes its workflow's group again at once, not behind its dead place`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow } });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    const stores = await openStores();
    await eventually(
      'run 1 in the group',
      async () => (await stores.concurrency.list('solo')).length === 1,
      slowly,
    );
    const [deadPlace] = await stores.concurrency.list('solo');
    await first.server.destroy();
    await ownedByTheDead(stores, runId);

    const second = await startTestServer({ stores: await openStores() });
    try {
      // The dead server's place would lapse only 10 s after its last beat; the run rejoins in place of it.
      await eventually(
        'the run to hold the group again',
        async () => {
          const members = await stores.concurrency.list('solo');
          return members.length === 1 && members[0]?.memberId !== deadPlace?.memberId;
        },
        slowly,
      );
      expect((await stores.concurrency.list('solo')).map((member) => member.phase)).toEqual(['running']);
    } finally {
      await second.server.destroy();
      await stores.close();
    }
  }, 20_000);
}

onBothStores('a server taking over a run of a workflow-level concurrency group', scenario);
