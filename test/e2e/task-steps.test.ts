import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, events, logLines, statuses, Workspace } from './cli.js';

const tasks = `
export async function describe(input, ctx) {
  ctx.logger.info('describing ' + input.src);
  ctx.logger.warn('careful', { width: input.width });
  return { src: input.src, area: Number(input.width) * 2, types: typeof input.width, nested: { a: 1 } };
}
export function flaky(_input, ctx) {
  if (ctx.attempt < 2) throw new Error('not yet on attempt ' + ctx.attempt);
  return 'third time lucky'.length;
}
export async function boom() {
  throw new Error('disk full on /scratch', { cause: new Error('ENOSPC: no space left on device') });
}
export function slow(_input, ctx) {
  return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
}
export function exits() {
  process.exit(3);
}
export const notAFunction = 42;
`;

const workflow = `jobs:
  pipeline:
    runs-on: ubuntu-latest
    steps:
      - id: fetch
        run: echo "path=img/cat.png" >> "$GITHUB_OUTPUT"
      - id: describe
        uses: task://./tasks/lib.mjs#describe
        with:
          src: \${{ steps.fetch.outputs.path }}
          width: 100
      - id: flaky
        uses: task://tasks/lib.mjs#flaky
        retry: {max-attempts: 2, delay: 10ms}
      - id: tolerated
        uses: task://./tasks/lib.mjs#boom
        continue-on-error: true
      - run: |
          echo "src=\${{ steps.describe.outputs.src }} area=\${{ steps.describe.outputs.area }} type=\${{ steps.describe.outputs.types }}"
          echo 'nested=\${{ steps.describe.outputs.nested }} result=\${{ steps.flaky.outputs.result }}'
          echo "tolerated=\${{ steps.tolerated.outcome }}/\${{ steps.tolerated.conclusion }}"
  throws:
    runs-on: ubuntu-latest
    steps:
      - uses: task://./tasks/lib.mjs#boom
      - run: echo never
  times-out:
    runs-on: ubuntu-latest
    steps:
      - uses: task://./tasks/lib.mjs#slow
        timeout-minutes: 0.005
  missing:
    runs-on: ubuntu-latest
    steps:
      - uses: task://./tasks/nope.mjs#run
  not-a-function:
    runs-on: ubuntu-latest
    steps:
      - uses: task://./tasks/lib.mjs#notAFunction
`;

// In a run of its own: a task that kills its worker may also end a task that shares that worker.
const workerLost = `jobs:
  worker-lost:
    runs-on: ubuntu-latest
    steps:
      - uses: task://./tasks/lib.mjs#exits
`;

describe('uses: task://… steps through valkyrie run', () => {
  const ws = new Workspace();
  let result: CliResult;
  let lost: CliResult;
  beforeAll(async () => {
    mkdirSync(join(ws.dir, 'tasks'));
    ws.write('tasks/lib.mjs', tasks);
    [result, lost] = await Promise.all([
      ws.run(['run', ws.write('tasks.yml', workflow), '--json', '--jobs', '5']),
      ws.run(['run', ws.write('lost.yml', workerLost), '--json']),
    ]);
  });
  afterAll(() => ws.dispose());

  it('reports each job with the status its task step gave it', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(statuses(result.stdout)).toEqual({
      pipeline: 'succeeded',
      throws: 'failed',
      'times-out': 'failed',
      missing: 'failed',
      'not-a-function': 'failed',
    });
    expect(lost.code).toBe(1);
    expect(statuses(lost.stdout)).toEqual({ 'worker-lost': 'failed' });
  });

  it('passes with: as strings, logs to the step, and feeds its outputs to later steps', () => {
    const lines = logLines(result.stdout, 'pipeline');
    expect(lines).toContain('describing img/cat.png');
    expect(lines).toContain('careful {"width":"100"}');
    expect(lines).toContain('src=img/cat.png area=200 type=string');
    expect(lines).toContain('nested={"a":1} result=16');
    expect(lines).toContain('tolerated=failure/success');
    const flaky = events(result.stdout)
      .filter((event) => event.type === 'step.completed' && event.job === 'pipeline')
      .map((event) => event.step as { name: string; attempt: number; outcome: string })
      .filter((step) => step.name.includes('#flaky'));
    expect(flaky.map((step) => [step.attempt, step.outcome])).toEqual([
      [1, 'failure'],
      [2, 'success'],
    ]);
  });

  it('tells why a task step failed, in its log', () => {
    expect(logLines(result.stdout, 'throws')).toContain(
      'error: task ./tasks/lib.mjs#boom failed: disk full on /scratch (caused by: ENOSPC: no space left on device)',
    );
    expect(logLines(result.stdout, 'throws')).not.toContain('never');
    expect(logLines(result.stdout, 'times-out')).toContain(
      'error: the step exceeded its timeout of 0.005 minutes (timeout-minutes)',
    );
    const missing = logLines(result.stdout, 'missing').join('\n');
    expect(missing).toMatch(/error: task module \.\/tasks\/nope\.mjs was not found in the workspace/);
    const notAFunction = logLines(result.stdout, 'not-a-function').join('\n');
    expect(notAFunction).toMatch(/task \.\/tasks\/lib\.mjs#notAFunction could not be loaded: .*notAFunction/);
    expect(logLines(lost.stdout, 'worker-lost').join('\n')).toMatch(
      /task \.\/tasks\/lib\.mjs#exits: its worker thread was lost \(exited\)/,
    );
  });
});
