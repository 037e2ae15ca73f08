import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processTempRoot } from '../../src/cli/run-temp-root.js';

// The child runs plain Node, so it uses dist/: `npm run build` first.
const distModule = pathToFileURL(join(import.meta.dirname, '../../dist/cli/run-temp-root.js')).href;
const root = mkdtempSync(join(tmpdir(), 'vk-temp-roots-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A real process that makes its directory as `valkyrie run` does, then is SIGKILLed: it never removes it. */
async function killedOwner(tmp: string): Promise<{ dir: string; pid: number }> {
  const script = `import { processTempRoot } from ${JSON.stringify(distModule)};
const { dir } = processTempRoot();
process.stdout.write(dir + '\\n');
setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  writeFileSync(join(line, 'step-0.script'), 'echo secret');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return { dir: line, pid: child.pid ?? 0 };
}

/** processTempRoot with $TMPDIR at `tmp`, as a later `valkyrie run` starting there. */
function startWithTmp(tmp: string): { readonly dir: string; remove(): void } {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return processTempRoot();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

describe('processTempRoot', () => {
  it('removes the directories of processes that were killed, and only theirs, when the next starts', async () => {
    const tmp = mkdtempSync(join(root, 'tmp-'));
    const dead = await killedOwner(tmp);
    expect(basename(dead.dir)).toMatch(new RegExp(`^valkyrie-run-${dead.pid}-[A-Za-z0-9]{6}$`));

    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    const keep = {
      // Its owner is alive.
      live: join(tmp, `valkyrie-run-${live.pid}-aaaaaa`),
      // Named as by a Valkyrie before pids were in the name: whose it is cannot be told.
      older: join(tmp, 'valkyrie-run-Ab12Cd'),
      // A symlink named like a dead process's directory, and the directory it points to.
      target: join(tmp, 'elsewhere'),
      link: join(tmp, `valkyrie-run-${dead.pid}-bbbbbb`),
      // Another user's, were we root.
      foreign: join(tmp, `valkyrie-run-${dead.pid}-cccccc`),
    };
    try {
      for (const dir of [keep.live, keep.older, keep.target]) mkdirSync(dir);
      symlinkSync(keep.target, keep.link);
      if (process.getuid?.() === 0) {
        mkdirSync(keep.foreign);
        chownSync(keep.foreign, 65534, 65534);
      }

      const next = startWithTmp(tmp);
      expect(basename(next.dir)).toMatch(new RegExp(`^valkyrie-run-${process.pid}-`));
      expect(existsSync(dead.dir)).toBe(false);
      for (const path of [keep.live, keep.older, keep.target, keep.link]) expect(existsSync(path)).toBe(true);
      if (process.getuid?.() === 0) expect(existsSync(keep.foreign)).toBe(true);

      // This process's own directory is never another start's to remove.
      startWithTmp(tmp).remove();
      expect(existsSync(next.dir)).toBe(true);
      next.remove();
    } finally {
      live.kill('SIGKILL');
    }
  });
});
