import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { fleetsInOwnWorkspaces, type RestartableFleet, until, untilRunEnds } from './fleet-processes.js';

/**
 * A runner is told to stop (SIGTERM) while its server is down and it holds the completion of a job that
 * ended during the outage. It used to leave after five seconds without handing it over, and the job ran
 * again once its lease expired on the restarted server. It now says it waits, waits for as long as the
 * server is away, hands the completion over, and stops: the step ran once, the run succeeded.
 */
const fleets = fleetsInOwnWorkspaces('vkt-e2e-stop-outage-admin-0123456789');
// Long enough that the runner's wait (a lease TTL and 5 s) outlasts the outage and a slow restart.
const leaseTtlMs = 15_000;

interface RunView {
  status: string;
  jobs: { id: string; status: string; attempt: number }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server (leases of `ttlMs`) on a port of its own, and a runner of label `held` connected to it. */
function fleet(ttlMs: number) {
  return fleets.startRestartable(['--lease-ttl', `${ttlMs}ms`], ['--labels', 'held']);
}

/** A run of one quick job on the runner, until it succeeded. */
async function runQuickJob(api: RestartableFleet['api']): Promise<void> {
  const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
    workflow: 'name: quick\njobs:\n  a: { runs-on: held, steps: [{ run: echo quick }] }\n',
  });
  await until('the run to succeed', async () =>
    (await api<{ run: RunView }>('GET', `/api/v1/runs/${run.id}`)).run.status === 'succeeded'
      ? true
      : undefined,
  );
}

describe('a runner stopped while its server is down', () => {
  it('waits to hand over the completion it holds, then stops: the job is not run again', async () => {
    const { ws, first, runner, api, restart } = await fleet(leaseTtlMs);
    const marker = join(ws.dir, 'ran');
    const gate = join(ws.dir, 'gate');
    const finished = join(ws.dir, 'finished');
    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
      workflow: `name: held
jobs:
  deploy:
    runs-on: held
    steps:
      - run: |
          echo ran >> ${marker}
          while [ ! -f ${gate} ]; do sleep 0.05; done
          echo done > ${finished}
`,
    });
    const runPath = `/api/v1/runs/${run.id}`;
    await until('the job to start', async () =>
      (await api<{ run: RunView }>('GET', runPath)).run.jobs[0]?.status === 'running' ? true : undefined,
    );
    first.child.kill('SIGKILL');
    await first.done;

    writeFileSync(gate, '');
    await until('the step to end', async () => (existsSync(finished) ? true : undefined));
    runner.child.kill('SIGTERM');
    await until('the runner to say it waits', async () =>
      runner.stdout().includes('to take the results of 1 finished job it may not have received')
        ? true
        : undefined,
    );
    // Longer than the deregistration's own wait for an answer (5 s): no server is up to give one.
    await sleep(6_000);
    expect(runner.child.exitCode, runner.stdout() + runner.stderr()).toBeNull();

    const second = await restart();
    const stopped = await runner.done;
    const said = `${runner.stdout()}\n${runner.stderr()}\n${second.stderr()}`;
    expect(stopped.code, said).toBe(0);
    expect(runner.stderr(), said).not.toContain('did not confirm');
    const ended = await untilRunEnds<RunView>(api, runPath);
    expect(ended, said).toMatchObject({ status: 'succeeded', jobs: [{ status: 'succeeded', attempt: 1 }] });
    expect(readFileSync(marker, 'utf8'), said).toBe('ran\n');
  });

  // A server and its runner stopped together (a machine shutting down) after the runner's job ended:
  // the server said it stored the job's end (completions.stored), so the runner holds nothing for it
  // and stops without waiting a lease TTL for a server that is not coming back.
  it('stopped together with its server after its job ended: holds nothing, and stops without waiting a TTL', async () => {
    const { first, runner, api } = await fleet(leaseTtlMs);
    await runQuickJob(api);
    const startedAt = Date.now();
    first.child.kill('SIGTERM');
    runner.child.kill('SIGTERM');
    const stopped = await orAfter(runner.done, leaseTtlMs, undefined);
    const said = runner.stdout() + runner.stderr();
    expect(stopped?.code, said).toBe(0);
    // At most the deregistration's own wait for an answer (5 s), with time to spare on a loaded machine.
    expect(Date.now() - startedAt, said).toBeLessThan(leaseTtlMs);
    expect(said).not.toContain('may not have received');
    expect(said).not.toContain('stopped without handing');
    // Answered, or told the server is going away: not left waiting for an answer that never came.
    expect(said).not.toContain('did not confirm the deregistration');
  });

  // The server stopped first (a machine shutting down): it told the runner it is going away, so the
  // runner, stopped next and holding nothing, does not wait for its deregistration to be answered.
  it('stopped after its server went away, holding nothing: stops without waiting for an answer', async () => {
    const { first, runner, api } = await fleet(leaseTtlMs);
    await runQuickJob(api);
    first.child.kill('SIGTERM');
    await until('the runner to lose its server', async () =>
      (runner.stdout() + runner.stderr()).includes('VK_SHUTTING_DOWN') ? true : undefined,
    );
    runner.child.kill('SIGTERM');
    const stopped = await orAfter(runner.done, leaseTtlMs, undefined);
    const said = runner.stdout() + runner.stderr();
    expect(stopped?.code, said).toBe(0);
    expect(said).toContain('is shutting down; it will list this runner as offline');
    expect(said).not.toContain('did not confirm the deregistration');
  });

  // The session that carries the deregister is lost before the answer (the server stopped, then
  // killed), while the completion of a job that ended moments before is in doubt: that paused the
  // wait for the answer until a session came back. None did, and the runner waited forever, deaf to
  // further signals (seen with a server and runner stopped together).
  it('loses the session that carried its deregister: gives up within a lease TTL and 5 s, saying so', async () => {
    const ttlMs = 3_000;
    const { ws, first, runner, api } = await fleet(ttlMs);
    const gate = join(ws.dir, 'gate');
    const finished = join(ws.dir, 'finished');
    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
      workflow: `name: quick
jobs:
  a:
    runs-on: held
    steps:
      - run: |
          while [ ! -f ${gate} ]; do sleep 0.05; done
          echo done > ${finished}
`,
    });
    await until('the job to start', async () =>
      (await api<{ run: RunView }>('GET', `/api/v1/runs/${run.id}`)).run.jobs[0]?.status === 'running'
        ? true
        : undefined,
    );
    // Stopped, the server answers nothing, and is not heard: the completion of the job that ends now
    // is neither stored nor acknowledged, so it stays in doubt.
    first.child.kill('SIGSTOP');
    writeFileSync(gate, '');
    await until('the step to end', async () => (existsSync(finished) ? true : undefined));
    // The step's process has ended; its job's end goes out to the stopped server in a moment.
    await sleep(500);
    runner.child.kill('SIGTERM');
    await until('the runner to drain', async () =>
      runner.stdout().includes('draining:') ? true : undefined,
    );
    // Within the deregister's 5 s wait for its answer.
    await sleep(1_000);
    first.child.kill('SIGKILL');
    const stopped = await orAfter(runner.done, ttlMs + 5_000 + 10_000, undefined);
    const said = runner.stdout() + runner.stderr();
    expect(stopped?.code, said).toBe(0);
    expect(runner.stdout(), said).toContain('to take the results of 1 finished job it may not have received');
    expect(runner.stderr(), said).toContain('stopped without handing the results of 1 finished job');
  });
});
