// Run with `npm run build && node examples/library/run.mjs`. Outside this repository, import from 'valkyrie'.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngine } from 'valkyrie';

const tasks = new URL('./tasks.mjs', import.meta.url);
// In TypeScript (or Node ≥ 24), `await using engine = …` closes it at the end of the scope.
const engine = await openEngine({ pool: { minThreads: 1, maxThreads: 2 } });
engine.onEvent((event) => {
  if (event.type === 'job.retried') console.log(`job ${event.jobId} retried after: ${event.outcome.kind}`);
  // A task's ctx.logger lines arrive as events; without a listener they are dropped.
  if (event.type === 'job.log') console.log(`[${event.task}] ${event.level}: ${event.message}`);
});

const shout = engine.task('shout', { module: tasks, exportName: 'shout' });
const job = engine.enqueue(shout, 'hello', {
  priority: 'high',
  retry: { maxAttempts: 2, retryOn: ['threw'] },
});
const outcome = await job.result;
console.log(`job ${job.id}: ${outcome.kind}`, outcome.kind === 'succeeded' ? outcome.output : outcome);

for (const name of ['words', 'countWords', 'longestWord', 'report']) {
  engine.task(name, { module: tasks, exportName: name });
}
//  words ─┬→ count ───┬→ report
//         └→ longest ─┘
const result = await engine.runWorkflow({
  nodes: [
    { id: 'words', task: 'words', input: 'the quick brown fox jumps over the lazy dog' },
    { id: 'count', task: 'countWords' },
    { id: 'longest', task: 'longestWord' },
    { id: 'report', task: 'report' },
  ],
  edges: [
    { from: 'words', to: 'count' },
    { from: 'words', to: 'longest' },
    { from: 'count', to: 'report' },
    { from: 'longest', to: 'report' },
  ],
});
console.log(`workflow: ${result.kind}`);
console.log(result.outputs.report);
await engine.close({ deadlineMs: 5_000 });

// The same API on a SQLite file: each job is written before it runs and its outcome committed before
// `result` resolves, so jobs survive a crash (a Postgres URL works the same way).
const dir = await mkdtemp(join(tmpdir(), 'valkyrie-example-'));
const store = join(dir, 'jobs.db');
const durable = await openEngine({ store, pool: { minThreads: 1, maxThreads: 1 } });
durable.task('shout', { module: tasks, exportName: 'shout' });
const stored = durable.enqueue('shout', 'durable', {
  idempotencyKey: 'greeting',
  retry: { maxAttempts: 2, retryOn: ['threw'], delayMs: 10 },
});
console.log(`stored job: ${(await stored.result).output}`);
await durable.close();

// Another engine on the file (another process would do the same): the key finds the stored outcome
// and nothing runs again. (The key with another task or input would be VK_IDEMPOTENCY_CONFLICT.)
const reopened = await openEngine({ store, pool: { minThreads: 1, maxThreads: 1 } });
reopened.task('shout', { module: tasks, exportName: 'shout' });
const again = reopened.enqueue('shout', 'durable', { idempotencyKey: 'greeting' });
console.log(`after reopening: ${(await again.result).output}`);
await reopened.close();
await rm(dir, { recursive: true, force: true });
