import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetsInOwnWorkspaces } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * A runner told to stop on its own machine (SIGTERM) takes no new job whatever mode an operator sets
 * while its running job finishes: the server keeps offering it none. The lines it prints for the
 * operator's changes meanwhile must say so. Before, a resume printed "it takes jobs again" and a drain
 * "valkyrie runners resume ID to take jobs again", neither of which was so.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-mode-while-stopping-admin-0123');

describe('the mode lines of a runner that is stopping', () => {
  it('say it takes no new jobs either way when an operator resumes or drains it', async () => {
    const { ws, runner, api } = await fleets.startServerWithRunner([], 'stopping');
    const runnerId = /connected to \S+ over \S+ as (\S+);/.exec(runner.stdout())?.[1] ?? '';
    const release = join(ws.dir, 'release');
    await api('POST', '/api/v1/runs', {
      workflow: `jobs:\n  a:\n    runs-on: stopping\n    steps:\n      - run: while [ ! -f ${release} ]; do sleep 0.1; done\n`,
    });
    await waitFor(() => runner.stdout().includes('running job "a"'), 20_000, 'the job to start');
    const modeLines = () => runner.stdout().match(/mode: .*/g) ?? [];

    await api('POST', `/api/v1/runners/${runnerId}/drain`);
    await waitFor(() => modeLines().length === 1, 10_000, "the operator's drain");
    runner.child.kill('SIGTERM');
    await waitFor(() => runner.stdout().includes('draining: no new jobs'), 10_000, 'its own drain');
    await api('POST', `/api/v1/runners/${runnerId}/resume`);
    await waitFor(() => modeLines().length === 2, 10_000, "the operator's resume");
    await api('POST', `/api/v1/runners/${runnerId}/drain`, { note: 'kernel update' });
    await waitFor(() => modeLines().length === 3, 10_000, "the operator's second drain");
    writeFileSync(release, '');

    expect((await runner.done).code).toBe(0);
    expect(modeLines()).toEqual([
      `mode: draining (set by an operator: it takes no new jobs; valkyrie runners resume ${runnerId} to take jobs again)`,
      'mode: online (resumed by an operator; this runner is stopping all the same: it takes no new jobs)',
      `mode: draining (set by an operator; this runner is stopping all the same: it takes no new jobs); the operator's note: "kernel update"`,
    ]);
  });
});
