import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControlMessage } from '../../src/protocol/messages.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import {
  dropSchema,
  postgresSkipReason,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from '../store/postgres-server.js';
import { clockAhead } from './clock-ahead.js';
import { connectScriptedRunner, credential, jobCompleted, logLine, startTestServer } from './helpers.js';
import { tookOver } from './takeover-notices.js';

// docs/replicas.md: a server gives up the runs it drives when a store write fails, and a run whose
// heartbeat is stale is taken over. A write that fails for good would make that a loop: the run is
// taken over at most --max-takeovers times in a row without a job finishing, then ends failed.

/** A store on which every log line containing `poison` fails to be written, as a value it refuses. */
interface PoisonedStore {
  readonly name: string;
  readonly skip?: string;
  open(): Promise<Stores>;
}

const dir = mkdtempSync(join(tmpdir(), 'valkyrie-takeover-cap-'));
const schemas: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const schema of schemas) await dropSchema(schema);
});

const poisonedStores: readonly PoisonedStore[] = [
  {
    name: 'SQLite',
    async open() {
      const path = join(dir, `valkyrie-${Math.random().toString(36).slice(2)}.db`);
      const stores = openSqliteStores(path);
      const raw = new Database(path);
      raw.exec(`CREATE TRIGGER refuse_poison BEFORE INSERT ON log_lines WHEN NEW.text LIKE '%poison%'
                BEGIN SELECT RAISE(ABORT, 'a poison value'); END;`);
      raw.close();
      return stores;
    },
  },
  {
    name: 'Postgres',
    ...(postgresSkipReason === undefined ? {} : { skip: postgresSkipReason }),
    async open() {
      const schema = uniqueSchema();
      schemas.push(schema);
      const stores = await openPostgresStores(postgresUrl, { schema });
      await withRawClient((client) =>
        client.query(`
          CREATE FUNCTION "${schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.text LIKE '%poison%' THEN RAISE EXCEPTION 'a poison value'; END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER refuse_poison BEFORE INSERT ON "${schema}".log_lines
            FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_poison();`),
      );
      return stores;
    },
  },
];

type Lease = Extract<ControlMessage, { type: 'lease' }>;

/** `poison` alone, or beside a chain of jobs that each finish before poison's line is sent. */
function workflowWith(chain: number): string {
  const jobs = ['  poison: { runs-on: linux, steps: [{ run: echo poison }] }'];
  for (let index = 1; index <= chain; index++)
    jobs.push(
      `  step${index}: { runs-on: linux, ${index > 1 ? `needs: [step${index - 1}], ` : ''}steps: [{ run: echo ok }] }`,
    );
  return `name: poisoned\njobs:\n${jobs.join('\n')}\n`;
}

interface JobBody {
  readonly name: string;
  readonly status: string;
  readonly reason?: string;
}

/**
 * Submits `workflowWith(chain)` to a server on `store` and plays a runner that, for every lease of
 * `poison`, first finishes the chain's job it holds (if any), waits until that end is stored, and
 * then reports poison's line, whose write fails. Resolves once the run has ended, with what the API
 * shows of it, poison's leases and the server's notices.
 * The server's clock runs 10 s ahead, and moves 10 s on as poison's line is sent: each run it gives
 * up, its first driver's or a takeover's, is stale at its next sweep, not after a real 6 s.
 */
async function poisonedRun(store: PoisonedStore, chain: number, maxTakeovers?: number) {
  const notices: string[] = [];
  const clock = clockAhead(10_000);
  const server = await startTestServer({
    stores: await store.open(),
    clock,
    takeoverIntervalMs: 100,
    ...(maxTakeovers === undefined ? {} : { maxTakeovers }),
    logNotice: (line) => notices.push(line),
    logError: () => {},
  });
  const created = await server.request('POST', '/api/v1/runs', { body: { workflow: workflowWith(chain) } });
  const runId = (created.body as { run: { id: string } }).run.id;
  const runner = await connectScriptedRunner(
    server.server.url,
    await credential(server.request, server.token),
    chain + 2,
  );
  const readRun = async () =>
    (
      (await server.request('GET', `/api/v1/runs/${runId}`)).body as {
        run: { status: string; jobs: JobBody[] };
      }
    ).run;
  const chainDone = async () =>
    (await readRun()).jobs.every((job) => job.name === 'poison' || job.status === 'succeeded');
  const poisonLeases: Lease[] = [];
  let held: Lease | undefined;
  let poisonHeld: Lease | undefined;
  const play = async () => {
    const done = held;
    const poison = poisonHeld;
    if (poison === undefined || (chain > 0 && done === undefined && !(await chainDone()))) return;
    poisonHeld = undefined;
    held = undefined;
    if (done !== undefined) {
      runner.transport.send(jobCompleted(done, { kind: 'succeeded' }));
      while ((await readRun()).jobs.find((job) => job.name === done.job.name)?.status !== 'succeeded')
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    clock.advance(10_000);
    runner.transport.send(logLine(poison, 'poison'));
  };
  runner.transport.onMessage((message) => {
    // The run was given up: the leases its driver granted are over.
    if (message.type === 'cancel') {
      if (held?.jobId === message.jobId) held = undefined;
      if (poisonHeld?.jobId === message.jobId) poisonHeld = undefined;
    }
    if (message.type !== 'lease') return;
    if (message.job.key === 'poison') {
      poisonLeases.push(message);
      poisonHeld = message;
    } else held = message;
    void play();
  });
  for (let tries = 0; tries < 1_500; tries++) {
    const run = await readRun();
    if (run.status !== 'running' && run.status !== 'queued') {
      // A few more sweeps: nothing takes it over again.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { run: await readRun(), poisonLeases: poisonLeases.length, notices, runId };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} never ended; poison was leased ${poisonLeases.length} times`);
}

const reason = (times: number) =>
  `the run was taken over ${times} times in a row after a failed store write made its server give it up, without a job finishing; giving up`;

for (const store of poisonedStores) {
  describe.skipIf(store.skip !== undefined)(`${store.name}: a run whose store write fails for good`, () => {
    it('is taken over and continued three times, then ends failed with why, and is not taken over again', async () => {
      const { run, poisonLeases, notices, runId } = await poisonedRun(store, 0);
      expect(run.status).toBe('failed');
      expect(run.jobs.map(({ name, status, reason: why }) => [name, status, why])).toEqual([
        ['poison', 'failed', reason(4)],
      ]);
      // Its first driver, then the three takeovers that continued it.
      expect(poisonLeases).toBe(4);
      // Each give-up after the failed write says why, then the cap's end of the run.
      const gaveUp = new RegExp(
        `^stopped driving run ${runId}: a store write failed \\(.*poison.*\\); a server takes it over once its heartbeat is stale$`,
      );
      // Each of the three takeovers that continued it, logged after the give-up before it.
      const continued = expect.stringMatching(tookOver(runId));
      expect(notices).toEqual([
        ...[1, 2, 3].flatMap(() => [expect.stringMatching(gaveUp), continued]),
        expect.stringMatching(gaveUp),
        `failed run ${runId}: ${reason(4)}`,
      ]);
    }, 40_000);

    it('counts only takeovers in a row without a job finishing between them (maxTakeovers 1)', async () => {
      const { run, poisonLeases } = await poisonedRun(store, 2, 1);
      expect(run.status).toBe('failed');
      expect(run.jobs.map(({ name, status, reason: why }) => [name, status, why])).toEqual([
        ['poison', 'failed', reason(2)],
        ['step1', 'succeeded', undefined],
        ['step2', 'succeeded', undefined],
      ]);
      // The first driver and the first takeover each finished a step; the second takeover, counted 1
      // as step2 had finished since the first, is the one continued; the third ends the run.
      expect(poisonLeases).toBe(3);
    }, 40_000);
  });
}
