import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/**
 * A line longer than 65,536 characters is kept as several lines; a secret across the cut must still be
 * masked whole (each piece alone held only half of it, and both halves were printed and stored).
 */
describe('a secret in an over-long output line', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is masked where the line is cut, on the terminal and in the stored log', async () => {
    const file = ws.write(
      'sec.yml',
      `name: sec
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: head -c 65530 /dev/zero | tr '\\0' x; printf '%s' "$S"; echo yyyyyyyyyy
        env:
          S: \${{ secrets.TOKEN }}
`,
    );
    const secret = 'SUPERSECRETVALUE123';
    const run = await ws.run(['run', file, '--secret', `TOKEN=${secret}`]);
    expect(run.code).toBe(0);
    const logs = await ws.run(['logs', '1']);
    for (const text of [run.stdout + run.stderr, logs.stdout]) {
      for (const half of [secret.slice(0, 6), secret.slice(6)]) expect(text).not.toContain(half);
      expect(text).toContain('***yyyyyyyyyy');
    }
  }, 60_000);
});
