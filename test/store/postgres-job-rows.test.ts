import { afterEach, beforeEach, expect, it } from 'vitest';
import { jobIdFor, type RunId } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { JobPatch, NewJob, RunStore } from '../../src/store/runs.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  tableCounters,
  uniqueSchema,
} from './postgres-server.js';

const title = 'Postgres job rows';
const legs = 50;
/** Sent inside array literals: quotes, a backslash, braces, a comma, NULL as text, and non-ASCII. */
const tricky = 'a "b" \\c {d,e} NULL é';

describeOnPostgres(title, () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  const jobsOf = (runId: RunId, from: number): NewJob[] =>
    Array.from({ length: legs }, (_, i) => ({
      id: jobIdFor(runId, from + i),
      runId,
      key: 'build',
      name: `${tricky} (${from + i})`,
      matrix: { leg: from + i, value: tricky },
      status: 'pending',
    }));

  /** The control plane's calls for a leg: queued, started, finished, each a call for every job. */
  const lifecycle = (runs: RunStore, jobs: readonly NewJob[]): Promise<void>[] =>
    (
      [
        { status: 'queued', queuedAt: 2, priority: 'normal' },
        { status: 'running', startedAt: 3 },
        { status: 'succeeded', finishedAt: 4, outputs: { out: tricky } },
      ] satisfies JobPatch[]
    ).map((patch) => runs.updateJobs(jobs.map(({ id }) => ({ id, patch }))));

  it("writes a job's updates made while the write before them waits as one row version: none into its add, one otherwise", async () => {
    {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const added = jobsOf(run.id, 0);
      const folded = [stores.runs.addJobs(added), ...lifecycle(stores.runs, added)];
      const existing = jobsOf(run.id, legs);
      await stores.runs.addJobs(existing);
      await Promise.all([...folded, ...lifecycle(stores.runs, existing)]);
      const jobs = await stores.runs.listJobs(run.id);
      expect(jobs).toHaveLength(2 * legs);
      for (const job of jobs) {
        expect(job).toMatchObject({ status: 'succeeded', queuedAt: 2, startedAt: 3, finishedAt: 4 });
        expect(job).toMatchObject({ priority: 'normal', outputs: { out: tricky } });
        expect(job.name.startsWith(`${tricky} (`)).toBe(true);
        expect(job.matrix).toMatchObject({ value: tricky });
      }
    }
    // A row update each per job added before (one call's write, the two others joined to it).
    const { inserted, updated } = await tableCounters(schema, 'jobs', (c) => c.inserted >= 2 * legs);
    expect({ inserted, updated }).toEqual({ inserted: 2 * legs, updated: legs });
  });

  it("joins calls that carry log lines too: a job's start line costs no row version of its own", async () => {
    {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      const jobs = jobsOf(run.id, 0);
      await stores.runs.addJobs(jobs);
      const line = (jobId: NewJob['id']) =>
        ({ runId: run.id, jobId, stepIndex: -1, stream: 'system', at: 3, text: `on ${jobId}` }) as const;
      // As the control plane makes them: a call per turn, each started job's line with its update.
      const calls = [
        stores.runs.updateJobs(jobs.map(({ id }) => ({ id, patch: { status: 'queued', queuedAt: 2 } }))),
        ...jobs.map(({ id }) =>
          stores.runs.updateJobs([{ id, patch: { status: 'running', startedAt: 3 } }], [line(id)]),
        ),
        stores.runs.updateJobs(jobs.map(({ id }) => ({ id, patch: { status: 'succeeded', finishedAt: 4 } }))),
      ];
      await Promise.all(calls);
      const lines = await stores.logs.read(run.id);
      expect(lines.map(({ text }) => text)).toEqual(jobs.map(({ id }) => `on ${id}`));
    }
    const { updated } = await tableCounters(schema, 'jobs', (c) => c.updated >= legs);
    expect(updated).toBe(legs);
  });

  it("updates a job's row in place (HOT): no index entry for a change of its state", async () => {
    {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
      // Pages' worth of rows, as a run's matrix legs fill them.
      const jobs = Array.from({ length: 8 }, (_, i) => jobsOf(run.id, i * legs)).flat();
      await stores.runs.addJobs(jobs);
      // A job's start, on rows as they were added: a state change (another comes with its end; its
      // room on the page depends on when the server prunes the versions before it).
      await stores.runs.updateJobs(
        jobs.map(({ id }) => ({ id, patch: { status: 'running', startedAt: 3 } })),
      );
    }
    const { updated, hotUpdated } = await tableCounters(schema, 'jobs', (c) => c.updated >= 8 * legs);
    expect(updated).toBe(8 * legs);
    expect(hotUpdated).toBeGreaterThanOrEqual(0.95 * updated);
  });
});
