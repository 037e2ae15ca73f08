import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it, vi } from 'vitest';
import { WorkflowParseThread } from '../../src/server/workflow-parse-thread.js';
import { parseWorkflow } from '../../src/workflow/parse.js';

/**
 * The thread runs the built parser (dist/): run `npm run build` after editing src/workflow/ or
 * src/server/workflow-parse-*.ts, as for the thread executor.
 */
const threads: WorkflowParseThread[] = [];
afterEach(async () => {
  for (const thread of threads.splice(0)) await thread.close();
});

function parseThread(timeoutMs = 10_000, maxQueued = 16): WorkflowParseThread {
  const thread = new WorkflowParseThread({ timeoutMs, maxQueued });
  threads.push(thread);
  return thread;
}

const files = (relative: string) => {
  const dir = fileURLToPath(new URL(relative, import.meta.url));
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yml'))
    .map((file) => ({ file, source: readFileSync(`${dir}${file}`, 'utf8') }));
};

it('answers what parseWorkflow answers in process: the workflow, or the same diagnostics', async () => {
  const thread = parseThread();
  const workflows = [...files('../../examples/'), ...files('../fixtures/workflows/invalid/')];
  expect(workflows.length).toBeGreaterThan(20);
  for (const { file, source } of workflows) {
    const options = { runnerLabels: ['linux'] };
    expect(await thread.parse(source, file, options)).toEqual({
      kind: 'parsed',
      result: parseWorkflow(source, file, options),
    });
  }
  const ci = readFileSync(new URL('../../examples/ci.yml', import.meta.url), 'utf8');
  expect(await thread.parse(ci, 'ci.yml', { jobs: ['test'] })).toEqual({
    kind: 'parsed',
    result: parseWorkflow(ci, 'ci.yml', { jobs: ['test'] }),
  });
});

it('fails a parse that throws in the thread, as it throws in process, and parses the next', async () => {
  const thread = parseThread();
  // zod reports each of 250,000 steps in one push(...issues): past the stack, in process too.
  const overflowing = `jobs:\n  a:\n    runs-on: x\n    steps: [${Array(250_000).fill('1').join(',')}]\n`;
  expect(() => parseWorkflow(overflowing, 'w.yml')).toThrow(RangeError);
  await expect(thread.parse(overflowing, 'w.yml')).rejects.toThrow(/Maximum call stack size exceeded/);
  expect(await thread.parse('jobs: 3', 'w.yml')).toMatchObject({ kind: 'parsed' });
});

it('stops a parse past the limit, answers the ones queued behind it, and refuses past maxQueued', async () => {
  const thread = parseThread(200, 3);
  const slow = `jobs: [${Array(500_000).fill('1').join(',')}]\n`;
  const queued = [thread.parse(slow, 'a.yml'), thread.parse(slow, 'b.yml'), thread.parse('jobs: 3', 'c.yml')];
  expect(await thread.parse('jobs: 3', 'd.yml')).toEqual({ kind: 'busy', queued: 3 });
  const [first, second, third] = await Promise.all(queued);
  expect(first).toEqual({ kind: 'timed_out', timeoutMs: 200 });
  expect(second).toEqual({ kind: 'timed_out', timeoutMs: 200 });
  expect(third).toEqual({ kind: 'parsed', result: parseWorkflow('jobs: 3', 'c.yml') });
});

it('answers closed to the parses it holds and to later ones once closed', async () => {
  const thread = parseThread();
  const slow = thread.parse(`jobs: [${Array(500_000).fill('1').join(',')}]\n`, 'a.yml');
  const waiting = thread.parse('jobs: 3', 'b.yml');
  await thread.close();
  expect(await slow).toEqual({ kind: 'closed' });
  expect(await waiting).toEqual({ kind: 'closed' });
  expect(await thread.parse('jobs: 3', 'c.yml')).toEqual({ kind: 'closed' });
});

it('replaces a thread whose heap a large parse grew once it is idle, and keeps one that stayed small', async () => {
  const thread = new WorkflowParseThread({ timeoutMs: 60_000, maxQueued: 16, recycleIdleMs: 20 });
  threads.push(thread);
  const idle = () => new Promise((resolve) => setTimeout(resolve, 500));
  expect(await thread.parse('jobs: 3', 'small.yml')).toMatchObject({ kind: 'parsed' });
  const small = thread.threadId;
  expect(small).toBeDefined();
  await idle();
  expect(thread.threadId).toBe(small);
  // 30,000 unknown keys: its heap grows from 18 MiB to about 80 (64 MiB replaces it, by default).
  const large = `jobs: {}\n${Array.from({ length: 30_000 }, (_, i) => `k${i}: v`).join('\n')}\n`;
  const parsed = await thread.parse(large, 'large.yml');
  expect(parsed.kind === 'parsed' && parsed.result.diagnostics.length).toBeGreaterThan(30_000);
  await vi.waitFor(() => expect(thread.threadId).toBeUndefined(), { timeout: 10_000, interval: 20 });
  expect(await thread.parse('jobs: 3', 'next.yml')).toEqual({
    kind: 'parsed',
    result: parseWorkflow('jobs: 3', 'next.yml'),
  });
  expect(thread.threadId).not.toBe(small);
});

it('keeps a grown thread while parses follow one another, and replaces it once they stop', async () => {
  const thread = new WorkflowParseThread({
    timeoutMs: 60_000,
    maxQueued: 16,
    recycleHeapBytes: 0,
    recycleIdleMs: 2_000,
  });
  threads.push(thread);
  const parses = await Promise.all(['a', 'b', 'c'].map((name) => thread.parse('jobs: 3', `${name}.yml`)));
  expect(parses.map((parse) => parse.kind)).toEqual(['parsed', 'parsed', 'parsed']);
  const id = thread.threadId;
  expect(await thread.parse('jobs: 3', 'd.yml')).toMatchObject({ kind: 'parsed' });
  expect(thread.threadId).toBe(id);
  await vi.waitFor(() => expect(thread.threadId).toBeUndefined(), { timeout: 10_000, interval: 50 });
});

it('gives a takeover a place of its own beyond maxQueued, parsed before the submissions waiting', async () => {
  const thread = parseThread(60_000, 2);
  // Started and ready: `a` is sent to it at once, and runs while the others wait.
  expect(await thread.parse('jobs: 1', 'warm.yml')).toMatchObject({ kind: 'parsed' });
  // `a` need only outlast this test's next few calls, each answered without the thread: 50,000
  // items take a few tenths of a second (500,000 took 16 s in a loaded CI run, for nothing more).
  const slow = `jobs: [${Array(50_000).fill('1').join(',')}]\n`;
  const settled: string[] = [];
  const note = (name: string) => (outcome: { kind: string }) => {
    settled.push(`${name} ${outcome.kind}`);
    return outcome;
  };
  const running = thread.parse(slow, 'a.yml').then(note('a'));
  const waiting = thread.parse('jobs: 3', 'b.yml').then(note('b'));
  expect(await thread.parse('jobs: 3', 'c.yml')).toEqual({ kind: 'busy', queued: 2 });
  const takeover = thread.parse('jobs: 4', 't.yml', {}, { takeover: true }).then(note('takeover'));
  expect(await thread.parse('jobs: 5', 'u.yml', {}, { takeover: true })).toEqual({ kind: 'busy', queued: 1 });
  expect(await takeover).toEqual({ kind: 'parsed', result: parseWorkflow('jobs: 4', 't.yml') });
  await Promise.all([running, waiting]);
  expect(settled).toEqual(['a parsed', 'takeover parsed', 'b parsed']);
}, 120_000);

it('starts its thread at warm(), before any parse, and parses on that thread', async () => {
  const thread = parseThread();
  expect(thread.threadId).toBeUndefined();
  expect(await thread.warm()).toBe(true);
  const warmed = thread.threadId;
  expect(warmed).toBeDefined();
  expect(await thread.warm()).toBe(true);
  expect(thread.threadId).toBe(warmed);
  expect(await thread.parse('jobs: 3', 'first.yml')).toMatchObject({ kind: 'parsed' });
  expect(thread.threadId).toBe(warmed);
  await thread.close();
  expect(await thread.warm()).toBe(false);
  expect(await thread.parse('jobs: 3', 'late.yml')).toEqual({ kind: 'closed' });
});
