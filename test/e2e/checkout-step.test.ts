import { afterAll, describe, expect, it } from 'vitest';
import { logLines, statuses, Workspace } from './cli.js';

const workflow = `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - run: cat marker.txt
`;

describe('uses: actions/checkout through valkyrie run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('succeeds at once, saying the working tree is the checkout, and later steps see its files', async () => {
    ws.write('marker.txt', 'in the working tree\n');
    const result = await ws.run(['run', ws.write('ci.yml', workflow), '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ build: 'succeeded' });
    const lines = logLines(result.stdout, 'build');
    expect(lines.filter((line) => line.startsWith('actions/checkout:'))).toEqual([
      `actions/checkout: the job’s workspace (${ws.dir}) is used as the checkout; nothing was fetched`,
    ]);
    expect(lines).toContain('in the working tree');
  });
});
