import { readdirSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleWorkspace } from '../../src/cli/runner-bundle-workspace.js';
import {
  type FleetRunner,
  lines,
  runRequest,
  sideEffectWorkflow,
  startFleet,
  startRunner,
  until,
} from './fleet-harness.js';

/**
 * A workspace server that promises a large bundle and trickles it, a chunk at a time, until the
 * runner hangs up: only a download that stops on the cancel ends.
 */
async function startTrickle() {
  let sent = 0;
  let hungUp = false;
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(1 << 30) });
    const tick = setInterval(() => {
      sent += 1024;
      response.write(Buffer.alloc(1024));
    }, 5);
    response.on('close', () => {
      clearInterval(tick);
      hungUp = true;
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => sent,
    hungUp: () => hungUp,
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(done));
    },
  };
}

/** Whether bytes have reached the partial download beside the job's directory. */
function downloading(runner: FleetRunner): boolean {
  const jobs = join(runner.workDir, 'jobs');
  try {
    return readdirSync(jobs).some(
      (name) => name.endsWith('.bundle.tar.gz') && statSync(join(jobs, name)).size > 0,
    );
  } catch {
    return false;
  }
}

describe('a job cancelled while its workspace bundle downloads', () => {
  it.each([
    ['the run is cancelled', 'the run was cancelled by alice', false],
    ["the runner's second signal cancels its jobs", 'the runner is stopping (second SIGTERM)', true],
  ])(
    'stops the download at once when %s, removes the partial file, and ends cancelled',
    async (_, reason, byRunner) => {
      const trickle = await startTrickle();
      const fleet = await startFleet({ issueJobToken: () => 'tok-1' });
      const runner = await startRunner(fleet, {
        runnerId: 'rnr_trickle',
        capacity: 1,
        workspaceFor: bundleWorkspace(trickle.url, () => {}),
      });
      try {
        const handle = await fleet.plane.startRun(sideEffectWorkflow(fleet.dir, 1, 0), {
          ...runRequest(fleet.dir),
          bundle: { sha256: '0'.repeat(64) },
        });
        await until(() => downloading(runner), 'the download to begin');
        if (byRunner) runner.agent.cancelAll(reason, false);
        else handle.cancel(false, reason);
        await until(trickle.hungUp, 'the runner to hang up the download', 5_000);
        expect(trickle.sent()).toBeLessThan(1 << 30);
        expect(await handle.done).toBe('cancelled');
        const [job] = await fleet.stores.runs.listJobs(handle.id);
        expect(job).toMatchObject({ status: 'cancelled', reason });
        expect(await readdir(join(runner.workDir, 'jobs'))).toEqual([]);
        expect(lines(join(fleet.dir, 'started.log'))).toEqual([]);
      } finally {
        // Before the drain: a download the cancel did not stop ends here, cut.
        await trickle.close();
        await runner.agent.drain();
        runner.transport.close();
        await fleet.close();
      }
    },
    30_000,
  );
});
