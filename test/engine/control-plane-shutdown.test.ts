import { describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../src/engine/control-plane.js';
import { jobsWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const threeJobs = jobsWorkflow(
  '  a:\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
    '  b:\n    runs-on: linux\n    steps: [{ run: "true" }]\n' +
    '  c:\n    runs-on: linux\n    steps: [{ run: "true" }]\n',
);

/** A run of three jobs with `a` leased to the only runner (capacity 1); then the server starts to close. */
async function shuttingDownWithOneLeased(p: ControlPlane) {
  const r1 = new ScriptedRunner(p, accepting, { labels: ['linux'] });
  await p.startRun(threeJobs, request);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const [lease] = r1.of('lease');
  if (lease === undefined) throw new Error('no job was leased');
  // As ValkyrieServer.close does: the plane first, then each runner set draining.
  p.shuttingDown();
  const id = p.runners()[0]?.id ?? '';
  p.setRunnerMode(id, 'draining', 'shutdown');
  return { r1, lease, id };
}

describe('ControlPlane shutting down', () => {
  const plane = planesOnSqlite('shutdown');

  it('offers nothing more to a runner whose mode an operator set online meanwhile', async () => {
    const { plane: p } = plane();
    const { r1, lease, id } = await shuttingDownWithOneLeased(p);
    // A replica's sync of the operators' modes (runner-directory.ts) applies the stored mode of a
    // runner that registered since its last pass: `online`, over the server's own drain.
    p.setRunnerMode(id, 'online');
    r1.complete(lease);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r1.of('offer')).toHaveLength(1);
    expect(p.runners()[0]?.running).toBe(0);
  });

  it('offers nothing to a runner that connects while it drains', async () => {
    const { plane: p } = plane();
    const { r1, lease } = await shuttingDownWithOneLeased(p);
    const late = new ScriptedRunner(p, accepting, { labels: ['linux'], name: 'late' });
    r1.complete(lease);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r1.of('offer')).toHaveLength(1);
    expect(late.of('offer')).toEqual([]);
  });
});
