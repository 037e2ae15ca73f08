import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { Dispatcher, type DispatcherHandlers } from '../../src/engine/dispatcher.js';
import type { Leg } from '../../src/engine/leg.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import type { Transport } from '../../src/protocol/transport.js';
import { FakeClock } from './fake-clock.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function leg(id: string): Leg {
  return {
    id: asJobId(id),
    key: id,
    name: id,
    matrix: {},
    continueOnError: false,
    runsOn: ['x'],
    attempt: 1,
    priority: 'normal',
    status: 'queued',
  };
}

/** A Dispatcher on a fake clock, offer TTL 1 s, and a runner that records offers and answers on cue. */
async function setUp(runners: number, capacity: number) {
  const clock = new FakeClock();
  const accepted: string[] = [];
  const handlers: DispatcherHandlers = {
    accepted: (_runner, accepted_) => accepted.push(accepted_.id),
    leaseMessage: () => undefined,
    runnerLost: () => undefined,
    runnerAway: () => undefined,
    registered: () => undefined,
    deregistered: () => undefined,
  };
  const dispatcher = new Dispatcher(handlers, { offerTtlMs: 1_000, agingIntervalMs: 60_000, clock });
  const ends: { offers: string[]; end: Transport<RunnerMessage, ControlMessage> }[] = [];
  for (let i = 0; i < runners; i++) {
    const [server, runner] = inProcessPair<ControlMessage, RunnerMessage>();
    dispatcher.connect(server);
    const offers: string[] = [];
    runner.onMessage((message) => {
      if (message.type === 'offer') offers.push(message.jobId);
    });
    runner.send({ type: 'register', version: 1, runner: { name: `r${i}`, labels: ['x'], capacity } });
    ends.push({ offers, end: runner });
  }
  await settle();
  return { clock, dispatcher, accepted, ends };
}

describe('Dispatcher offers', () => {
  it('takes back each unanswered offer at its own TTL, oldest first, and leaves no timer once none is out', async () => {
    const { clock, dispatcher, accepted, ends } = await setUp(2, 2);
    const [first, second] = ends;
    if (!first || !second) throw new Error('no runners');
    const t0 = clock.now();
    dispatcher.enqueue(leg('a'));
    dispatcher.dispatch();
    clock.advance(400);
    dispatcher.enqueue(leg('b'));
    dispatcher.dispatch();
    await settle();
    expect([...first.offers, ...second.offers].sort()).toEqual(['a', 'b']);
    const holderOfA = first.offers.includes('a') ? first : second;
    const holderOfB = first.offers.includes('b') ? first : second;
    const other = holderOfA === first ? second : first;
    // One timer, for the first offer out.
    expect(clock.pending()).toEqual([t0 + 1_000]);

    clock.advance(599);
    await settle();
    expect(other.offers).not.toContain('a');
    clock.advance(1);
    await settle();
    // `a` lapsed at exactly its TTL and went to the other runner; `b` is still out.
    expect(other.offers).toEqual(['a']);
    expect(clock.pending()[0]).toBe(t0 + 1_400);

    // An accept after the lapse is ignored; the answer of the live offer is taken.
    holderOfA.end.send({ type: 'accept', jobId: 'a' });
    holderOfB.end.send({ type: 'accept', jobId: 'b' });
    await settle();
    expect(accepted).toEqual(['b']);
    other.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual(['b', 'a']);
    expect(clock.pending()).toEqual([]);
  });

  it('takes back every offer that lapsed at once, in order, while new offers keep their full TTL', async () => {
    const { clock, dispatcher, ends } = await setUp(1, 3);
    const [runner] = ends;
    if (!runner) throw new Error('no runner');
    const t0 = clock.now();
    for (const id of ['a', 'b', 'c']) dispatcher.enqueue(leg(id));
    dispatcher.dispatch();
    await settle();
    expect(runner.offers).toEqual(['a', 'b', 'c']);
    // The lone runner declined all three by letting them lapse: it is not offered them again until it
    // finishes a job, so nothing is out after the sweep and no timer is left.
    clock.advance(1_000);
    await settle();
    expect(runner.offers).toEqual(['a', 'b', 'c']);
    expect(clock.pending()).toEqual([]);
    dispatcher.enqueue(leg('d'));
    dispatcher.dispatch();
    await settle();
    expect(runner.offers).toEqual(['a', 'b', 'c', 'd']);
    expect(clock.pending()).toEqual([t0 + 2_000]);
  });

  /** Two runners of one slot, and job `a` offered to one of them: `holder`; `other` could take it. */
  async function offerOne() {
    const setup = await setUp(2, 1);
    const [first, second] = setup.ends;
    if (!first || !second) throw new Error('no runners');
    setup.dispatcher.enqueue(leg('a'));
    setup.dispatcher.dispatch();
    await settle();
    const holder = first.offers.includes('a') ? first : second;
    return { ...setup, holder, other: holder === first ? second : first };
  }

  // A process that did not run for a while (SIGSTOP, a paused VM, a long GC) fires its offer timer
  // late, and reads the accept its runner sent meanwhile only in the turn after.
  it('reads an accept that waited while the process did not run before its late timer takes the offer back', async () => {
    const { clock, accepted, holder, other } = await offerOne();
    clock.pause(1_500);
    holder.end.send({ type: 'accept', jobId: 'a' });
    clock.turn();
    await settle();
    clock.turn();
    await settle();
    expect(accepted).toEqual(['a']);
    expect(other.offers).toEqual([]);
    expect(clock.pending()).toEqual([]);
  });

  it('takes back an offer still unanswered in the turn after its late timer, once', async () => {
    const { clock, accepted, other } = await offerOne();
    clock.pause(1_500);
    clock.turn();
    await settle();
    expect(other.offers).toEqual([]);
    // The next turn, late again (a loop that stays slow): the offer lapses now.
    clock.pause(200);
    clock.turn();
    await settle();
    expect(other.offers).toEqual(['a']);
    expect(accepted).toEqual([]);
  });

  it('gives offers one more TTL when their timer fires more than 2 s late, as an accept may take more turns to read', async () => {
    const { clock, dispatcher, accepted, holder, other } = await offerOne();
    dispatcher.enqueue(leg('b'));
    dispatcher.dispatch();
    await settle();
    expect(other.offers).toEqual(['b']);
    clock.pause(3_500);
    const resumed = clock.now();
    clock.turn();
    await settle();
    clock.turn();
    await settle();
    expect(clock.pending()).toEqual([resumed + 1_000]);
    holder.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual(['a']);
    // `b`'s runner did not answer: its offer lapses one TTL after the process ran again.
    clock.advance(999);
    expect(dispatcher.queuedRunsOn('b')).toBeUndefined();
    clock.advance(1);
    expect(dispatcher.queuedRunsOn('b')).toEqual(['x']);
    expect(clock.pending()).toEqual([]);
  });

  /** One runner of one slot (`runner`), and the jobs `ids` queued in this order and dispatched. */
  async function queuedForOneRunner(...ids: string[]) {
    const setup = await setUp(1, 1);
    const [runner] = setup.ends;
    if (!runner) throw new Error('no runner');
    for (const id of ids) setup.dispatcher.enqueue(leg(id));
    setup.dispatcher.dispatch();
    return { ...setup, runner };
  }

  /** queuedForOneRunner, and the offer of the first job left unanswered until it lapsed (its TTL, 1 s). */
  async function lapsedOnOneRunner(...ids: string[]) {
    const setup = await queuedForOneRunner(...ids);
    setup.clock.advance(1_000);
    await settle();
    return setup;
  }

  // A slow link (a long-poll backlog, a runner that did not run for a while) brings the accept after
  // the offer lapsed. Before, it was ignored and the runner was not offered the job again until it
  // finished some other job: with one runner for its labels, the job waited in the queue for good.
  it('takes an accept that comes after its offer lapsed while the job still waits in the queue', async () => {
    const { clock, dispatcher, accepted, runner } = await lapsedOnOneRunner('a');
    expect(dispatcher.queuedRunsOn('a')).toEqual(['x']);
    runner.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual(['a']);
    expect(dispatcher.queuedRunsOn('a')).toBeUndefined();
    // Taken as an accept in time is: once, and no offer is out.
    runner.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual(['a']);
    expect(runner.offers).toEqual(['a']);
    expect(clock.pending()).toEqual([]);
  });

  it('refuses a late accept for a job offered elsewhere, and offers the job to that runner again once it is back', async () => {
    const { clock, accepted, holder, other } = await offerOne();
    clock.advance(1_000);
    await settle();
    expect(other.offers).toEqual(['a']);
    holder.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual([]);
    // The other runner lets it lapse too: the first, which said it wants the job, gets it offered again.
    clock.advance(1_000);
    await settle();
    expect(holder.offers).toEqual(['a', 'a']);
    holder.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual(['a']);
  });

  it('does not take a late accept from a runner whose slots are full now, but offers it the job again once one frees', async () => {
    const { accepted, runner } = await lapsedOnOneRunner('a', 'b');
    // `a` lapsed and its slot went to `b`'s offer.
    expect(runner.offers).toEqual(['a', 'b']);
    runner.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual([]);
    runner.end.send({ type: 'decline', jobId: 'b', reason: 'test' });
    await settle();
    expect(runner.offers).toEqual(['a', 'b', 'a']);
  });

  it('keeps a late decline: the runner is not offered the job again until it finishes some job', async () => {
    const { clock, dispatcher, accepted, runner } = await lapsedOnOneRunner('a');
    runner.end.send({ type: 'decline', jobId: 'a', reason: 'test' });
    await settle();
    clock.advance(5_000);
    await settle();
    expect(runner.offers).toEqual(['a']);
    // The decline stands: an accept after it is not taken either.
    runner.end.send({ type: 'accept', jobId: 'a' });
    await settle();
    expect(accepted).toEqual([]);
    expect(dispatcher.queuedRunsOn('a')).toEqual(['x']);
  });

  it('ignores an accept for a queued job that was never offered to that runner', async () => {
    const { dispatcher, accepted, runner } = await queuedForOneRunner('a', 'b');
    await settle();
    expect(runner.offers).toEqual(['a']);
    runner.end.send({ type: 'accept', jobId: 'b' });
    await settle();
    expect(accepted).toEqual([]);
    expect(dispatcher.queuedRunsOn('b')).toEqual(['x']);
  });
});
