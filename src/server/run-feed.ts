import { randomBytes } from 'node:crypto';
import { asRunId, type JobId, lastDotOf, runIdOfJob } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import { type RunEvent, unstoredLine } from '../engine/events.js';
import type { LogStore } from '../store/logs.js';
import type { RunStore } from '../store/runs.js';
import { FeedLines } from './feed-lines.js';
import { isFinished, jobCompletedOf, logEventOf, runCompletedOf, runStartedOf } from './stored-run-events.js';
import { followStoredRun } from './stored-run-follower.js';

/** Receives a run's events in order; `end` comes once, after run.completed or when the feed closes. */
export interface RunSubscriber {
  /** `id`: the event's SSE id, which a client that reconnects sends back as Last-Event-ID. */
  event(event: RunEvent, id?: string): void;
  /** The subscription continues right after the event the client named (nothing is sent again). */
  resumed?(): void;
  /**
   * Resolves once the events given so far have left for the client (at once unless it is behind):
   * a replay of a long log waits for it between pages instead of buffering the log. False: the
   * client is gone, and the replay stops.
   */
  drained?(): Promise<boolean>;
  /**
   * Whether the client has fallen behind the live events, so that what is sent to it piles up in
   * memory: such a subscriber is told no more of them as they come, but catches up from the store
   * (as a late one does, waiting for it to take each page), then joins them again. Absent: never.
   */
  behind?(): boolean;
  /** Before `end`, when the run is handed to the replica `to` (abandon): it goes on there. */
  moved?(to: string): void;
  end(): void;
}

/**
 * A stretch of stored log lines told one after another, as the feed's line number of its first
 * (FeedLines): its events are those up to the next entry's start (or to the feed's end). The lines
 * themselves are read back from the store. A number, not an object: the feed keeps one for the run's
 * life for about every job (a job's first line follows other events), and a number costs the
 * garbage collector nothing.
 */
type Stretch = number;

/**
 * A subscriber, being replayed the feed so far or told the live events: it is replayed again from
 * where it is when it falls behind (RunSubscriber.behind), and `stopped` stops it wherever it is.
 */
interface Replay {
  readonly subscriber: RunSubscriber;
  /** Unsubscribed, or ended by abandon or close: the replay tells nothing more. */
  stopped: boolean;
}

interface ActiveFeed {
  readonly runId: string;
  /** Names this feed in event ids: ids of another feed (another replica's, an earlier one) do not resume it. */
  readonly id: string;
  /**
   * The events in order, as kept events and stretches of lines, covering indexes 0 to `length`; the
   * index of each one's first event is in `starts`, beside it. (Not in an object around each event:
   * the feed keeps three events a job for the run's life, and each object more it keeps is copied by
   * the young-generation GC, then promoted.)
   */
  readonly entries: (RunEvent | Stretch)[];
  readonly starts: number[];
  /** How many events the feed told: the next one's index. */
  length: number;
  /** How many of them were stored lines: the next one's line number. */
  lines: number;
  readonly stored: FeedLines;
  /** Job names by job id, for the lines read back (a job's name does not change within a run attempt). */
  readonly names: Map<string, string>;
  /** The subscribers told the live events. */
  readonly subscribers: Map<RunSubscriber, Replay>;
  /** The subscribers catching up: told the feed from the store and `entries`, not yet the live events. */
  readonly replays: Set<Replay>;
  /** run.completed was told: a replay that reaches the end ends its subscriber. */
  completed: boolean;
}

export interface RunFeedOptions {
  /** How often a run followed from the store is read again (stored-run-follower.ts). */
  readonly pollMs: number;
  readonly logError: (error: unknown) => void;
}

/**
 * The events of the runs this process drives from their start (submitted or re-run here), kept from
 * run.started to run.completed so a subscriber that arrives late gets the whole run replayed, then
 * the live events; one that comes back with the id of the last event it got (Last-Event-ID)
 * continues right after it. A run this process took over from a replica that stopped
 * (`continuing`) has no feed: its events here would begin midway, without the jobs and lines before.
 * Such a run, an unfinished run this process does not drive (another replica's), and one whose client
 * comes back with an id of another feed are followed from the store (from its start; the client skips
 * what it has seen), and a finished run is replayed from the store the same way, then the stream
 * ends.
 *
 * Memory: every event of every active run but its log lines, which are only counted (how many told
 * one after another between two other events) and read back from the LogStore for a replay, a page
 * at a time (FeedLines), waiting for the client to take each page (RunSubscriber.drained). The
 * control plane appends each line before it tells it (a line it does not store is marked
 * `unstoredLine`, and kept). A replay reads the store, so events told meanwhile wait in the feed
 * itself: the replay goes on through them, and the subscriber joins the live ones once it has caught
 * up, in the same turn as its last replayed event, so none is told twice or lost. A replayed line is
 * the event the live one was (engine/job-reports.ts tells a line as the store reads it back).
 */
export class RunFeed {
  private readonly active = new Map<string, ActiveFeed>();
  /** The runs `continuing` named, until they complete or are abandoned: their events are not kept. */
  private readonly continued = new Set<string>();
  private readonly followers = new Set<() => void>();
  /**
   * The feed of the last job event told, while it is in `active`: a run's events come mostly one after
   * another, and a job id found to be of this run needs no run id cut from it, hashed and looked up
   * (twice, with `continued`) for each of its ~4 events a job.
   */
  private last: ActiveFeed | undefined;
  private closed = false;

  constructor(
    private readonly stores: { readonly runs: RunStore; readonly logs: LogStore },
    private readonly options: RunFeedOptions,
  ) {}

  /** The control plane's listener. */
  readonly publish = (event: RunEvent): void => {
    const last = this.last;
    const jobId = jobIdOf(event);
    const feed =
      last !== undefined && jobId !== undefined && isJobOf(jobId, last.runId) ? last : this.feedOf(event);
    if (feed === undefined) return;
    const index = feed.length++;
    if (event.type === 'log' && event[unstoredLine] !== true) keepLine(feed, event, index);
    else {
      feed.entries.push(event);
      feed.starts.push(index);
    }
    // The id is made only for subscribers: most runs have none while their events come (4 a job).
    if (feed.subscribers.size > 0) {
      const id = `${feed.id}.${index}`;
      for (const [subscriber, replay] of feed.subscribers) {
        subscriber.event(event, id);
        if (event.type !== 'run.completed' && subscriber.behind?.() === true) {
          feed.subscribers.delete(subscriber);
          this.catchUp(feed, replay, index + 1, { drainFirst: true });
        }
      }
    }
    if (event.type === 'run.completed') {
      feed.completed = true;
      this.forget(feed.runId);
      for (const subscriber of feed.subscribers.keys()) subscriber.end();
    }
  };

  /** The feed that keeps `event`, made on the run's first event, or undefined: the event is not kept. */
  private feedOf(event: RunEvent): ActiveFeed | undefined {
    const runId = runIdOf(event);
    if (runId === undefined) return undefined;
    if (this.continued.has(runId)) {
      if (event.type === 'run.completed') this.continued.delete(runId);
      return undefined;
    }
    let feed = this.active.get(runId);
    if (feed === undefined) {
      // A run held at its concurrency group's door is told of before it starts.
      if (event.type !== 'run.started' && event.type !== 'concurrency') return undefined;
      feed = newFeed(this.stores.logs, runId);
      this.active.set(runId, feed);
    }
    if (event.type !== 'run.completed') this.last = feed;
    return feed;
  }

  /** The run's feed leaves `active`. */
  private forget(runId: string): void {
    this.active.delete(runId);
    if (this.last?.runId === runId) this.last = undefined;
  }

  /** Whether this process holds the run's events from its start (live ones among them). */
  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  /**
   * This process is about to continue `runId`, begun by another process (a takeover): its subscribers
   * follow it from the store from now until it completes, as on another replica, for the events the
   * control plane tells of it here begin midway. Call before the control plane continues the run (its
   * run.started may come at once). A feed of the run still here ends first, as on `abandon`.
   */
  continuing(runId: string): void {
    this.abandon(runId);
    this.continued.add(runId);
  }

  /**
   * Replays the run so far (or continues after `lastEventId`), then streams it live; the returned
   * function unsubscribes.
   */
  async subscribe(runId: string, subscriber: RunSubscriber, lastEventId?: string): Promise<() => void> {
    const live = this.active.get(runId);
    const from = live === undefined ? undefined : resumePoint(live, lastEventId);
    if (live !== undefined && from !== undefined && !this.closed) {
      if (from > 0) subscriber.resumed?.();
      return this.replay(live, subscriber, from);
    }
    // A finished run is replayed whole from the store as well, not summarised: this process answers a
    // request after its own writes made before it, a run's end among them, so a client that came while
    // the run was live here often finds it completed and gone from `active` (another replica, whose
    // reads do not wait for those writes, would still follow it from the store).
    const run = this.closed ? undefined : await this.stores.runs.getRun(asRunId(runId));
    if (run !== undefined) return this.followStored(runId, subscriber);
    for (const event of await this.summary(runId)) subscriber.event(event);
    subscriber.end();
    return () => {};
  }

  /** Replays the feed from event `from` (in the background), then streams it live. */
  private replay(feed: ActiveFeed, subscriber: RunSubscriber, from: number): () => void {
    const replay: Replay = { subscriber, stopped: false };
    this.catchUp(feed, replay, from, { drainFirst: false });
    return () => {
      replay.stopped = true;
      feed.replays.delete(replay);
      feed.subscribers.delete(subscriber);
    };
  }

  /** Tells `replay` the feed from `from` in the background (catchUp); a failure ends its subscriber. */
  private catchUp(feed: ActiveFeed, replay: Replay, from: number, options: { drainFirst: boolean }): void {
    feed.replays.add(replay);
    catchUp(feed, replay, from, options.drainFirst).catch((error: unknown) => {
      if (replay.stopped) return;
      replay.stopped = true;
      feed.replays.delete(replay);
      this.options.logError(error);
      replay.subscriber.end();
    });
  }

  /** Follows the run from the store, numbering its events so that a client sends an id back. */
  private followStored(runId: string, subscriber: RunSubscriber, jobId?: JobId): () => void {
    let count = 0;
    const stop = followStoredRun(
      this.stores,
      asRunId(runId),
      {
        event: (event) => subscriber.event(event, `stored.${count++}`),
        drained: () => subscriber.drained?.() ?? Promise.resolve(true),
        end: () => {
          this.followers.delete(stop);
          subscriber.end();
        },
      },
      { ...this.options, ...(jobId === undefined ? {} : { jobId }) },
    );
    this.followers.add(stop);
    return stop;
  }

  /** A job's log lines from the store until the job finishes, for a run this process does not drive. */
  followJobLog(runId: string, jobId: JobId, subscriber: RunSubscriber): () => void {
    if (this.closed) {
      subscriber.end();
      return () => {};
    }
    return this.followStored(runId, subscriber, jobId);
  }

  /**
   * Ends the subscriptions of the run's feed without run.completed (another process drives it now);
   * `movedTo`: this one handed it to that replica (run-handoff.ts), which each subscriber is told first.
   */
  abandon(runId: string, movedTo?: string): void {
    this.continued.delete(runId);
    const feed = this.active.get(runId);
    if (feed === undefined) return;
    this.forget(runId);
    for (const subscriber of endAll(feed)) {
      if (movedTo !== undefined) subscriber.moved?.(movedTo);
      subscriber.end();
    }
  }

  /** Ends every subscription (shutdown); later subscribers get the stored summary. */
  close(): void {
    this.closed = true;
    for (const stop of [...this.followers]) stop();
    for (const feed of this.active.values()) for (const subscriber of endAll(feed)) subscriber.end();
  }

  /** run.started, each finished job's job.completed, and run.completed if the run has finished. */
  private async summary(runId: string): Promise<RunEvent[]> {
    const id = asRunId(runId);
    const run = await this.stores.runs.getRun(id);
    if (run === undefined) return [];
    const jobs = await this.stores.runs.listJobs(id);
    const events = [runStartedOf(run)];
    for (const job of jobs) if (isTerminal(job.status)) events.push(jobCompletedOf(job, job.status, run));
    if (isFinished(run)) events.push(runCompletedOf(run, jobs));
    return events;
  }
}

function newFeed(logs: LogStore, runId: string): ActiveFeed {
  return {
    runId,
    id: randomBytes(6).toString('hex'),
    entries: [],
    starts: [],
    length: 0,
    lines: 0,
    stored: new FeedLines(logs, asRunId(runId)),
    names: new Map(),
    subscribers: new Map(),
    replays: new Set(),
    completed: false,
  };
}

/** Counts a stored line told as event `index`: in the stretch the last event began, else in a new one. */
function keepLine(feed: ActiveFeed, event: Extract<RunEvent, { type: 'log' }>, index: number): void {
  // The last entry a stretch: this line is its next event (a stretch's events end where the next entry starts).
  if (typeof feed.entries[feed.entries.length - 1] !== 'number') {
    feed.entries.push(feed.lines);
    feed.starts.push(index);
  }
  feed.lines++;
  if (!feed.names.has(event.jobId)) feed.names.set(event.jobId, event.job);
}

/**
 * Tells the subscriber the feed's events from `from` on, reading each stretch's lines from the store a
 * page at a time, through the events told meanwhile, until it has caught up: then, in the same turn,
 * it joins the live subscribers (or ends, after run.completed). `drainFirst`: it fell behind, and is
 * told nothing more before its client has taken what it was sent.
 */
async function catchUp(feed: ActiveFeed, replay: Replay, from: number, drainFirst: boolean): Promise<void> {
  const { subscriber } = replay;
  // Read after each wait: unsubscribe, abandon or close may stop the replay meanwhile.
  const stopped = () => replay.stopped;
  if (drainFirst && subscriber.drained !== undefined && !(await subscriber.drained())) return;
  let index = from;
  let at = entryAt(feed.starts, from);
  while (!stopped()) {
    if (index >= feed.length) {
      feed.replays.delete(replay);
      if (feed.completed) subscriber.end();
      else feed.subscribers.set(subscriber, replay);
      return;
    }
    while (at + 1 < feed.entries.length && index >= (feed.starts[at + 1] ?? 0)) at++;
    const entry = feed.entries[at];
    if (entry === undefined) throw new Error(`run feed ${feed.id} has no event ${index}`);
    if (typeof entry !== 'number') {
      subscriber.event(entry, `${feed.id}.${index++}`);
      continue;
    }
    const offset = index - (feed.starts[at] ?? 0);
    const count = (feed.starts[at + 1] ?? feed.length) - (feed.starts[at] ?? 0);
    const lines = await feed.stored.read(entry + offset, count - offset);
    if (stopped()) return;
    for (const line of lines)
      subscriber.event(logEventOf(line, feed.names.get(line.jobId) ?? line.jobId), `${feed.id}.${index++}`);
    if (subscriber.drained !== undefined && !(await subscriber.drained())) return;
  }
}

/**
 * The place in `entries` of the one that holds event `index` (the last one for the index after them),
 * by their `starts`.
 */
function entryAt(starts: readonly number[], index: number): number {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((starts[middle] ?? 0) <= index) low = middle + 1;
    else high = middle;
  }
  return Math.max(0, low - 1);
}

/** The feed's subscribers, live and being replayed, each removed (and its replay stopped). */
function endAll(feed: ActiveFeed): RunSubscriber[] {
  const all = [...feed.subscribers.keys()];
  for (const replay of feed.replays) {
    replay.stopped = true;
    all.push(replay.subscriber);
  }
  feed.subscribers.clear();
  feed.replays.clear();
  return all;
}

/** Where a subscriber coming back with `lastEventId` continues in `feed`; undefined: not from this feed. */
function resumePoint(feed: ActiveFeed, lastEventId: string | undefined): number | undefined {
  if (lastEventId === undefined) return 0;
  const dot = lastEventId.lastIndexOf('.');
  if (dot < 0 || lastEventId.slice(0, dot) !== feed.id) return undefined;
  const index = Number(lastEventId.slice(dot + 1));
  return Number.isSafeInteger(index) && index >= 0 && index < feed.length ? index + 1 : undefined;
}

/** Whether `jobId` is a job id of run `runId` (as runIdOfJob would find, without cutting the run id out). */
function isJobOf(jobId: string, runId: string): boolean {
  const dot = lastDotOf(jobId);
  return dot > 0 && dot === runId.length && jobId.startsWith(runId);
}

function jobIdOf(event: RunEvent): string | undefined {
  return event.type === 'run.started' || event.type === 'run.completed' || event.type === 'concurrency'
    ? undefined
    : event.jobId;
}

/** Job ids are `<runId>.<ordinal>` (core/ids.ts); concurrency events name their run when it exists. */
function runIdOf(event: RunEvent): string | undefined {
  if (event.type === 'run.started' || event.type === 'run.completed') return event.runId;
  if (event.type === 'concurrency') return event.runId;
  return runIdOfJob(event.jobId);
}
