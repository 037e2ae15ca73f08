import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { runRequest, until, useFleetRunner } from './fleet-harness.js';

const SECRET = 'sekrit-4f1c9e7a-d2b8';

function workflow(text: string) {
  const parsed = parseWorkflow(text, 'w.yml').workflow;
  if (!parsed) throw new Error('workflow did not parse');
  return parsed;
}

/** Every file under `dir` whose content holds `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (readFileSync(path, 'utf8').includes(needle)) found.push(path);
  }
  return found;
}

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

// Soft assertions: a failure shows every way the files leaked, not only the first.

/**
 * Step scripts hold the job's interpolated secrets, and a runner reuses a job slot's directories for
 * jobs of any run or submitter: nothing of a job may outlive it there, and no other user may read it.
 */
describe("a job's step files on a runner", () => {
  const fleetRunner = useFleetRunner();

  it('are private while the job runs, gone when it ends, and unseen by the next job in the slot', async () => {
    // Capacity 1: both jobs run in slot-0, one after the other.
    const { fleet, runner } = await fleetRunner.start({ runnerId: 'rnr_files', capacity: 1 });
    const out = fleet.dir;
    const first = workflow(`jobs:
  leaky:
    runs-on: x
    steps:
      - run: |
          : "${'${{ secrets.TOKEN }}'}"
          stat -c '%a' "$0" > "${out}/script-mode"
          stat -c '%a' "$(dirname "$0")" "$(dirname "$(dirname "$0")")" > "${out}/dir-modes"
      - run: |
          echo "token=${'${{ secrets.TOKEN }}'}" >> "$GITHUB_OUTPUT"
          : "${'${{ secrets.TOKEN }}'}"
      - run: exit 3
      - run: echo never
`);
    const handle = await fleet.plane.startRun(first, { ...runRequest(out), secrets: { TOKEN: SECRET } });
    expect(await handle.done).toBe('failed');
    expect.soft(read(join(out, 'script-mode')).trim()).toBe('600');
    expect.soft(read(join(out, 'dir-modes')).trim().split('\n')).toEqual(['700', '700']);
    expect.soft(filesHolding(runner.workDir, SECRET)).toEqual([]);

    // The next job in the slot, from another run and without the secret, looks for what is left.
    const second = workflow(`jobs:
  curious:
    runs-on: x
    steps:
      - run: |
          ls -A "$(dirname "$0")" > "${out}/listing"
          cat "$(dirname "$0")"/step-* > "${out}/seen" 2>/dev/null || true
`);
    const next = await fleet.plane.startRun(second, runRequest(out));
    expect(await next.done).toBe('succeeded');
    // Only its own: the event payload and the running step's script and command files.
    expect
      .soft(read(join(out, 'listing')).trim().split('\n'))
      .toEqual([
        'event.json',
        'step-0.env',
        'step-0.output',
        'step-0.path',
        'step-0.script.sh',
        'step-0.state',
        'step-0.summary',
      ]);
    expect(read(join(out, 'seen'))).not.toContain(SECRET);
  }, 60_000);

  it('are gone when the job is cancelled in the middle of a step', async () => {
    const { fleet, runner } = await fleetRunner.start({ runnerId: 'rnr_cancel', capacity: 1 });
    const out = fleet.dir;
    const slow = workflow(`jobs:
  slow:
    runs-on: x
    steps:
      - run: |
          : "${'${{ secrets.TOKEN }}'}"
          echo "note=${'${{ secrets.TOKEN }}'}" >> "$GITHUB_ENV"
          touch "${out}/started"
          sleep 60
`);
    const handle = await fleet.plane.startRun(slow, { ...runRequest(out), secrets: { TOKEN: SECRET } });
    await until(() => existsSync(join(out, 'started')), 'the step to start', 30_000);
    const slot = join(runner.workDir, 'tmp', 'slot-0', 'files');
    expect.soft(statSync(join(slot, 'step-0.script.sh')).mode & 0o777).toBe(0o600);
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');
    expect(filesHolding(runner.workDir, SECRET)).toEqual([]);
  }, 60_000);

  it('are gone after a step that timed out and one whose shell could not start', async () => {
    const { fleet, runner } = await fleetRunner.start({ runnerId: 'rnr_timeout', capacity: 1 });
    const out = fleet.dir;
    const failing = workflow(`jobs:
  slow:
    runs-on: x
    steps:
      - timeout-minutes: 0.01
        run: |
          : "${'${{ secrets.TOKEN }}'}"
          sleep 30
  unstartable:
    runs-on: x
    steps:
      - shell: /nonexistent/shell {0}
        run: ': "${'${{ secrets.TOKEN }}'}"'
`);
    const handle = await fleet.plane.startRun(failing, { ...runRequest(out), secrets: { TOKEN: SECRET } });
    expect(await handle.done).toBe('failed');
    expect(filesHolding(runner.workDir, SECRET)).toEqual([]);
  }, 60_000);
});
