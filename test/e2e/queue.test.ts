import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, summary, Workspace } from './cli.js';

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A job that appends its name to order.txt and records when it started (ms since the epoch). */
const job = (name: string, extra = '') => `  ${name}:
    runs-on: ubuntu-latest
${extra}    steps:
      - run: |
          echo ${name} >> order.txt
          node -e 'console.log(Date.now())' > started-${name}.txt
`;

describe('queue semantics through the CLI', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const read = (name: string) => readFileSync(join(ws.dir, name), 'utf8');
  const runIds = async () => {
    const result = await ws.run(['runs', '--json', '--limit', '100']);
    return (JSON.parse(result.stdout) as { id: string }[]).map((run) => run.id);
  };

  it('runs ready jobs by priority with --jobs 1: job key, then --priority, then the workflow default', async () => {
    const file = ws.write(
      'priorities.yml',
      `priority: low
jobs:
${job('unset')}${job('bulk', '    priority: background\n')}${job('urgent', '    priority: critical\n')}${job('mid', '    priority: normal\n')}${job('soon', '    priority: high\n')}`,
    );
    const order = async (args: string[]) => {
      ws.write('order.txt', '');
      const result = await ws.run(['run', file, '--jobs', '1', '--json', ...args]);
      expect(result.code).toBe(0);
      return read('order.txt').split('\n').filter(Boolean);
    };
    // "unset" takes the workflow's low.
    expect(await order([])).toEqual(['urgent', 'soon', 'mid', 'unset', 'bulk']);
    // --priority beats the workflow default; equal priorities keep file (arrival) order.
    expect(await order(['--priority', 'normal'])).toEqual(['urgent', 'soon', 'unset', 'mid', 'bulk']);
    // A job's own priority: beats --priority.
    expect(await order(['--priority', 'critical'])).toEqual(['unset', 'urgent', 'soon', 'mid', 'bulk']);
  });

  it('does not start a not-before job before its time (job key: a duration after the run starts)', async () => {
    const file = ws.write('delayed.yml', `jobs:\n${job('late', '    not-before: 1500ms\n')}${job('early')}`);
    const before = Date.now();
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(summary(result.stdout).status).toBe('succeeded');
    // The run starts after `before`, so the job may not start before before + 1.5 s: a lower bound
    // that holds however slow the machine is.
    expect(Number(read('started-late.txt'))).toBeGreaterThanOrEqual(before + 1500);
    expect(Number(read('started-early.txt'))).toBeGreaterThanOrEqual(before);
    const queued = events(result.stdout).find(
      (event) => event.type === 'job.queued' && event.name === 'late',
    );
    expect(queued).toMatchObject({ priority: 'normal' });
    expect(Number(queued?.notBefore)).toBeGreaterThanOrEqual(before + 1500);
    expect(Number(read('started-late.txt'))).toBeGreaterThanOrEqual(Number(queued?.notBefore));
  });

  it('holds the whole run until --not-before (an ISO 8601 timestamp)', async () => {
    const file = ws.write('later.yml', `jobs:\n${job('held')}`);
    const at = Date.now() + 1200;
    const result = await ws.run(['run', file, '--not-before', new Date(at).toISOString(), '--json']);
    expect(result.code).toBe(0);
    expect(Number(read('started-held.txt'))).toBeGreaterThanOrEqual(at);
  });

  it('takes a timestamp without an offset as local time, a date alone included, and an offset of hours alone', async () => {
    const file = ws.write(
      'zoned.yml',
      `jobs:\n${job('date', '    not-before: 2020-05-01\n')}${job('midnight', '    not-before: 2020-05-01T00:00\n')}${job('hours', '    not-before: 2020-05-01T00:00+05\n')}`,
    );
    // New York is 4 hours behind UTC in May; the machine's zone may well be UTC, where both agree.
    const result = await ws.run(['run', file, '--json'], { TZ: 'America/New_York' });
    expect(result.code).toBe(0);
    const notBefore = Object.fromEntries(
      events(result.stdout)
        .filter((event) => event.type === 'job.queued')
        .map((event) => [event.name, new Date(Number(event.notBefore)).toISOString()]),
    );
    expect(notBefore).toEqual({
      date: '2020-05-01T04:00:00.000Z',
      midnight: '2020-05-01T04:00:00.000Z',
      hours: '2020-04-30T19:00:00.000Z',
    });
  });

  it('refuses a run larger than --queue-capacity whole, with VK_QUEUE_FULL and exit 2 (it can never fit), and stores nothing', async () => {
    const three = ws.write('three.yml', `jobs:\n${job('one')}${job('two')}${job('three')}`);
    const before = await runIds();
    ws.write('order.txt', '');
    const refused = await ws.run(['run', three, '--queue-capacity', '2']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'VK_QUEUE_FULL: this run alone has 3 jobs, more than the queue capacity of 2 (--queue-capacity), so it can never be queued',
    );
    expect(refused.stderr).not.toContain('try again later');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(read('order.txt')).toBe('');
    expect(await runIds()).toEqual(before);

    const two = ws.write('two.yml', `jobs:\n${job('one')}${job('two')}`);
    const fits = await ws.run(['run', two, '--queue-capacity', '2', '--json']);
    expect(fits.code).toBe(0);
    expect(await runIds()).toHaveLength(before.length + 1);
  });

  it('returns the existing run for a repeated --idempotency-key and starts nothing', async () => {
    const file = ws.write('once.yml', `jobs:\n${job('once')}`);
    ws.write('order.txt', '');
    const first = await ws.run(['run', file, '--idempotency-key', 'deploy-42', '--json']);
    expect(first.code).toBe(0);
    const started = events(first.stdout).find((event) => event.type === 'run.started');
    const runId = String(started?.runId);
    const before = await runIds();

    const again = await ws.run(['run', file, '--idempotency-key', 'deploy-42', '--json']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`run ${runId} of once.yml (#`);
    expect(again.stderr).toContain('it succeeded');
    expect(events(again.stdout)).toEqual([
      { type: 'run.duplicate', runId, runNumber: started?.runNumber, status: 'succeeded' },
    ]);
    expect(read('order.txt').split('\n').filter(Boolean)).toEqual(['once']);
    expect(await runIds()).toEqual(before);

    const otherKey = await ws.run(['run', file, '--idempotency-key', 'deploy-43']);
    expect(otherKey.code).toBe(0);
    expect(read('order.txt').split('\n').filter(Boolean)).toEqual(['once', 'once']);
  });

  it('takes an option left out and its default spelled out as one request under a key', async () => {
    const file = ws.write(
      'defaults.yml',
      `on: { workflow_dispatch: { inputs: { x: { default: a } } } }\njobs:\n${job('d')}`,
    );
    ws.write('order.txt', '');
    expect((await ws.run(['run', file, '--idempotency-key', 'dflt'])).code).toBe(0);
    for (const spelled of [
      ['--priority', 'normal'],
      ['--input', 'x=a'],
    ]) {
      const again = await ws.run(['run', file, '--idempotency-key', 'dflt', '--json', ...spelled]);
      expect(again.code).toBe(0);
      expect(events(again.stdout).map((event) => event.type)).toEqual(['run.duplicate']);
    }
    expect(read('order.txt').split('\n').filter(Boolean)).toEqual(['d']);

    // The default is the workflow's own priority: when it has one, that is what no flag means.
    const high = ws.write('high.yml', `priority: high\njobs:\n${job('h')}`);
    expect((await ws.run(['run', high, '--idempotency-key', 'high'])).code).toBe(0);
    expect((await ws.run(['run', high, '--idempotency-key', 'high', '--priority', 'high'])).code).toBe(0);
    const other = await ws.run(['run', high, '--idempotency-key', 'high', '--priority', 'normal']);
    expect(other.stderr).toContain('VK_IDEMPOTENCY_CONFLICT');
    expect(other.code).toBe(2);
    expect(read('order.txt').split('\n').filter(Boolean)).toEqual(['d', 'h']);
  });

  it('says so, and exits 0, when the run with the key is still running in another process', async () => {
    const file = ws.write(
      'waits.yml',
      'jobs:\n  w:\n    runs-on: ubuntu-latest\n    steps: [{ run: "touch started; while [ ! -e release ]; do sleep 0.05; done" }]\n',
    );
    const first = collect(ws.start(['run', file, '--idempotency-key', 'busy']));
    try {
      await waitFor(() => existsSync(join(ws.dir, 'started')));
      const again = await ws.run(['run', file, '--idempotency-key', 'busy']);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('it is still running (in another process)');
    } finally {
      // Lets the first run end whatever happened above, so no process outlives the test.
      ws.write('release', '');
    }
    expect((await first).code).toBe(0);
  });

  it("exits with the existing run's result for a repeated key: 1 for a failed run", async () => {
    const file = ws.write(
      'fails.yml',
      'jobs:\n  f:\n    runs-on: ubuntu-latest\n    steps: [{ run: exit 3 }]\n',
    );
    expect((await ws.run(['run', file, '--idempotency-key', 'f'])).code).toBe(1);
    const again = await ws.run(['run', file, '--idempotency-key', 'f']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('it failed');
  });

  it('names the option and the value for a bad queue flag', async () => {
    const file = ws.write('ok.yml', `jobs:\n${job('ok')}`);
    const cases: [string[], string][] = [
      [
        ['--priority', 'urgent'],
        '--priority must be one of critical, high, normal, low, background, received "urgent"',
      ],
      [['--not-before', 'soon'], '--not-before must be an ISO 8601 timestamp'],
      // A number of seconds past 100 years is a duration, refused for its size.
      [['--not-before', '3200000000'], 'such as 30s or 5m (at most 100 years), received "3200000000"'],
      [['--queue-capacity', '0'], '--queue-capacity must be a positive integer, received "0"'],
      [['--aging-interval', 'fast'], '--aging-interval must be a duration'],
      [['--aging-interval', '99999999999999h'], 'above 0 and at most 100 years, received "99999999999999h"'],
      // Taken on SQLite; Postgres's index failed on a key of 4,000 characters in its own words.
      [
        ['--idempotency-key', 'k'.repeat(1025)],
        '--idempotency-key must be at most 1024 bytes (UTF-8), received 1025',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await ws.run(['run', file, ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});
