import { afterAll, describe, expect, it } from 'vitest';
import { findInterpreter } from '../../src/executors/shell/spawner/script-spawner.js';
import { statuses, Workspace } from './cli.js';

/**
 * The bundled CLI must find the step spawners it ships with (libexec/ and dist/executors/), which it
 * locates relative to its own files: a change to the bundle's layout once made `auto` fall back to
 * spawning from the engine process without a word. Naming a launcher makes a missing one an error.
 */
describe('the bundled CLI finds its step spawners', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const file = ws.write(
    'launch.yml',
    `jobs:
  hello:
    runs-on: ubuntu-latest
    steps: [{ run: echo hello from a spawned step }]
`,
  );

  it('runs steps through the Node spawner', async () => {
    const result = await ws.run(['run', file, '--json'], { VALKYRIE_LAUNCHER: 'spawner' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ hello: 'succeeded' });
  });

  it.each([
    ['perl-spawner', 'perl'],
    ['python-spawner', 'python3'],
  ])('runs steps through the %s (%s is on PATH)', async (launcher, interpreter) => {
    expect(findInterpreter(interpreter)).toBeDefined();
    const result = await ws.run(['run', file, '--json'], { VALKYRIE_LAUNCHER: launcher });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ hello: 'succeeded' });
  });
});
