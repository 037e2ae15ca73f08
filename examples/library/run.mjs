// Run with `npm run build && node examples/library/run.mjs`. Outside this repository, import from 'valkyrie'.
import { openEngine } from 'valkyrie';

const tasks = new URL('./tasks.mjs', import.meta.url);
// In TypeScript (or Node ≥ 24), `await using engine = …` closes it at the end of the scope.
const engine = await openEngine({ pool: { minThreads: 1, maxThreads: 2 } });
engine.onEvent((event) => {
  if (event.type === 'job.retried') console.log(`job ${event.jobId} retried after: ${event.outcome.kind}`);
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
