import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jobsDirMarker } from '../../src/runner/jobs-dir-claim.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { type Fleet, registrationRoute, runRequest, startFleet, until } from '../runner/fleet-harness.js';
import { scratchDirFor, unprivilegedUser } from '../runner/unprivileged-user.js';
import { type CliResult, collect, valkyrieBin } from './cli.js';

// Root may remove anything, so as root the runner runs as `nobody`, who cannot.
const user = unprivilegedUser([process.execPath, valkyrieBin, '--version']);

/** What Go's module cache leaves behind: directories without write permission. */
const readOnlyTree = 'mkdir -p ro/sub && touch ro/sub/f && chmod a-w ro/sub ro';

describe.skipIf(user.unusable !== undefined)(
  `a non-root runner${user.unusable ? ` (skipped: ${user.unusable})` : ''}`,
  () => {
    const scratch = scratchDirFor(user, 'vk-runner-ro-');
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    afterAll(() => {
      spawnSync('chmod', ['-R', 'u+rwx', scratch]);
      rmSync(scratch, { recursive: true, force: true });
    });

    function startAsUser(args: readonly string[]): { child: ChildProcess; done: Promise<CliResult> } {
      const child = spawn(process.execPath, [valkyrieBin, ...args], {
        ...user.spawnOptions,
        cwd: scratch,
        env: { ...process.env, NO_COLOR: '1', HOME: scratch, TMPDIR: scratch },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const done = collect(child);
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await done;
      });
      return { child, done };
    }

    /** Runs `sh -c command` in `cwd` as the runner's user. */
    function shAsUser(cwd: string, command: string): void {
      const ran = spawnSync('sh', ['-c', command], { ...user.spawnOptions, cwd, encoding: 'utf8' });
      expect(ran.stderr).toBe('');
      expect(ran.status).toBe(0);
    }

    /** A fleet and its runner, of capacity 1 on `workDir`, connected; `stop` SIGTERMs it. */
    async function fleetWithRunner(
      workDir: string,
    ): Promise<{ fleet: Fleet; stop: () => Promise<CliResult> }> {
      const fleet = await startFleet({ leaseTtlMs: 5_000 }, registrationRoute);
      cleanups.push(() => fleet.close());
      const args = ['runner', '--server', fleet.url, '--token', 'reg-ok', '--labels', 'x'];
      const { child, done } = startAsUser([...args, '--capacity', '1', '--work-dir', workDir]);
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      await until(() => stdout.includes('connected to') || child.exitCode !== null, 'the runner to connect');
      if (child.exitCode !== null)
        throw new Error(`the runner exited ${child.exitCode}: ${(await done).stderr}`);
      const stop = () => {
        child.kill('SIGTERM');
        return done;
      };
      return { fleet, stop };
    }

    /** Each job leaves read-only trees in its workspace and RUNNER_TEMP, after checking both start empty. */
    async function runJobs(fleet: Fleet, names: readonly string[]): Promise<string> {
      const jobs = names.map((name, i) => {
        const needs = i === 0 ? '' : `\n    needs: ${names[i - 1]}`;
        return `  ${name}:
    runs-on: x${needs}
    steps:
      - run: test -z "$(ls -A)" && test -z "$(ls -A "$RUNNER_TEMP")"
      - run: ${readOnlyTree} && cd "$RUNNER_TEMP" && ${readOnlyTree}`;
      });
      const workflow = parseWorkflow(`jobs:\n${jobs.join('\n')}\n`, 'w.yml').workflow;
      if (!workflow) throw new Error('workflow did not parse');
      const handle = await fleet.plane.startRun(workflow, runRequest(scratch));
      return handle.done;
    }

    it("removes a job's read-only directories, runs the next job in its slot, and stops cleanly", async () => {
      const workDir = join(scratch, 'clean');
      const { fleet, stop } = await fleetWithRunner(workDir);
      // One after the other on a runner of capacity 1: the second finds the first's slot emptied.
      expect(await runJobs(fleet, ['first', 'second'])).toBe('succeeded');
      await until(
        () => readdirSync(join(workDir, 'jobs')).every((entry) => entry === jobsDirMarker),
        'the job directories to go',
      );
      const stopped = await stop();
      expect(stopped.stderr).toBe('');
      expect(stopped.code).toBe(0);
      expect(readdirSync(join(workDir, 'tmp'))).toEqual(['tool-cache']);
    });

    it('clears the read-only directories a killed runner left behind when it starts again', async () => {
      const workDir = join(scratch, 'left');
      shAsUser(
        scratch,
        `mkdir -p left/jobs/killed-1 left/tmp/slot-0/temp && touch left/jobs/${jobsDirMarker} && ` +
          `cd left/jobs/killed-1 && ${readOnlyTree} && ` +
          `cd ../../tmp/slot-0/temp && ${readOnlyTree}`,
      );
      const { fleet, stop } = await fleetWithRunner(workDir);
      expect(readdirSync(join(workDir, 'jobs'))).toEqual([jobsDirMarker]);
      expect(await runJobs(fleet, ['after'])).toBe('succeeded');
      const stopped = await stop();
      expect(stopped.stderr).toBe('');
      expect(stopped.code).toBe(0);
      expect(readdirSync(join(workDir, 'tmp'))).toEqual(['tool-cache']);
    });

    it.skipIf(!user.asRoot)(
      `says in one line each what it cannot remove, and runs its jobs still${user.asRoot ? '' : ' (skipped: only root can make a file the runner cannot remove)'}`,
      async () => {
        const workDir = join(scratch, 'foreign');
        shAsUser(
          scratch,
          `mkdir -p foreign/jobs/killed-1 foreign/tmp/slot-0/temp && touch foreign/jobs/${jobsDirMarker}`,
        );
        // Root's, in directories of the runner's user: it can neither remove them nor make them its own.
        const jobLeft = join(workDir, 'jobs', 'killed-1', 'root-owned');
        const slotLeft = join(workDir, 'tmp', 'slot-0', 'temp', 'root-owned');
        for (const dir of [jobLeft, slotLeft]) {
          mkdirSync(dir);
          writeFileSync(join(dir, 'f'), '');
        }
        const { fleet, stop } = await fleetWithRunner(workDir);
        expect(await runJobs(fleet, ['after'])).toBe('succeeded');
        const stopped = await stop();
        expect(stopped.code).toBe(0);
        const lines = stopped.stderr.split('\n').filter(Boolean);
        // Slot 0 is passed over, and its job runs in slot 1.
        expect(lines).toEqual([
          `valkyrie runner: could not remove ${join(workDir, 'jobs', 'killed-1')}, left in place: EACCES: permission denied, unlink '${jobLeft}/f'`,
          `valkyrie runner: could not remove ${join(workDir, 'tmp', 'slot-0')}, left in place: EACCES: permission denied, unlink '${slotLeft}/f'`,
        ]);
        expect(readdirSync(join(workDir, 'tmp')).sort()).toEqual(['slot-0', 'tool-cache']);
      },
    );

    it('refuses a --work-dir it cannot write or create with one line and exit 2', async () => {
      const readOnly = join(scratch, 'read-only');
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
      const args = ['runner', '--server', 'http://127.0.0.1:2', '--token', 't'];
      const cases: [string, RegExp][] = [
        [
          readOnly,
          /^valkyrie: --work-dir: cannot use .*read-only \(permission denied: this user cannot write there\)\n$/,
        ],
        [
          join(readOnly, 'sub'),
          /^valkyrie: --work-dir: cannot create .*read-only\/sub \(permission denied: this user cannot write there\)\n$/,
        ],
      ];
      for (const [workDir, message] of cases) {
        const result = await startAsUser([...args, '--work-dir', workDir]).done;
        expect(result.stderr).toMatch(message);
        expect(result.code).toBe(2);
      }
      expect(existsSync(join(readOnly, 'sub'))).toBe(false);
    });
  },
);
