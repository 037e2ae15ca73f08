import { afterAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';

describe('valkyrie logs', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it("groups a job's lines by step, each with its outcome, so a reader sees which step failed and how", async () => {
    const file = ws.write(
      'failing.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: greet
        run: echo hello
      - run: "true"
      - run: |
          echo about to fail
          exit 3
      - run: echo never
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    const runId = String(events(result.stdout)[0]?.runId);
    const logs = await ws.run(['logs', runId, 'a']);
    expect(logs.code).toBe(0);
    expect(logs.stdout.replace(/ in \d[\d.]*m?s\n/g, '\n')).toBe(
      [
        '▶ greet',
        'hello',
        '✓ succeeded',
        '▶ Run true',
        '✓ succeeded',
        '▶ Run echo about to fail',
        'about to fail',
        '✗ failed (exit code 3)',
        '▶ Run echo never',
        '- skipped',
        '',
      ].join('\n'),
    );
    const raw = await ws.run(['logs', runId, 'a', '--raw']);
    expect(raw.stdout).toBe('hello\nabout to fail\n');
  });
});
