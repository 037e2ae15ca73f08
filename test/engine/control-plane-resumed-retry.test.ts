import { describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { ManualClock } from '../core/manual-clock.js';
import { eventually, oneJobWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

/** `type#attempt` of each job event, in order. */
const jobEvents = (events: readonly RunEvent[]): string[] =>
  events.flatMap((event) =>
    event.type.startsWith('job.') ? [`${event.type}#${'attempt' in event ? event.attempt : 1}`] : [],
  );

describe('ControlPlane: a job resumed from a dead process is announced queued once per attempt', () => {
  const open = planesOnSqlite('resumed-retry');

  /**
   * Job `a` runs under a first control plane, whose process then dies (its clock never moves again,
   * so its group member stays, unbeaten); a second one resumes the run and records its events. The
   * job, running in the dead process, gets its next attempt: requeued, or retried by its policy.
   */
  async function resumedEvents(extra: string): Promise<string[]> {
    const workflow = oneJobWorkflow(extra);
    const { plane: dead, stores } = open({ clock: new ManualClock() });
    const first = new ScriptedRunner(dead, accepting);
    const abandoned = await dead.startRun(workflow, runRequest);
    abandoned.done.catch(() => undefined);
    await eventually('job a leased', () => first.of('lease').length === 1);
    await eventually('job a stored running', async () => {
      const [job] = await stores.runs.listJobs(abandoned.id);
      return job?.status === 'running';
    });

    const clock = new ManualClock(Date.now() + 1_000);
    const plane = new ControlPlane(stores, { clock });
    const events: RunEvent[] = [];
    plane.onEvent((event) => events.push(event));
    const runner = new ScriptedRunner(plane, accepting);
    const record = await stores.runs.getRun(abandoned.id);
    if (record === undefined) throw new Error('no run');
    const jobs = await stores.runs.listJobs(abandoned.id);
    const resumed = plane.continueRun('resume', workflow, runRequest, record, jobs);
    await eventually('job a leased again', async () => {
      await clock.advance(200);
      return runner.of('lease').length === 1;
    });
    runner.complete(runner.of('lease')[0] as Lease);
    expect(await resumed.done).toBe('succeeded');
    return jobEvents(events);
  }

  const once = ['job.retrying#2', 'job.queued#2', 'job.started#2', 'job.completed#2'];

  it('requeued (on-runner-lost: requeue), in a job-level concurrency group it adopts', async () => {
    expect(await resumedEvents('    concurrency: solo\n')).toEqual(once);
  });

  it('retried by retry.when: [runner-lost] (on-runner-lost: fail), in a job-level concurrency group', async () => {
    const policy = '    on-runner-lost: fail\n    retry: { max-attempts: 2, when: [runner-lost] }\n';
    expect(await resumedEvents(`${policy}    concurrency: solo\n`)).toEqual(once);
  });

  it('requeued, with no group', async () => {
    expect(await resumedEvents('')).toEqual(once);
  });
});
