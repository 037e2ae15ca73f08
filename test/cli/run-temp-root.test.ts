import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pidNamespaceToken, processTempRoot } from '../../src/cli/run-temp-root.js';

// The children run plain Node, so they use dist/: `npm run build` first.
const distModule = pathToFileURL(join(import.meta.dirname, '../../dist/cli/run-temp-root.js')).href;
const root = mkdtempSync(join(tmpdir(), 'vk-temp-roots-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const token = pidNamespaceToken();

/** A real process that makes its directory as `valkyrie run` does and stays until killed. */
async function owner(tmp: string): Promise<{ dir: string; pid: number; kill(): Promise<void> }> {
  const script = `import { processTempRoot } from ${JSON.stringify(distModule)};
const { dir } = await processTempRoot(() => {});
process.stdout.write(dir + '\\n');
setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  writeFileSync(join(line, 'step-0.script'), 'echo secret');
  const exited = once(child, 'exit');
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  return { dir: line, pid: child.pid ?? 0, kill };
}

/** An owner that is SIGKILLed: it never removes its directory. */
async function killedOwner(tmp: string): Promise<{ dir: string; pid: number }> {
  const made = await owner(tmp);
  await made.kill();
  return made;
}

/** processTempRoot with $TMPDIR at `tmp`, as a later `valkyrie run` starting there. */
async function startWithTmp(tmp: string): Promise<{ readonly dir: string; remove(): Promise<void> }> {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return await processTempRoot(() => {});
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

/** Why a new pid namespace cannot be made here (a container without CAP_SYS_ADMIN), or undefined. */
function unshareRefusal(): string | undefined {
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { encoding: 'utf8' });
  if (probe.error) return `unshare: ${(probe.error as NodeJS.ErrnoException).code}`;
  return probe.status === 0 ? undefined : `unshare: ${probe.stderr.trim().split('\n')[0]}`;
}

const noProc = !existsSync('/proc/self/ns/pid') ? ' (skipped: no pid namespace in /proc here)' : '';
describe.skipIf(noProc !== '')(`processTempRoot${noProc}`, () => {
  it('removes the directories of processes of its namespace that were killed, and only theirs, when the next starts', async () => {
    const tmp = mkdtempSync(join(root, 'tmp-'));
    const dead = await killedOwner(tmp);
    expect(basename(dead.dir)).toMatch(new RegExp(`^valkyrie-run-${token}-${dead.pid}-[A-Za-z0-9]{6}$`));

    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    const otherToken = token === '00000000' ? '11111111' : '00000000';
    const keep = {
      // Its owner is alive.
      live: join(tmp, `valkyrie-run-${token}-${live.pid}-aaaaaa`),
      // Named as by a Valkyrie before pids were in the name: whose it is cannot be told.
      older: join(tmp, 'valkyrie-run-Ab12Cd'),
      // Named with a pid but no namespace: the pid may be another namespace's.
      unplaced: join(tmp, `valkyrie-run-${dead.pid}-dddddd`),
      // Another pid namespace's, or another host's: its pid says nothing here.
      elsewhere: join(tmp, `valkyrie-run-${otherToken}-${dead.pid}-eeeeee`),
      // A symlink named like a dead process's directory, and the directory it points to.
      target: join(tmp, 'elsewhere'),
      link: join(tmp, `valkyrie-run-${token}-${dead.pid}-bbbbbb`),
      // Another user's, were we root.
      foreign: join(tmp, `valkyrie-run-${token}-${dead.pid}-cccccc`),
    };
    try {
      for (const dir of [keep.live, keep.older, keep.unplaced, keep.elsewhere, keep.target]) mkdirSync(dir);
      symlinkSync(keep.target, keep.link);
      if (process.getuid?.() === 0) {
        mkdirSync(keep.foreign);
        chownSync(keep.foreign, 65534, 65534);
      }

      const next = await startWithTmp(tmp);
      expect(basename(next.dir)).toMatch(new RegExp(`^valkyrie-run-${token}-${process.pid}-`));
      expect(existsSync(dead.dir)).toBe(false);
      for (const path of [keep.live, keep.older, keep.unplaced, keep.elsewhere, keep.target, keep.link]) {
        expect(existsSync(path)).toBe(true);
      }
      if (process.getuid?.() === 0) expect(existsSync(keep.foreign)).toBe(true);

      // This process's own directory is never another start's to remove.
      await (await startWithTmp(tmp)).remove();
      expect(existsSync(next.dir)).toBe(true);
      await next.remove();
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('removes nothing from a $TMPDIR that others may write without the sticky bit', async () => {
    const tmp = mkdtempSync(join(root, 'tmp-'));
    const dead = await killedOwner(tmp);
    chmodSync(tmp, 0o777);
    await (await startWithTmp(tmp)).remove();
    expect(existsSync(dead.dir)).toBe(true);
    chmodSync(tmp, 0o1777);
    await (await startWithTmp(tmp)).remove();
    expect(existsSync(dead.dir)).toBe(false);
  });

  const refusal = unshareRefusal();
  it.skipIf(refusal !== undefined)(
    `leaves a live run's directory to a start in another pid namespace sharing $TMPDIR${refusal ? ` (skipped: ${refusal})` : ''}`,
    async () => {
      const tmp = mkdtempSync(join(root, 'tmp-'));
      chmodSync(tmp, 0o1777);
      const live = await owner(tmp);
      const dead = await killedOwner(tmp);
      try {
        // In a new pid namespace (as a container sharing /tmp): a process of its own is killed there,
        // then a start there removes that one's directory, and neither of this namespace's.
        const script = `import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { processTempRoot } from ${JSON.stringify(distModule)};
const child = spawn(process.execPath, ['--input-type=module', '-e',
  ${JSON.stringify(`import { processTempRoot } from ${JSON.stringify(distModule)}; process.stdout.write((await processTempRoot(() => {})).dir + '\\n'); setInterval(() => {}, 1 << 30);`)}],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const [killed] = await once(createInterface({ input: child.stdout }), 'line');
const exited = once(child, 'exit');
child.kill('SIGKILL');
await exited;
const own = await processTempRoot(() => {});
process.stdout.write(JSON.stringify({ killed, killedGone: !existsSync(killed), own: own.dir }) + '\\n');
await own.remove();`;
        const inside = spawnSync(
          'unshare',
          ['--pid', '--fork', '--mount-proc', process.execPath, '--input-type=module', '-e', script],
          { env: { ...process.env, TMPDIR: tmp }, encoding: 'utf8' },
        );
        expect(inside.stderr).toBe('');
        expect(inside.status).toBe(0);
        const report = JSON.parse(inside.stdout) as { killed: string; killedGone: boolean; own: string };
        expect(report.killedGone).toBe(true);
        expect(basename(report.own)).not.toMatch(new RegExp(`^valkyrie-run-${token}-`));
        expect(existsSync(live.dir)).toBe(true);
        expect(existsSync(dead.dir)).toBe(true);
        // A start in this namespace, where its pid is known dead, does remove it.
        await (await startWithTmp(tmp)).remove();
        expect(existsSync(dead.dir)).toBe(false);
        expect(existsSync(live.dir)).toBe(true);
      } finally {
        await live.kill();
      }
    },
  );
});
