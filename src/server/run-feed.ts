import { asRunId } from '../core/ids.js';
import { isTerminal } from '../core/outcome.js';
import type { RunEvent } from '../engine/events.js';
import type { RunStore } from '../store/runs.js';

/** Receives a run's events in order; `end` comes once, after run.completed or when the feed closes. */
export interface RunSubscriber {
  event(event: RunEvent): void;
  end(): void;
}

interface ActiveFeed {
  readonly events: RunEvent[];
  readonly subscribers: Set<RunSubscriber>;
}

/**
 * The events of the runs this process drives, kept in memory from run.started to run.completed so a
 * subscriber that arrives late gets the whole run replayed, then the live events. A run this process
 * does not drive (finished, or another replica's) is summarised from the store instead. Memory: every
 * event of every active run, log lines included, until the run completes.
 */
export class RunFeed {
  private readonly active = new Map<string, ActiveFeed>();
  private closed = false;

  constructor(private readonly runs: RunStore) {}

  /** The control plane's listener. */
  readonly publish = (event: RunEvent): void => {
    const runId = runIdOf(event);
    if (runId === undefined) return;
    let feed = this.active.get(runId);
    if (feed === undefined) {
      if (event.type !== 'run.started') return;
      feed = { events: [], subscribers: new Set() };
      this.active.set(runId, feed);
    }
    feed.events.push(event);
    for (const subscriber of feed.subscribers) subscriber.event(event);
    if (event.type === 'run.completed') {
      this.active.delete(runId);
      for (const subscriber of feed.subscribers) subscriber.end();
    }
  };

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  /** Replays the run so far, then streams it live; the returned function unsubscribes. */
  async subscribe(runId: string, subscriber: RunSubscriber): Promise<() => void> {
    const live = this.active.get(runId);
    if (live !== undefined && !this.closed) {
      for (const event of live.events) subscriber.event(event);
      live.subscribers.add(subscriber);
      return () => live.subscribers.delete(subscriber);
    }
    for (const event of await this.summary(runId)) subscriber.event(event);
    subscriber.end();
    return () => {};
  }

  /** Ends the run's subscriptions without run.completed (another process drives it now). */
  abandon(runId: string): void {
    const feed = this.active.get(runId);
    if (feed === undefined) return;
    this.active.delete(runId);
    for (const subscriber of feed.subscribers) subscriber.end();
  }

  /** Ends every subscription (shutdown); later subscribers get the stored summary. */
  close(): void {
    this.closed = true;
    for (const feed of this.active.values()) {
      for (const subscriber of feed.subscribers) subscriber.end();
      feed.subscribers.clear();
    }
  }

  /** run.started, each finished job's job.completed, and run.completed if the run has finished. */
  private async summary(runId: string): Promise<RunEvent[]> {
    const id = asRunId(runId);
    const run = await this.runs.getRun(id);
    if (run === undefined) return [];
    const jobs = await this.runs.listJobs(id);
    const events: RunEvent[] = [
      {
        type: 'run.started',
        runId,
        runNumber: run.runNumber,
        workflow: run.workflowName,
        at: run.startedAt ?? run.createdAt,
      },
    ];
    const finished = [];
    for (const job of jobs) {
      if (!isTerminal(job.status)) continue;
      const durationMs =
        job.startedAt === undefined || job.finishedAt === undefined ? 0 : job.finishedAt - job.startedAt;
      finished.push({ name: job.name, status: job.status, durationMs });
      events.push({
        type: 'job.completed',
        jobId: job.id,
        name: job.name,
        status: job.status,
        durationMs,
        ...(job.reason === undefined ? {} : { reason: job.reason }),
        at: job.finishedAt ?? run.createdAt,
      });
    }
    if (run.status !== 'queued' && run.status !== 'running') {
      const start = run.startedAt ?? run.createdAt;
      const durationMs = run.finishedAt === undefined ? 0 : run.finishedAt - start;
      events.push({ type: 'run.completed', runId, status: run.status, durationMs, jobs: finished });
    }
    return events;
  }
}

/** Job ids are `<runId>.<ordinal>` (core/ids.ts); concurrency events name their run when it exists. */
function runIdOf(event: RunEvent): string | undefined {
  if (event.type === 'run.started' || event.type === 'run.completed') return event.runId;
  if (event.type === 'concurrency') return event.runId;
  const dot = event.jobId.lastIndexOf('.');
  return dot > 0 ? event.jobId.slice(0, dot) : undefined;
}
