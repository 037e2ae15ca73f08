import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { events, valkyrieBin, Workspace } from './cli.js';

const exec = promisify(execFile);

/**
 * The CLI exits as soon as its command is done (bin/valkyrie.js), not when the event loop drains: what
 * a full pipe could not take yet must still reach a reader that is slow to read it.
 */
describe('a reader that is slow to read stdout', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('gets the whole --json output of a run, summary last', async () => {
    const jobs = Array.from(
      { length: 3 },
      (_, i) => `  j${i}: { runs-on: ubuntu-latest, steps: [{ run: "seq 2000" }] }`,
    );
    ws.write('many.yml', `name: many\njobs:\n${jobs.join('\n')}\n`);
    const vk = `${JSON.stringify(process.execPath)} ${JSON.stringify(valkyrieBin)}`;
    // The pipe fills (6,000 log lines of ~100 bytes, where a pipe holds 64 kB) and nothing is read
    // until the run has ended.
    const { stdout } = await exec(
      'bash',
      [
        '-c',
        `${vk} run many.yml --json -j 4 --state-dir st | { sleep 2; cat; }; echo "rc=\${PIPESTATUS[0]}"`,
      ],
      { cwd: ws.dir, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 },
    );
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('rc=0');
    const all = events(lines.slice(0, -1).join('\n'));
    expect(all.filter((event) => event.type === 'log')).toHaveLength(6_000);
    expect(all.filter((event) => event.type === 'job.completed')).toHaveLength(3);
    expect(all.at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
  }, 60_000);
});
