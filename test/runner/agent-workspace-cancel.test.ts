import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
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

// `valkyrie runner` stops on a download's untrusted certificate, cancelling its jobs (runner.ts's
// serve) while the prepare that met it still removes the job's directory: that job fails with the
// certificate's line (docs/runner.md), the cancel having cut nothing short.
it('fails, not cancels, a job whose download meets an untrusted certificate as the runner stops on it', async () => {
  const tls = resolve(import.meta.dirname, '../fixtures/tls');
  const secure = createHttpsServer({
    cert: readFileSync(join(tls, 'cert.pem')),
    key: readFileSync(join(tls, 'key.pem')),
  });
  await new Promise<void>((done) => secure.listen(0, '127.0.0.1', done));
  const fleet = await startFleet({ issueJobToken: () => 'tok-1' });
  const stopping = 'the runner is stopping: the server has an untrusted TLS certificate';
  let stopForCertificate = () => {};
  const runner = await startRunner(fleet, {
    runnerId: 'rnr_untrusted',
    capacity: 1,
    workspaceFor: bundleWorkspace(`https://127.0.0.1:${(secure.address() as AddressInfo).port}`, () =>
      stopForCertificate(),
    ),
  });
  // As serve() does: once the line is in, the runner cancels its jobs, at once.
  stopForCertificate = () => queueMicrotask(() => runner.agent.cancelAll(stopping, true));
  try {
    const handle = await fleet.plane.startRun(sideEffectWorkflow(fleet.dir, 1, 0), {
      ...runRequest(fleet.dir),
      bundle: { sha256: '0'.repeat(64) },
    });
    expect(await handle.done).toBe('failed');
    const [job] = await fleet.stores.runs.listJobs(handle.id);
    expect(job?.status).toBe('failed');
    expect(job?.reason).toContain("the server's TLS certificate is not trusted (self-signed certificate)");
    expect(lines(join(fleet.dir, 'started.log'))).toEqual([]);
  } finally {
    await runner.agent.drain();
    runner.transport.close();
    await fleet.close();
    await new Promise((done) => secure.close(done));
  }
}, 30_000);
