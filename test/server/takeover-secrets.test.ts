import { expect, it, vi } from 'vitest';
import { clockAhead } from './clock-ahead.js';
import { type RunBody, startTestServer, waitForRunStatus } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock = clockAhead(10_000);

/** `report` is planned only once its needs are done: it has no record while they wait for a runner. */
const workflow = `name: with-report
jobs:
  build: { runs-on: linux, steps: [{ run: 'echo \${{ secrets.TOKEN }}' }] }
  lint: { runs-on: linux, steps: [{ run: echo lint }] }
  slow: { runs-on: linux, steps: [{ run: sleep 5 }] }
  report:
    name: report for run \${{ github.run_number }}
    needs: [build, lint, slow]
    if: always()
    runs-on: linux
    steps: [{ run: echo report }]
`;

function takeoverScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a run taken over without its secrets ends with every job of its workflow listed, and the server says how to re-run it`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', {
      body: { workflow, secrets: { TOKEN: 'x' } },
    });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    await first.server.destroy();

    const notices: string[] = [];
    const second = await startTestServer({
      stores: await openStores(),
      clock: laterClock,
      logNotice: (line) => notices.push(line),
    });
    const run = (await waitForRunStatus(second.request, runId, 'cancelled')) as {
      jobs: { name: string; status: string; reason?: string }[];
    };
    const reason = 'the server driving the run stopped, and its secrets are not stored: re-run it with them';
    expect(run.jobs.map(({ name: job, status, reason: why }) => [job, status, why])).toEqual([
      ['build', 'cancelled', reason],
      ['lint', 'cancelled', reason],
      ['slow', 'cancelled', reason],
      ['report for run 1', 'cancelled', reason],
    ]);
    // Said once the run's end is stored, with the places it held given up: after the status above.
    await vi.waitFor(() =>
      expect(notices).toEqual([
        `cancelled run ${runId}, taken over from a server that stopped: its secrets are not stored; valkyrie rerun ${runId} --server URL --secret TOKEN=… runs its jobs again`,
      ]),
    );
    // The re-run it names plans `report` again once its needs are done: its record's next attempt.
    const rerun = await second.request('POST', `/api/v1/runs/${runId}/rerun`, {
      body: { secrets: { TOKEN: 'x' } },
    });
    expect(rerun.status).toBeLessThan(300);
    const again = (await second.request('GET', `/api/v1/runs/${runId}`)).body as { run: RunBody };
    expect(again.run.jobs.map(({ status, attempt }) => [status, attempt])).toEqual([
      ['queued', 2],
      ['queued', 2],
      ['queued', 2],
      ['cancelled', 1],
    ]);
  }, 20_000);
}

onBothStores('a server taking over a run whose secrets are not stored', takeoverScenario);
