import { afterEach, describe, expect, it, vi } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { type Priority, priorities } from '../../src/core/priority.js';
import { Dispatcher, type RunnerSession } from '../../src/engine/dispatcher.js';
import type { Leg } from '../../src/engine/leg.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import { FreeRunnerIndex } from '../../src/selection/free-runners.js';
import { FakeClock } from './fake-clock.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function leg(id: string, runsOn: readonly string[], priority: Priority = 'normal'): Leg {
  return {
    id: asJobId(id),
    key: id,
    name: id,
    matrix: {},
    continueOnError: false,
    runsOn,
    attempt: 1,
    priority,
    status: 'queued',
  };
}

interface RunnerSpec {
  readonly labels: readonly string[];
  readonly capacity: number;
}

interface RunnerEnd {
  readonly offers: string[];
  readonly end: Transport<RunnerMessage, ControlMessage>;
}

/** A Dispatcher on a fake clock with registered runners that record their offers, in this order. */
async function setUp(specs: readonly RunnerSpec[]) {
  const clock = new FakeClock();
  const sessions = new Map<string, RunnerSession>();
  const dispatcher = new Dispatcher(
    {
      accepted: (runner, accepted) => sessions.set(accepted.id, runner),
      leaseMessage: () => undefined,
      runnerLost: () => undefined,
      runnerAway: () => undefined,
      registered: () => undefined,
      deregistered: () => undefined,
    },
    { offerTtlMs: 1_000, agingIntervalMs: 60_000, clock },
  );
  const runners: RunnerEnd[] = [];
  // Registered one at a time, so the free runners are in this order.
  for (const spec of specs) runners.push(await connectRunner(dispatcher, spec));
  return { clock, dispatcher, runners, sessions };
}

async function connectRunner(dispatcher: Dispatcher, spec: RunnerSpec): Promise<RunnerEnd> {
  const [server, end] = inProcessPair<ControlMessage, RunnerMessage>();
  dispatcher.connect(server);
  const offers: string[] = [];
  end.onMessage((message) => {
    if (message.type === 'offer') offers.push(message.jobId);
  });
  const runner = { name: 'r', labels: [...spec.labels], capacity: spec.capacity };
  end.send({ type: 'register', version: 1, runner });
  await settle();
  return { offers, end };
}

/**
 * What dispatch must offer, written the plain way: every ready job in queue order (priority, then
 * arrival, on a clock that stands still), each to the first runner, in the order they became free,
 * that has all its labels (any case) and a free slot.
 */
function expectedOffers(specs: readonly RunnerSpec[], jobs: readonly Leg[]): string[][] {
  const room = specs.map((spec) => spec.capacity);
  const offers = specs.map((): string[] => []);
  const order = jobs
    .map((job, arrival) => ({ job, arrival }))
    .sort(
      (a, b) =>
        priorities.indexOf(a.job.priority) - priorities.indexOf(b.job.priority) || a.arrival - b.arrival,
    );
  for (const { job } of order) {
    const index = specs.findIndex(
      (spec, i) =>
        (room[i] ?? 0) > 0 &&
        job.runsOn.every((label) => spec.labels.some((has) => has.toLowerCase() === label.toLowerCase())),
    );
    if (index < 0) continue;
    room[index] = (room[index] ?? 0) - 1;
    offers[index]?.push(job.id);
  }
  return offers;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Dispatcher with mixed label sets', () => {
  it('passes over thousands of jobs no free runner has the labels for with one runner check per label set', async () => {
    const { dispatcher, runners } = await setUp([{ labels: ['linux'], capacity: 2 }]);
    for (let i = 0; i < 5_000; i++) dispatcher.enqueue(leg(`gpu-${i}`, ['gpu']));
    dispatcher.enqueue(leg('build', ['linux']));
    const find = vi.spyOn(FreeRunnerIndex.prototype, 'find');

    dispatcher.dispatch();
    await settle();
    expect(runners[0]?.offers).toEqual(['build']);
    // The head of the gpu jobs, then `build`: the other 4,999 gpu jobs are not looked at.
    expect(find).toHaveBeenCalledTimes(2);

    // The runner still has a slot, so every event dispatches again: each costs one look at the gpu
    // jobs, however many there are.
    find.mockClear();
    for (let i = 0; i < 100; i++) dispatcher.dispatch();
    expect(find).toHaveBeenCalledTimes(100);
    dispatcher.enqueue(leg('test', ['LINUX']));
    dispatcher.dispatch();
    await settle();
    expect(runners[0]?.offers).toEqual(['build', 'test']);
  });

  it('offers each job, in queue order, to the first free runner with its labels', async () => {
    const specs: RunnerSpec[] = [
      { labels: ['linux'], capacity: 1 },
      { labels: ['linux', 'gpu'], capacity: 2 },
    ];
    const { dispatcher, runners } = await setUp(specs);
    const jobs = [
      leg('g1', ['gpu'], 'high'),
      leg('l1', ['linux']),
      leg('g2', ['gpu']),
      leg('l2', ['linux'], 'low'),
      leg('lg', ['GPU', 'linux'], 'critical'),
    ];
    for (const job of jobs) dispatcher.enqueue(job);
    dispatcher.dispatch();
    await settle();
    // lg (critical) and g1 (high) fill the gpu runner; l1 goes to the linux one; g2 and l2 wait.
    expect(runners.map((runner) => runner.offers)).toEqual([['l1'], ['lg', 'g1']]);
    expect(expectedOffers(specs, jobs)).toEqual([['l1'], ['lg', 'g1']]);
  });

  it('matches the plain greedy order on random fleets and queues', async () => {
    const labels = ['linux', 'gpu', 'arm', 'big'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <V>(values: readonly V[]): V => {
      const value = values[Math.floor(random() * values.length)];
      if (value === undefined) throw new Error('empty');
      return value;
    };
    const subset = (max: number) => {
      const chosen = new Set<string>();
      const size = Math.floor(random() * (max + 1));
      while (chosen.size < size) chosen.add(pick(labels));
      return [...chosen];
    };
    let offered = 0;
    let waiting = 0;
    for (let trial = 0; trial < 20; trial++) {
      const specs = Array.from({ length: 1 + Math.floor(random() * 5) }, () => ({
        labels: subset(4),
        capacity: 1 + Math.floor(random() * 3),
      }));
      const jobs = Array.from({ length: Math.floor(random() * 40) }, (_, i) =>
        leg(`t${trial}-j${i}`, subset(2), pick(priorities)),
      );
      const { dispatcher, runners } = await setUp(specs);
      for (const job of jobs) dispatcher.enqueue(job);
      dispatcher.dispatch();
      await settle();
      expect(runners.map((runner) => runner.offers)).toEqual(expectedOffers(specs, jobs));
      const count = runners.reduce((sum, runner) => sum + runner.offers.length, 0);
      offered += count;
      waiting += jobs.length - count;
    }
    // Both sides were exercised: jobs placed and jobs left waiting.
    expect(offered).toBeGreaterThan(50);
    expect(waiting).toBeGreaterThan(50);
  });

  it('skips a job the only free runner declined, offers it the jobs behind it, and the job to another runner', async () => {
    const { dispatcher, runners, sessions } = await setUp([{ labels: ['linux'], capacity: 2 }]);
    const [first] = runners;
    if (!first) throw new Error('no runner');
    for (const id of ['a', 'b', 'c', 'd']) dispatcher.enqueue(leg(id, ['linux']));
    dispatcher.enqueue(leg('gpu', ['gpu']));
    dispatcher.dispatch();
    await settle();
    expect(first.offers).toEqual(['a', 'b']);

    first.end.send({ type: 'decline', jobId: 'a', reason: 'busy' });
    await settle();
    // `a` is back at the head, but not for this runner: it gets `c`, and `a` is not offered again.
    expect(first.offers).toEqual(['a', 'b', 'c']);

    const second = await connectRunner(dispatcher, { labels: ['linux'], capacity: 1 });
    expect(second.offers).toEqual(['a']);

    // Once the first runner ends a job, it may take jobs it declined again.
    first.end.send({ type: 'accept', jobId: 'b' });
    await settle();
    const session = sessions.get('b');
    if (!session) throw new Error('b was not accepted');
    dispatcher.release(session, 'b');
    dispatcher.forget('b');
    dispatcher.dispatch();
    await settle();
    expect(first.offers).toEqual(['a', 'b', 'c', 'd']);
  });
});
