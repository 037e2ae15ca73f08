import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { ClaimRequest, Lease, QueueJobId } from '../../src/store/queue.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  readsDuring,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

type Stores = Awaited<ReturnType<typeof openPostgresStores>>;

describeOnPostgres('Postgres queue hand-off to waiting workers', () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  const open = () => openPostgresStores(postgresUrl, { schema });
  const request = (extra: Partial<ClaimRequest> = {}): ClaimRequest => ({
    worker: 'waiter',
    limit: 10,
    ttlMs: 60_000,
    ...extra,
  });

  const raw = <R>(sql: string, values: unknown[] = []) =>
    withRawClient(async (client) => (await client.query(sql, values)).rows as R[]);
  const waiters = async () =>
    (await raw<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".queue_waiters`))[0]?.n;
  const leaseOf = async (id: QueueJobId) =>
    (
      await raw<{ state: string; lease_worker: string | null }>(
        `SELECT state, lease_worker FROM "${schema}".queue_jobs WHERE seq = $1`,
        [id],
      )
    )[0];

  /** claimOrWait on `stores`, given once its waiter is registered (or it has returned). */
  async function waiting(
    stores: Stores,
    extra: Partial<ClaimRequest> = {},
    signal = AbortSignal.timeout(10_000),
  ) {
    const before = (await waiters()) ?? 0;
    let settled = false;
    const leases = stores.queue.claimOrWait(request(extra), signal).finally(() => {
      settled = true;
    });
    while (!settled && (await waiters()) === before) await new Promise((resolve) => setTimeout(resolve, 5));
    // Wrapped: an async function returning a promise would wait for it.
    return { leases };
  }

  it('leases a job enqueued elsewhere to the waiting worker in the enqueue’s own commit', async () => {
    await using producer = await open();
    await using worker = await open();
    const { leases: handed } = await waiting(worker);
    const [created] = await producer.queue.enqueue([{ task: 't', payload: { n: 1 } }]);
    if (created?.kind !== 'created') throw new Error('not created');
    // Leased once the enqueue has answered, before the worker has done anything.
    expect(await leaseOf(created.job.id)).toEqual({ state: 'leased', lease_worker: 'waiter' });
    expect(await waiters()).toBe(0);
    const leases = await handed;
    expect(leases).toMatchObject([
      { jobId: created.job.id, task: 't', payload: { n: 1 }, attempt: 1, worker: 'waiter' },
    ]);
    await expect(
      worker.queue.complete(leases.map((lease) => ({ lease, outcome: { kind: 'succeeded' } }))),
    ).resolves.toEqual([{ kind: 'completed', jobId: created.job.id }]);
  });

  // A rolling upgrade: a process of the version before migration 30 still runs on the migrated
  // database, and its claimOrWait reads queue_claim_or_wait's leases as one tuple per job.
  it('keeps queue_claim_or_wait answering leases as tuples for processes of the previous version', async () => {
    await using stores = await open();
    const [created] = await stores.queue.enqueue([{ task: 't', payload: { n: 1 } }]);
    if (created?.kind !== 'created') throw new Error('not created');
    const [row] = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      const claim = 'SELECT leases FROM queue_claim_or_wait($1, 10, $3, $2, NULL, 0, 60000, false)';
      return (await client.query(claim, [Date.now(), Date.now() + 60_000, 'old-worker'])).rows;
    });
    expect(row?.leases).toEqual([[created.job.id, 't', { n: 1 }, 1, expect.any(Number), 'old-worker']]);
  });

  // Migration 42: the plan kept from a nearly empty table read every job ever kept on each hand-off.
  it('claims for a waiter by the jobs’ addresses, without reading the whole queue table', async () => {
    await using worker = await open();
    const { leases: handed } = await waiting(worker);
    const { seqScans } = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      return readsDuring(client, schema, 'queue_jobs', () =>
        client.query(
          `SELECT * FROM queue_enqueue_rows(1, '[{"n": 1}]', '{t}', '{normal}', '{1}', '{NULL}', '{3}',
             '{requeue}', '{NULL}', $1, 100)`,
          [Date.now()],
        ),
      );
    });
    expect((await handed).map((lease) => lease.payload)).toEqual([{ n: 1 }]);
    expect(seqScans).toBe(0);
  });

  it('sends leases too large for a notification by id, and the worker reads them', async () => {
    await using producer = await open();
    await using worker = await open();
    const { leases: handed } = await waiting(worker);
    const big = 'x'.repeat(3000);
    const created = await producer.queue.enqueue([1, 2, 3].map((n) => ({ task: 't', payload: { n, big } })));
    const leases = await handed;
    expect(leases.map((lease) => lease.payload)).toEqual([1, 2, 3].map((n) => ({ n, big })));
    expect(leases.map((lease) => lease.jobId)).toEqual(created.map((result) => result.job.id));
  });

  it('hands at most 64 jobs, and tells other claimers of the rest', async () => {
    await using producer = await open();
    await using worker = await open();
    await using other = await open();
    const { leases: handed } = await waiting(worker, { limit: 500 });
    const woken = other.queue.waitForWork(AbortSignal.timeout(10_000));
    await producer.queue.enqueue(Array.from({ length: 100 }, (_, n) => ({ task: 't', payload: { n } })));
    expect((await handed).length).toBe(64);
    await woken;
    expect(await other.queue.claim(request({ worker: 'other', limit: 100 }))).toHaveLength(36);
  });

  it('hands what is ready, and tells claimers of a job that waits for a later time', async () => {
    await using producer = await open();
    await using worker = await open();
    await using other = await open();
    const { leases: handed } = await waiting(worker);
    // Listening already: a wait that only began to listen could miss the notification.
    await other.queue.waitForWork(AbortSignal.timeout(50));
    const deadline = AbortSignal.timeout(10_000);
    const woken = other.queue.waitForWork(deadline);
    await producer.queue.enqueue([
      { task: 'now', payload: null },
      { task: 'later', payload: null, notBefore: Date.now() + 3_600_000 },
    ]);
    expect((await handed).map((lease) => lease.task)).toEqual(['now']);
    await woken;
    expect(deadline.aborted).toBe(false);
  });

  it('hands a waiter only the tasks it claims', async () => {
    await using producer = await open();
    await using worker = await open();
    const { leases: handed } = await waiting(worker, { tasks: ['x'] });
    const [other] = await producer.queue.enqueue([{ task: 'y', payload: null }]);
    if (other === undefined) throw new Error('not created');
    expect(await leaseOf(other.job.id)).toEqual({ state: 'queued', lease_worker: null });
    // Told that jobs were left for claimers, the waiter looks again and finds none of its tasks.
    expect(await handed).toEqual([]);
    const { leases: again } = await waiting(worker, { tasks: ['x'] });
    expect(await waiters()).toBe(1);
    await producer.queue.enqueue([{ task: 'x', payload: null }]);
    expect((await again).map((lease) => lease.task)).toEqual(['x']);
    expect(await leaseOf(other.job.id)).toEqual({ state: 'queued', lease_worker: null });
  });

  it('skips and removes a waiter whose listening session has ended', async () => {
    await using producer = await open();
    await using worker = await open();
    const { leases: handed } = await waiting(worker);
    // The worker's listening connection dies (its session's advisory lock goes with it).
    await raw(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
       WHERE locktype = 'advisory' AND classid = hashtext($1)::oid AND pid <> pg_backend_pid()`,
      [schema],
    );
    expect(await handed).toEqual([]);
    const [created] = await producer.queue.enqueue([{ task: 't', payload: null }]);
    if (created === undefined) throw new Error('not created');
    expect(await leaseOf(created.job.id)).toEqual({ state: 'queued', lease_worker: null });
    expect(await waiters()).toBe(0);
  });

  it('gives back what was handed to a waiter that never asked for it', async () => {
    await using producer = await open();
    await using worker = await open();
    await worker.queue.waitForWork(AbortSignal.timeout(50));
    const locks = `FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND classid = hashtext($1)::oid`;
    const [own] = await raw<{ session: number }>(`SELECT objid::int AS session ${locks}`, [schema]);
    // A waiter of the worker's session whose registration's answer never reached it.
    await raw(
      `INSERT INTO "${schema}".queue_waiters (session_id, worker, claim_limit, ttl_ms) VALUES ($1, 'lost', 10, 600000)`,
      [own?.session],
    );
    const [created] = await producer.queue.enqueue([{ task: 't', payload: null }]);
    if (created === undefined) throw new Error('not created');
    expect(await leaseOf(created.job.id)).toEqual({ state: 'leased', lease_worker: 'lost' });
    // Its notification reaches the session; then the session ends, and nobody will ask for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await raw(`SELECT pg_terminate_backend(pid) ${locks}`, [schema]);
    for (let wait = 0; (await leaseOf(created.job.id))?.state !== 'queued'; wait++) {
      if (wait > 100) throw new Error('the handed lease was not given back within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('stops waiting when aborted, leaving no waiter behind', async () => {
    await using worker = await open();
    const abort = new AbortController();
    const { leases: handed } = await waiting(worker, {}, abort.signal);
    abort.abort();
    expect(await handed).toEqual([]);
    expect(await waiters()).toBe(0);
  });

  it('never gives a job a lease token it had before, even when a lease was lost with a server crash', async () => {
    await using stores = await open();
    const [created] = await stores.queue.enqueue([{ task: 't', payload: null }]);
    if (created === undefined) throw new Error('not created');
    const [lost] = await stores.queue.claim(request());
    if (lost === undefined) throw new Error('not claimed');
    // What a crash before the WAL flush of the lease's commit leaves: the job queued, as before it.
    await raw(
      `UPDATE "${schema}".queue_jobs SET state = 'queued', attempts = 0, lease_token = lease_token - 1,
         lease_worker = NULL, lease_expires_at = NULL WHERE seq = $1`,
      [created.job.id],
    );
    await raw(`UPDATE "${schema}".queue_counts SET queued = queued + 1 WHERE slot = 0`);
    // A server's restart takes longer than a millisecond: the next lease comes at a later one.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [again] = await stores.queue.claim(request({ worker: 'next' }));
    expect(again?.token).not.toBe(lost.token);
    const outcome = { kind: 'succeeded' } as const;
    expect(await stores.queue.complete([{ lease: lost, outcome }])).toMatchObject([{ kind: 'stale' }]);
    const leases: Lease[] = again === undefined ? [] : [again];
    expect(await stores.queue.complete(leases.map((lease) => ({ lease, outcome })))).toMatchObject([
      { kind: 'completed' },
    ]);
  });
});
