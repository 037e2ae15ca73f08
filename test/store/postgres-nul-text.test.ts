import { afterEach, beforeEach, expect, it } from 'vitest';
import { jobIdFor } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from './postgres-server.js';

describeOnPostgres('Postgres text with NUL in it', () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  it('stores a NUL (a step output used in a later step, its log) as U+FFFD instead of failing the write', async () => {
    await using stores = await openPostgresStores(postgresUrl, { schema });
    const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
    const id = jobIdFor(run.id, 0);
    await stores.runs.addJobs([
      { id, runId: run.id, key: 'a', name: 'a\u0000b', matrix: {}, status: 'queued' },
    ]);
    await stores.runs.recordStep({ jobId: id, index: 0, name: 'Run echo got a\u0000c', startedAt: 2 });
    await stores.logs.append([
      { runId: run.id, jobId: id, stepIndex: 0, stream: 'stdout', at: 3, text: 'x\u0000y' },
    ]);
    await stores.runs.updateJobs([
      { id, patch: { status: 'succeeded', finishedAt: 4, outputs: { v: 'a\u0000c' } } },
    ]);
    const [job] = await stores.runs.listJobs(run.id);
    expect(job).toMatchObject({ name: 'a\uFFFDb', status: 'succeeded' });
    expect((await stores.runs.listSteps(id))[0]?.name).toBe('Run echo got a\uFFFDc');
    expect((await stores.logs.read(run.id)).map(({ text }) => text)).toEqual(['x\uFFFDy']);
  });
});
