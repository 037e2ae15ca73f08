import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

// Runs the README's example as a user would, against the built package (npm test builds first).
it('runs examples/library/run.mjs through the package entry point', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['examples/library/run.mjs'], {
    cwd: root,
    timeout: 20_000,
  });
  expect(stdout.split('\n')).toEqual([
    'job 1 retried after: failed',
    'job 1: succeeded HELLO! (attempt 2)',
    '[report] info: writing the report',
    'workflow: succeeded',
    '9 words, the longest is "quick"',
    'stored job: DURABLE! (attempt 2)',
    'after reopening: DURABLE! (attempt 2)',
    '',
  ]);
});
