import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { Workspace } from './cli.js';
import { endAfterAll, type StartedProcess, startFleet, startSubmit } from './fleet-processes.js';
import { readPid, waitFor } from './process-state.js';

/**
 * `valkyrie runners remove` of a runner running a job revokes its credential: the runner cancels the
 * job and exits 2. Its line for the job once said `cancelled … the runner lost its control plane`,
 * as if the server had gone, while the next line (stderr) said the server refused its credential.
 */
const admin = 'vkt-e2e-admin-token-runner-removed-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
const strays: string[] = [];

endAfterAll(ws, processes, strays);

describe('a runner removed while it runs a job', () => {
  it("says in its job's line that the server refused its credential, as its exit line does", async () => {
    const fleet = await startFleet(ws, processes, admin, 'removed');
    const stepPid = join(ws.dir, 'held-step.pid');
    strays.push(stepPid);
    const file = ws.write(
      'held.yml',
      `name: held
jobs:
  held:
    runs-on: self-hosted
    steps:
      - run: |
          echo $$ > ${stepPid}
          sleep 30
`,
    );
    startSubmit(ws, processes, fleet.server.url, await fleet.token('submit'), file, ['--no-bundle']);
    await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the job to start on the runner');
    const env = { VALKYRIE_SERVER: fleet.server.url, VALKYRIE_TOKEN: admin };
    const id = /connected to \S+ over \S+ as (\S+);/.exec(fleet.runner.stdout())?.[1] ?? '?';
    const removed = await ws.run(['runners', 'remove', id], env);
    expect(removed.code, removed.stderr).toBe(0);

    const exited = await orAfter(fleet.runner.done, 10_000, undefined);
    expect(exited, `the runner still runs: ${fleet.runner.stderr()}`).toBeDefined();
    expect(exited?.code).toBe(2);
    const jobLines = exited?.stdout.split('\n').filter((line) => line.includes('job "held" of run 1'));
    expect(jobLines, exited?.stdout).toEqual([
      'valkyrie runner: running job "held" of run 1',
      expect.stringMatching(
        new RegExp(
          `^valkyrie runner: job "held" of run 1 cancelled after \\S+: the server refused this runner's credential \\(VK_CREDENTIAL_REVOKED\\): credential ${id} was revoked$`,
        ),
      ),
    ]);
    expect(exited?.stderr).toContain(
      `the server refused this runner's credential (VK_CREDENTIAL_REVOKED): credential ${id} was revoked`,
    );
  }, 30_000);
});
