import { afterAll, expect, it } from 'vitest';
import { Workspace } from './cli.js';

const ws = new Workspace();
afterAll(() => ws.dispose());

// 60,000 unknown keys are 60,000 errors, and one more for the missing jobs: the first 100 say what is wrong.
const file = ws.write('keys.yml', `${Array.from({ length: 60_000 }, (_, i) => `key${i}: x`).join('\n')}\n`);

it.each(['validate', 'run'])(
  '%s prints the first 100 diagnostics of a workflow, then one line saying how many more there are',
  async (command) => {
    const result = await ws.run([command, file]);
    expect(result).toMatchObject({ code: 2, signal: null });
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.filter((line) => /keys\.yml:\d+:\d+: error: /.test(line))).toHaveLength(100);
    expect(lines.at(-1)).toMatch(/keys\.yml: 59901 more errors not shown \(60001 in all\)$/);
    expect(lines.length).toBeLessThan(320);
  },
  60_000,
);
