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

// 110 warnings (permissions: has no effect yet) before the one error that refuses the file.
const job = (i: number) =>
  `  j${i}:\n    runs-on: ubuntu-latest\n    permissions: read-all\n    steps:\n      - run: echo\n`;
const warned = ws.write(
  'warned.yml',
  `on: push\njobs:\n${Array.from({ length: 110 }, (_, i) => job(i)).join('')}  bad:\n    runs-on: ubuntu-latest\n    if: secrets.X != ''\n    steps:\n      - run: echo\n`,
);

it.each([['validate'], ['run'], ['submit', '--server', 'http://127.0.0.1:2', '--token', 'unused']])(
  '%s prints the errors of a workflow before its warnings when there are more than 100',
  async (...args) => {
    const result = await ws.run([...args, warned]);
    expect(result).toMatchObject({ code: 2, signal: null });
    const lines = result.stderr.trimEnd().split('\n');
    const shown = lines.filter((line) => /warned\.yml:\d+:\d+: (error|warning): /.test(line));
    expect(shown).toHaveLength(100);
    expect(shown[0]).toMatch(/warned\.yml:\d+:9: error: context "secrets" is not available/);
    expect(shown.slice(1).every((line) => line.includes(': warning: '))).toBe(true);
    expect(lines.at(-1)).toMatch(/warned\.yml: 11 more warnings not shown \(111 in all\)$/);
  },
  60_000,
);
