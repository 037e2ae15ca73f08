import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';

/**
 * `valkyrie run` hands stderr only what it has to say: an empty write is still a system call, and it
 * once made one for every event of the run (five a job of one step), to print a hint that was there
 * only when an earlier run of the workflow had been interrupted.
 */
describe('valkyrie run on stderr', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('makes no empty writes while a run goes', async () => {
    // Loaded before the CLI (NODE_OPTIONS --import): counts the empty writes made to stderr.
    const counter = ws.write(
      'count-empty-writes.mjs',
      `import { writeFileSync } from 'node:fs';
let empty = 0;
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  if (chunk.length === 0) empty++;
  return write(chunk, ...rest);
};
process.on('exit', () => writeFileSync(process.env.EMPTY_WRITES_FILE, String(empty)));
`,
    );
    ws.write(
      'three.yml',
      `name: three
jobs:
  a: { runs-on: ubuntu-latest, steps: [{ run: "true" }] }
  b: { runs-on: ubuntu-latest, steps: [{ run: "true" }] }
  c: { runs-on: ubuntu-latest, needs: [a, b], steps: [{ run: "true" }] }
`,
    );
    const countFile = join(ws.dir, 'empty-writes');
    const result = await ws.run(['run', 'three.yml', '--json', '--state-dir', 'st'], {
      NODE_OPTIONS: `--import=${counter}`,
      EMPTY_WRITES_FILE: countFile,
    });
    expect(result.code).toBe(0);
    expect(events(result.stdout).filter((event) => event.type === 'job.completed')).toHaveLength(3);
    expect(readFileSync(countFile, 'utf8')).toBe('0');
  });
});
