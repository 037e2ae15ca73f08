import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  openEvents,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { replicaSqliteStores } from './replica-stores.js';

/** Every stream of the one-job run below holds this, whichever replica served it and whenever it opened. */
const wholeRun: RunEvent['type'][] = [
  'run.started',
  'job.queued',
  'job.started',
  'log', // the system line naming the job's runner
  'step.started',
  'log',
  'step.completed',
  'job.completed',
  'run.completed',
];

/** Keeps the driver's write of a run's end from committing until the returned release is called. */
type HoldCompletion = (runId: string) => Promise<() => Promise<void>>;

type Kinds = RunEvent['type'][];

/** A stream whose headers came (the replica has subscribed it); `kinds` once it has ended. */
interface OpenStream {
  readonly kinds: Promise<Kinds>;
}

async function openStream(server: TestServer, runId: string, token: string): Promise<OpenStream> {
  const stream = await openEvents(`${server.server.url}/api/v1/runs/${runId}/events`, token);
  const read = async () => {
    const kinds: Kinds = [];
    for (let event = await stream.next(); event !== undefined; event = await stream.next())
      kinds.push((event[1] as RunEvent).type);
    return kinds;
  };
  return { kinds: read() };
}

/**
 * Several short runs submitted one after another to one replica (the driver) of two on one store;
 * each run's stream is opened on the driver at four moments: as soon as it is submitted, mid-run,
 * right after the driver took the job's end (its reads wait for its writes, the run's end among them,
 * so it answers after the run has completed in its memory), and after the run has completed; and on
 * the other replica at the last three. Every stream must hold the whole run, in order.
 */
function windowScenario(openStores: () => Promise<Stores>, holdCompletion?: HoldCompletion) {
  return async () => {
    const startReplica = async () =>
      startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const runner = await connectScriptedRunner(
      driver.server.url,
      await credential(driver.request, driver.token),
      1,
    );
    const runs = 3;
    const streams = new Map<string, Promise<OpenStream>>();
    for (let round = 0; round < runs; round++) {
      const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const runId = (created.body as { run: { id: string } }).run.id;
      const open = (replica: 'driver' | 'other', moment: string) => {
        const stream = openStream(replica === 'driver' ? driver : other, runId, read);
        streams.set(`run ${round} ${replica} ${moment}`, stream);
        return stream;
      };
      const openOnBoth = (moment: string) => Promise.all([open('driver', moment), open('other', moment)]);
      // Not yet on the other replica: its store follower reads a round's steps before its lines, so
      // following a step that starts meanwhile it may tell a line before the step's start.
      await open('driver', 'submitted');
      const lease = (await runner.leases(round + 1))[round];
      if (lease === undefined || !lease.jobId.startsWith(`${runId}.`))
        throw new Error(`no lease for ${runId}`);
      const { jobId, fencingToken } = lease;
      runner.transport.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'greet', at: 1 });
      runner.transport.send(logLine(lease, `hello ${round}`, 1));
      // Live on the driver: tells when the driver has taken the job's end.
      const watch = await openEvents(`${driver.server.url}/api/v1/runs/${runId}/events`, read);
      await openOnBoth('mid-run');
      const release = await holdCompletion?.(runId);
      try {
        runner.transport.send({
          type: 'step.completed',
          jobId,
          fencingToken,
          step: {
            index: 0,
            name: 'greet',
            outcome: 'success',
            conclusion: 'success',
            exitCode: 0,
            // As a runner reports it: the stored step keeps its start.
            startedAt: 1,
            finishedAt: 2,
          },
        });
        runner.transport.send(jobCompleted(lease, { kind: 'succeeded' }, 2));
        for (let event = await watch.next(); event !== undefined; event = await watch.next())
          if ((event[1] as RunEvent).type === 'job.completed') break;
        // The driver has made the write of the run's end (held uncommitted on Postgres); its answer
        // waits for it, so only the other replica's headers are awaited here.
        open('driver', 'completing');
        await open('other', 'completing');
      } finally {
        await release?.();
      }
      while ((await watch.next()) !== undefined);
      // The driver's live stream has ended: the run has completed in its memory.
      await openOnBoth('completed');
    }
    const seen: Record<string, Kinds> = {};
    const expected: Record<string, Kinds> = {};
    for (const [name, stream] of streams) {
      seen[name] = await (await stream).kinds;
      expected[name] = wholeRun;
    }
    expect(seen).toEqual(expected);
    runner.transport.close();
  };
}

const title =
  "a run's stream from the replica that drives it holds the whole run, opened at any moment of the run";

describe('event streams of a driven run, at every moment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-windows-'));
  const schemas: string[] = [];
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    for (const schema of schemas) await dropSchema(schema);
  });

  it(
    `SQLite: ${title}`,
    windowScenario(async () => replicaSqliteStores(join(dir, 'valkyrie.db'))),
  );

  if (postgresSkipReason !== undefined) {
    it.skip(`Postgres: ${postgresSkipReason}`, () => {});
    return;
  }
  it(`Postgres: ${title} (its end held uncommitted while streams open)`, async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    await windowScenario(
      () => openPostgresStores(postgresUrl, { schema }),
      (runId) => holdRunRow(schema, runId),
    )();
  });
});

/** Locks the run's row from another connection: the driver's update of the run waits until released. */
async function holdRunRow(schema: string, runId: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM "${schema}".runs WHERE id = $1 FOR UPDATE`, [runId]);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}
