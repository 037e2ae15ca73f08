import { expect, it } from 'vitest';
import { clockAhead, takenOverBy } from './clock-ahead.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';
import { noticed, tookOver } from './takeover-notices.js';

// docs/replicas.md "A run taken over again and again": only takeovers after a server gave the run up
// because a store write failed count toward --max-takeovers (takeover-cap.test.ts). A run whose job
// waits for hours (for a runner here; for its concurrency group, or a long job, alike) is taken over
// after every restart of its server, and must go on however many there are.

const workflow = 'name: long\njobs:\n  long: { runs-on: linux, steps: [{ run: echo long }] }\n';

function restartScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a run taken over after restarts, more than --max-takeovers times, is continued each time and runs on`, async () => {
    const first = await startTestServer({ stores: await openStores(), maxTakeovers: 1 });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow } });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    await first.server.destroy();

    const restarts = 3;
    for (let restart = 1; restart <= restarts; restart++) {
      // Each restarted server runs 10 s ahead of the one before: the run's heartbeat, last written by
      // that one's claim, is stale at its first sweep.
      const clock = clockAhead(10_000 * restart);
      const notices: string[] = [];
      const stores = await openStores();
      const server = await startTestServer({
        stores,
        clock,
        maxTakeovers: 1,
        takeoverIntervalMs: 100,
        logNotice: (line) => notices.push(line),
      });
      await takenOverBy(stores, runId, clock);
      await noticed(notices, tookOver(runId));
      const { run } = (await server.request('GET', `/api/v1/runs/${runId}`)).body as {
        run: { status: string; jobs: { status: string; reason?: string }[] };
      };
      // Before, the second takeover ended it: 'the run was taken over 2 times in a row …'.
      expect([restart, run.status, run.jobs[0]?.status, run.jobs[0]?.reason]).toEqual([
        restart,
        'running',
        'queued',
        undefined,
      ]);
      // The takeover's line, and nothing else: no run ended, no failure.
      expect(notices).toEqual([expect.stringMatching(tookOver(runId))]);
      if (restart < restarts) {
        await server.server.destroy();
        continue;
      }
      // The last server runs the job when a runner comes: the run was continued, not ended.
      const runner = await connectScriptedRunner(
        server.server.url,
        await credential(server.request, server.token),
        1,
      );
      const [lease] = await runner.leases(1);
      if (lease === undefined) throw new Error('no lease for long');
      runner.transport.send(jobCompleted(lease, { kind: 'succeeded' }));
      await waitForRunStatus(server.request, runId, 'succeeded');
      runner.transport.close();
      await server.server.destroy();
    }
  }, 30_000);
}

onBothStores('a run taken over after plain restarts, no store write failing', restartScenario);
