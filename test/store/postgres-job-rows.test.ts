import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobIdFor, type RunId } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { JobPatch, NewJob, RunStore } from '../../src/store/runs.js';
import {
  dropSchema,
  postgresSkipReason,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const title = 'Postgres job rows';
const legs = 50;
/** Sent inside array literals: quotes, a backslash, braces, a comma, NULL as text, and non-ASCII. */
const tricky = 'a "b" \\c {d,e} NULL é';

describe.skipIf(postgresSkipReason !== undefined)(
  postgresSkipReason === undefined ? title : `${title} (skipped: ${postgresSkipReason})`,
  () => {
    let schema = '';
    beforeEach(() => {
      schema = uniqueSchema();
    });
    afterEach(() => dropSchema(schema));

    /** The jobs table's inserted and updated row counts, once the server has `inserted` of them. */
    async function jobCounts(inserted: number): Promise<{ inserted: number; updated: number }> {
      return withRawClient(async (client) => {
        for (let tries = 0; ; tries++) {
          await client.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await client.query<{ n_tup_ins: string; n_tup_upd: string }>(
            `SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
            [schema],
          );
          const counts = { inserted: Number(rows[0]?.n_tup_ins), updated: Number(rows[0]?.n_tup_upd) };
          if (counts.inserted >= inserted || tries === 100) return counts;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      });
    }

    const jobsOf = (runId: RunId, from: number): NewJob[] =>
      Array.from({ length: legs }, (_, i) => ({
        id: jobIdFor(runId, from + i),
        runId,
        key: 'build',
        name: `build (${from + i})`,
        matrix: { leg: from + i },
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
        }
      }
      // A row update each per job added before (one call's write, the two others joined to it).
      expect(await jobCounts(2 * legs)).toEqual({ inserted: 2 * legs, updated: legs });
    });
  },
);
