import { afterAll, describe, expect, it } from 'vitest';
import { readEvents } from '../server/helpers.js';
import { Workspace } from './cli.js';
import {
  killAll,
  type StartedProcess,
  startProcess,
  startRestartableFleet,
  until,
  untilFirstJobRuns,
  untilRunEnds,
} from './fleet-processes.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * A server stores a runner's step reports and lines, then is SIGKILLed before any of its replies
 * reach the runner (a proxy holds them), right after it stored the start of the job's last step: the
 * runner kept all its reports (report-journal.ts), and the last step prints and ends while no server
 * is up. Once a new server on the same store took the run over and the runner resumed its lease there,
 * it sends them all again. Each step must keep one record, started when it started, with its end;
 * each line must be stored once; and a follower — `logs --follow` across the restart, the new server's
 * event stream, `logs` and `show` after — must see each step once.
 */
const admin = 'vkt-e2e-resent-steps-admin-0123456789';
const ws = new Workspace();
const processes: StartedProcess[] = [];
const proxies: TcpProxy[] = [];

afterAll(async () => {
  await killAll(processes);
  for (const proxy of proxies) await proxy.close();
  ws.dispose();
});

interface StepView {
  readonly name: string;
  readonly conclusion?: string;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}
interface RunView {
  readonly status: string;
  readonly jobs: { readonly id: string; readonly attempt: number; readonly steps?: StepView[] }[];
}

const workflow = `name: resent
jobs:
  build:
    runs-on: resent
    steps:
      - name: zero
        run: echo zero-a; sleep 1
      - name: one
        run: echo one-a; echo one-b
      - name: two
        run: sleep 0.5; echo two-a; echo two-b
`;
const printed = ['zero-a', 'one-a', 'one-b', 'two-a', 'two-b'];

/** The lines of `text` that are the job's output, in order. */
const outputOf = (text: string) =>
  text
    .split('\n')
    .map((line) => line.replace(/^\[build\] /, ''))
    .filter((line) => printed.includes(line));
/** The step headings `logs` prints (`▶ name`), in order. */
const headingsOf = (text: string) => text.split('\n').filter((line) => /(^|\] )▶ /.test(line));

describe('step reports a runner sends again to a server that took its run over', () => {
  it('keeps each step once, where it was, with each line once, for followers and after', async () => {
    const { first, runner, api, restart } = await startRestartableFleet(
      ws,
      processes,
      admin,
      [],
      ['--labels', 'resent'],
      async (port) => {
        const proxy = await TcpProxy.start({ host: '127.0.0.1', port });
        proxies.push(proxy);
        return `http://127.0.0.1:${proxy.port}`;
      },
    );
    const [proxy] = proxies;
    if (proxy === undefined) throw new Error('no proxy');
    const env = { VALKYRIE_SERVER: first.url, VALKYRIE_TOKEN: admin };
    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', { workflow });
    const runPath = `/api/v1/runs/${run.id}`;
    const follower = startProcess(ws, ['logs', run.id, '--follow'], env);
    processes.push(follower);
    const logPath = `${runPath}/logs?job=${await untilFirstJobRuns(api, runPath)}`;
    // The runner runs the job (its first line is stored): from now on it hears nothing from the server.
    await until('the first line', async () =>
      (await api<string>('GET', logPath)).includes('zero-a') ? true : undefined,
    );
    proxy.holdReplies();
    await until('the first server stored the third step started', async () => {
      const steps = (await api<{ run: RunView }>('GET', runPath)).run.jobs[0]?.steps ?? [];
      return steps[2]?.startedAt !== undefined ? true : undefined;
    });
    const before = (await api<{ run: RunView }>('GET', runPath)).run.jobs[0]?.steps ?? [];
    first.child.kill('SIGKILL');
    await first.done;

    const second = await restart();
    const stream = readEvents(`${second.url}/api/v1/runs/${run.id}/events`, admin);
    const ended = await untilRunEnds<RunView>(api, runPath);
    const why = `${runner.stderr()}\n${second.stderr()}`;
    expect(ended, why).toMatchObject({ status: 'succeeded', jobs: [{ attempt: 1 }] });
    const steps = ended.jobs[0]?.steps ?? [];
    expect(steps.map((step) => [step.name, step.conclusion])).toEqual([
      ['zero', 'success'],
      ['one', 'success'],
      ['two', 'success'],
    ]);
    // Where the first server stored them: started (and the first two ended) when the runner said.
    expect(steps.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(steps[2]?.startedAt).toBe(before[2]?.startedAt);
    expect(outputOf(await api<string>('GET', logPath))).toEqual(printed);

    const events = (await stream).map(([, data]) => data as { type: string; step?: string });
    const started = events.filter((event) => event.type === 'step.started').map((event) => event.step);
    expect(started).toEqual(['zero', 'one', 'two']);

    const followed = await follower.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(headingsOf(followed.stdout)).toEqual(['[build] ▶ zero', '[build] ▶ one', '[build] ▶ two']);
    expect(outputOf(followed.stdout)).toEqual(printed);
    const logs = await ws.run(['logs', run.id], env);
    expect(logs.code, logs.stderr).toBe(0);
    expect(headingsOf(logs.stdout)).toEqual(['▶ zero', '▶ one', '▶ two']);
    expect(outputOf(logs.stdout)).toEqual(printed);
    const show = await ws.run(['show', run.id], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout.match(/\b(zero|one|two)\b/g)).toEqual(['zero', 'one', 'two']);
  }, 60_000);
});
