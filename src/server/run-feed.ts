import { randomBytes } from 'node:crypto';
import { asRunId, type JobId, runIdOfJob } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { RunEvent } from '../engine/events.js';
import type { LogStore } from '../store/logs.js';
import type { RunStore } from '../store/runs.js';
import { isFinished, jobCompletedOf, runCompletedOf, runStartedOf } from './stored-run-events.js';
import { followStoredRun } from './stored-run-follower.js';

/** Receives a run's events in order; `end` comes once, after run.completed or when the feed closes. */
export interface RunSubscriber {
  /** `id`: the event's SSE id, which a client that reconnects sends back as Last-Event-ID. */
  event(event: RunEvent, id?: string): void;
  /** The subscription continues right after the event the client named (nothing is sent again). */
  resumed?(): void;
  /** Before `end`, when the run is handed to the replica `to` (abandon): it goes on there. */
  moved?(to: string): void;
  end(): void;
}

interface ActiveFeed {
  /** Names this feed in event ids: ids of another feed (another replica's, an earlier one) do not resume it. */
  readonly id: string;
  readonly events: RunEvent[];
  readonly subscribers: Set<RunSubscriber>;
}

export interface RunFeedOptions {
  /** How often a run followed from the store is read again (stored-run-follower.ts). */
  readonly pollMs: number;
  readonly logError: (error: unknown) => void;
}

/**
 * The events of the runs this process drives from their start (submitted or re-run here), kept in
 * memory from run.started to run.completed so a subscriber that arrives late gets the whole run
 * replayed, then the live events; one that comes back with the id of the last event it got
 * (Last-Event-ID) continues right after it. A run this process took over from a replica that stopped
 * (`continuing`) has no feed: its events here would begin midway, without the jobs and lines before.
 * Such a run, an unfinished run this process does not drive (another replica's), and one whose client
 * comes back with an id of another feed are followed from the store (from its start; the client skips
 * what it has seen), and a finished run is replayed from the store the same way, then the stream
 * ends. Memory: every event of every active run, log lines included, until the run completes.
 */
export class RunFeed {
  private readonly active = new Map<string, ActiveFeed>();
  /** The runs `continuing` named, until they complete or are abandoned: their events are not kept. */
  private readonly continued = new Set<string>();
  private readonly followers = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly stores: { readonly runs: RunStore; readonly logs: LogStore },
    private readonly options: RunFeedOptions,
  ) {}

  /** The control plane's listener. */
  readonly publish = (event: RunEvent): void => {
    const runId = runIdOf(event);
    if (runId === undefined) return;
    if (this.continued.has(runId)) {
      if (event.type === 'run.completed') this.continued.delete(runId);
      return;
    }
    let feed = this.active.get(runId);
    if (feed === undefined) {
      // A run held at its concurrency group's door is told of before it starts.
      if (event.type !== 'run.started' && event.type !== 'concurrency') return;
      feed = { id: randomBytes(6).toString('hex'), events: [], subscribers: new Set() };
      this.active.set(runId, feed);
    }
    const index = feed.events.length;
    feed.events.push(event);
    // The id is made only for subscribers: most runs have none while their events come (4 a job).
    if (feed.subscribers.size > 0) {
      const id = `${feed.id}.${index}`;
      for (const subscriber of feed.subscribers) subscriber.event(event, id);
    }
    if (event.type === 'run.completed') {
      this.active.delete(runId);
      for (const subscriber of feed.subscribers) subscriber.end();
    }
  };

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
      for (const [index, event] of live.events.entries())
        if (index >= from) subscriber.event(event, `${live.id}.${index}`);
      live.subscribers.add(subscriber);
      return () => live.subscribers.delete(subscriber);
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

  /** Follows the run from the store, numbering its events so that a client sends an id back. */
  private followStored(runId: string, subscriber: RunSubscriber, jobId?: JobId): () => void {
    let count = 0;
    const stop = followStoredRun(
      this.stores,
      asRunId(runId),
      {
        event: (event) => subscriber.event(event, `stored.${count++}`),
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
    this.active.delete(runId);
    for (const subscriber of feed.subscribers) {
      if (movedTo !== undefined) subscriber.moved?.(movedTo);
      subscriber.end();
    }
  }

  /** Ends every subscription (shutdown); later subscribers get the stored summary. */
  close(): void {
    this.closed = true;
    for (const stop of [...this.followers]) stop();
    for (const feed of this.active.values()) {
      for (const subscriber of feed.subscribers) subscriber.end();
      feed.subscribers.clear();
    }
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

/** Where a subscriber coming back with `lastEventId` continues in `feed`; undefined: not from this feed. */
function resumePoint(feed: ActiveFeed, lastEventId: string | undefined): number | undefined {
  if (lastEventId === undefined) return 0;
  const dot = lastEventId.lastIndexOf('.');
  if (dot < 0 || lastEventId.slice(0, dot) !== feed.id) return undefined;
  const index = Number(lastEventId.slice(dot + 1));
  return Number.isSafeInteger(index) && index >= 0 && index < feed.events.length ? index + 1 : undefined;
}

/** Job ids are `<runId>.<ordinal>` (core/ids.ts); concurrency events name their run when it exists. */
function runIdOf(event: RunEvent): string | undefined {
  if (event.type === 'run.started' || event.type === 'run.completed') return event.runId;
  if (event.type === 'concurrency') return event.runId;
  return runIdOfJob(event.jobId);
}
