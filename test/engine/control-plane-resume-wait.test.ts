import { describe, expect, it } from 'vitest';
import { settle } from '../core/manual-clock.js';
import { planesOnSqlite } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const resume = [{ jobId: 'run_gone.1', fencingToken: 7 }];

/** A `resumeWait` the test settles by hand, recording what it was asked. */
function handWait() {
  const asked: [string, readonly string[]][] = [];
  let release: () => void = () => {};
  const waited = new Promise<void>((resolve) => {
    release = resolve;
  });
  const resumeWait = (runnerId: string, jobIds: readonly string[]) => {
    asked.push([runnerId, jobIds]);
    return waited;
  };
  return { asked, release: () => release(), resumeWait };
}

describe('ControlPlane: a register that waits for resumeWait', () => {
  const openPlane = planesOnSqlite('resume-wait');

  it('answers a resume of jobs with no lease here only once resumeWait settles, then applies what came meanwhile', async () => {
    const wait = handWait();
    const { plane } = openPlane({ resumeWait: wait.resumeWait });
    const runner = new ScriptedRunner(plane, accepting, { identity, resume });
    runner.send({ type: 'drain', reason: 'stopping' });
    await settle();
    expect(wait.asked).toEqual([['rnr_1', ['run_gone.1']]]);
    expect(runner.received).toEqual([]);
    expect(plane.runners()).toEqual([]);
    wait.release();
    await settle();
    expect(runner.received.map((message) => message.type)).toEqual(['registered', 'error']);
    expect(runner.of('error')[0]).toMatchObject({ jobId: 'run_gone.1', refused: 'register' });
    // The drain it sent while it waited was applied after its register.
    expect(plane.runners().find((view) => view.id === 'rnr_1')).toMatchObject({ mode: 'draining' });
  });

  it('does not wait for a runner that resumes nothing, nor for one without an identity', async () => {
    const wait = handWait();
    const { plane } = openPlane({ resumeWait: wait.resumeWait });
    const plain = new ScriptedRunner(plane, accepting, { identity });
    const local = new ScriptedRunner(plane, accepting, { resume });
    await settle();
    expect(wait.asked).toEqual([]);
    expect(plain.of('registered')).toHaveLength(1);
    expect(local.of('registered')).toHaveLength(1);
  });

  it('never registers a session that closed while it waited', async () => {
    const wait = handWait();
    const { plane } = openPlane({ resumeWait: wait.resumeWait });
    const runner = new ScriptedRunner(plane, accepting, { identity, resume });
    await settle();
    runner.end.close('gone');
    wait.release();
    await settle();
    expect(runner.received).toEqual([]);
    expect(plane.runners().filter((view) => view.connected)).toEqual([]);
  });
});
