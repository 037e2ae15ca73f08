import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { followRunEvents, type ReconnectPolicy } from '../../src/cli/run-event-follower.js';
import { ServerClient } from '../../src/cli/server-client.js';
import { reportServerFailure } from '../../src/cli/server-failure.js';
import { StreamEndedError } from '../../src/cli/stream-end.js';
import type { RunEvent } from '../../src/engine/events.js';

/**
 * A real HTTP server whose event stream is scripted per connection, as a load balancer in front of
 * replicas would give: each request is handed to the next script in order.
 */
type Script = (request: IncomingMessage, response: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function scriptedServer(
  scripts: Script[],
): Promise<{ url: string; lastEventIds: (string | undefined)[] }> {
  const lastEventIds: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    const header = request.headers['last-event-id'];
    lastEventIds.push(typeof header === 'string' ? header : undefined);
    const script = scripts.shift();
    if (script === undefined) {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end('{"code":"VK_SHUTTING_DOWN","message":"gone"}');
      return;
    }
    script(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lastEventIds };
}

const started: RunEvent = { type: 'run.started', runId: '7', runNumber: 1, workflow: 'ci', at: 1 };
const jobStarted: RunEvent = { type: 'job.started', jobId: '7.0', name: 'build', at: 2 };
const log = (text: string): RunEvent => ({
  type: 'log',
  jobId: '7.0',
  job: 'build',
  stepIndex: 0,
  stream: 'stdout',
  text,
  at: 3,
});
const jobDone: RunEvent = {
  type: 'job.completed',
  jobId: '7.0',
  name: 'build',
  status: 'succeeded',
  durationMs: 1,
  at: 4,
};
const runDone: RunEvent = {
  type: 'run.completed',
  runId: '7',
  status: 'succeeded',
  durationMs: 3,
  jobs: [{ name: 'build', status: 'succeeded', durationMs: 1 }],
};

/** Writes the events (with ids `prefix.N` from `from`) and then cuts the connection, or ends it. */
function stream(
  events: RunEvent[],
  options: { prefix: string; from?: number; resumed?: string; cut?: boolean; movedTo?: string },
) {
  return (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (options.resumed !== undefined)
      response.write(`event: resumed\ndata: ${JSON.stringify({ after: options.resumed })}\n\n`);
    events.forEach((event, index) => {
      response.write(
        `id: ${options.prefix}.${(options.from ?? 0) + index}\nevent: run\ndata: ${JSON.stringify(event)}\n\n`,
      );
    });
    if (options.movedTo !== undefined)
      response.write(`event: moved\ndata: ${JSON.stringify({ to: options.movedTo })}\n\n`);
    if (options.cut) setTimeout(() => response.socket?.destroy(), 20);
    else response.end();
  };
}

const fastPolicy = (reports: string[], giveUpAfterMs = 5_000): ReconnectPolicy => ({
  giveUpAfterMs,
  backoff: { baseMs: 10, capMs: 40 },
  report: (message: string) => reports.push(message),
  sameServer: ' --server http://ci.example:7070',
});

async function collect(client: ServerClient, policy: ReconnectPolicy): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const event of followRunEvents(client, '7', new AbortController().signal, policy))
    events.push(event);
  return events;
}

const clientOf = (url: string) => new ServerClient(new ApiClient(url, 'token'));

describe('following a run across dropped event streams', () => {
  it('continues after the last event when the server resumes, sending its id back', async () => {
    const { url, lastEventIds } = await scriptedServer([
      stream([started, jobStarted, log('one')], { prefix: 'feed', cut: true }),
      stream([log('two'), jobDone, runDone], { prefix: 'feed', from: 3, resumed: 'feed.2' }),
    ]);
    const reports: string[] = [];
    const events = await collect(clientOf(url), fastPolicy(reports));
    expect(events).toEqual([started, jobStarted, log('one'), log('two'), jobDone, runDone]);
    expect(lastEventIds).toEqual([undefined, 'feed.2']);
    // In words, not undici's bare "terminated".
    expect(reports).toEqual([
      'lost the event stream of run 7 (the connection was cut: other side closed); reconnecting',
      'following run 7 again',
    ]);
  });

  it('says a run handed to another replica is moving there, not that the stream was lost, and follows it on', async () => {
    const { url } = await scriptedServer([
      stream([started, jobStarted], { prefix: 'a', movedTo: 'host-b/42' }),
      stream([started, jobStarted, log('one'), jobDone, runDone], { prefix: 'stored' }),
    ]);
    const reports: string[] = [];
    const events = await collect(clientOf(url), fastPolicy(reports));
    expect(events).toEqual([started, jobStarted, log('one'), jobDone, runDone]);
    expect(reports).toEqual([
      'run 7 is moving to another server (replica host-b/42), whose runners take its waiting jobs; following it there',
    ]);
  });

  it('still tells a lost connection after a move', async () => {
    const { url } = await scriptedServer([
      stream([started], { prefix: 'a', movedTo: 'host-b/42' }),
      (_request, response) => {
        response.writeHead(502);
        response.end('bad gateway');
      },
      stream([started, jobStarted, jobDone, runDone], { prefix: 'stored' }),
    ]);
    const reports: string[] = [];
    await collect(clientOf(url), fastPolicy(reports));
    expect(reports).toEqual([
      expect.stringMatching(/^run 7 is moving to another server \(replica host-b\/42\)/),
      'lost the event stream of run 7 (Bad Gateway: bad gateway); reconnecting',
      'following run 7 again',
    ]);
  });

  it('skips what it has seen when another replica replays the run from its start, through a 503 in between', async () => {
    const { url, lastEventIds } = await scriptedServer([
      stream([started, jobStarted, log('one'), log('two')], { prefix: 'a', cut: true }),
      (_request, response) => {
        response.writeHead(502);
        response.end('bad gateway');
      },
      // The new replica's replay: the same job's lines in the same order, then what is new.
      stream([started, jobStarted, log('one'), log('two'), log('three'), jobDone, runDone], {
        prefix: 'stored',
      }),
    ]);
    const events = await collect(clientOf(url), fastPolicy([]));
    expect(events).toEqual([started, jobStarted, log('one'), log('two'), log('three'), jobDone, runDone]);
    expect(lastEventIds).toEqual([undefined, 'a.3', 'a.3']);
  });

  it("shows a new attempt's job and step events after a takeover, though the replay has fewer of the earlier attempt's", async () => {
    const second = { attempt: 2 };
    const stepStarted = (jobAttempt?: number): RunEvent => ({
      type: 'step.started',
      jobId: '7.0',
      job: 'build',
      index: 0,
      step: 'make',
      at: 2,
      ...(jobAttempt === undefined ? {} : { jobAttempt }),
    });
    const lineTwo: RunEvent = {
      type: 'log',
      jobId: '7.0',
      job: 'build',
      stepIndex: 0,
      stream: 'stdout',
      text: 'two',
      at: 3,
      jobAttempt: 2,
    };
    const stepDone: RunEvent = {
      type: 'step.completed',
      jobId: '7.0',
      job: 'build',
      step: { index: 0, name: 'make', outcome: 'success', conclusion: 'success', finishedAt: 3 },
      jobAttempt: 2,
    };
    const { url } = await scriptedServer([
      stream([started, jobStarted, stepStarted(), log('one')], { prefix: 'a', cut: true }),
      // The new driver ran the job again as attempt 2; the store holds that attempt's job and steps.
      stream(
        [
          started,
          { ...jobStarted, ...second },
          stepStarted(2),
          log('one'),
          lineTwo,
          stepDone,
          { ...jobDone, ...second },
          runDone,
        ],
        { prefix: 'stored' },
      ),
    ]);
    const events = await collect(clientOf(url), fastPolicy([]));
    expect(events).toEqual([
      started,
      jobStarted,
      stepStarted(),
      log('one'),
      { ...jobStarted, ...second },
      stepStarted(2),
      lineTwo,
      stepDone,
      { ...jobDone, ...second },
      runDone,
    ]);
  });

  it("does not count the control plane's own lines, which the store does not keep, against the job's", async () => {
    const requeued: RunEvent = {
      type: 'log',
      jobId: '7.0',
      job: 'build',
      stepIndex: -1,
      stream: 'system',
      text: 'runner lost; requeued',
      at: 3,
    };
    const { url } = await scriptedServer([
      stream([started, jobStarted, requeued], { prefix: 'a', cut: true }),
      stream([started, jobStarted, log('one'), jobDone, runDone], { prefix: 'stored' }),
    ]);
    const events = await collect(clientOf(url), fastPolicy([]));
    expect(events).toEqual([started, jobStarted, requeued, log('one'), jobDone, runDone]);
  });

  it('gives up with a clear error once the server has stayed away for the time allowed', async () => {
    const { url } = await scriptedServer([stream([started], { prefix: 'a', cut: true })]);
    const reports: string[] = [];
    const failure = collect(clientOf(url), fastPolicy(reports, 300));
    await expect(failure).rejects.toMatchObject({
      code: 'VK_SERVER_UNREACHABLE',
      message: expect.stringMatching(
        /lost the event stream of run 7 and could not get it back within 300ms .*\(valkyrie show 7 --server http:\/\/ci\.example:7070\)$/,
      ),
    });
  });

  it('stops at once on a refusal: a 404 is not retried', async () => {
    const { url, lastEventIds } = await scriptedServer([
      (_request, response) => {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end('{"code":"VK_RUN_NOT_FOUND","message":"no run with id \\"7\\""}');
      },
    ]);
    await expect(collect(clientOf(url), fastPolicy([]))).rejects.toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
    expect(lastEventIds).toHaveLength(1);
  });

  it.each([
    [
      '{"code":"VK_SHUTTING_DOWN","message":"the server is going away"}',
      'the server is going away (VK_SHUTTING_DOWN)',
    ],
    ['not json', 'an error it did not describe ("not json")'],
  ])(
    'stops at once on an event: error the server ends the stream with (%s), exiting 69',
    async (data, reason) => {
      const { url, lastEventIds } = await scriptedServer([
        (_request, response) => {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.end(
            `id: a.0\nevent: run\ndata: ${JSON.stringify(started)}\n\nevent: error\ndata: ${data}\n\n`,
          );
        },
      ]);
      const reports: string[] = [];
      const error: unknown = await collect(clientOf(url), fastPolicy(reports)).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StreamEndedError);
      expect((error as Error).message).toBe(`the server ended the event stream of run 7: ${reason}`);
      expect(reports).toEqual([]);
      expect(lastEventIds).toHaveLength(1);
      const stderr = vi.spyOn(process.stderr, 'write').mockReturnValue(true);
      try {
        expect(reportServerFailure(error)).toBe(ExitCode.unavailable);
        expect(stderr.mock.calls).toEqual([
          [`valkyrie: the server ended the event stream of run 7: ${reason}\n`],
        ]);
      } finally {
        stderr.mockRestore();
      }
    },
  );
});

describe('following a run whose event stream goes silent (a frozen server)', () => {
  /** Sends `started`, then the keep-alive comment `count` times every `everyMs`, then the run's end. */
  const keptAlive =
    (count: number, everyMs: number): Script =>
    (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`id: k.0\nevent: run\ndata: ${JSON.stringify(started)}\n\n`);
      let sent = 0;
      const timer = setInterval(() => {
        if (sent++ < count) {
          response.write(': keep-alive\n\n');
          return;
        }
        clearInterval(timer);
        response.end(`id: k.1\nevent: run\ndata: ${JSON.stringify(runDone)}\n\n`);
      }, everyMs);
    };
  /** Takes the request and never answers it: a SIGSTOPped server's kernel still accepts connections. */
  const hung: Script = () => {};

  it('keeps a stream whose keep-alives come within the limit, though no event comes for longer', async () => {
    // 20 keep-alives 100 ms apart: 2 s without an event, against a silence limit of 1 s.
    const { url, lastEventIds } = await scriptedServer([keptAlive(20, 100)]);
    const reports: string[] = [];
    const events = await collect(clientOf(url), { ...fastPolicy(reports), silenceLimitMs: 1_000 });
    expect(events).toEqual([started, runDone]);
    expect(reports).toEqual([]);
    expect(lastEventIds).toHaveLength(1);
  });

  it('takes a silence limit past what a timer holds (VALKYRIE_EVENT_STREAM_SILENCE=1000h) as no limit', async () => {
    // setTimeout fires at once for more than 2^31-1 ms: each stream was lost as it opened, and the
    // follower gave up at once, the outage counted from 1000h before.
    const { url, lastEventIds } = await scriptedServer([keptAlive(2, 100)]);
    const reports: string[] = [];
    const events = await collect(clientOf(url), { ...fastPolicy(reports), silenceLimitMs: 3_600_000_000 });
    expect(events).toEqual([started, runDone]);
    expect(reports).toEqual([]);
    expect(lastEventIds).toHaveLength(1);
  });

  it('takes a silent stream for lost, and gives up on a server that stays silent within the time allowed', async () => {
    // Each silent connection lasts the silence limit (1.1 s), longer than one that counts as serving
    // (1 s): counted from when they were noticed, the outage would begin anew with each, for ever.
    const { url, lastEventIds } = await scriptedServer([
      (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`id: s.0\nevent: run\ndata: ${JSON.stringify(started)}\n\n`);
      },
      hung,
      hung,
      hung,
    ]);
    const reports: string[] = [];
    const failure = collect(clientOf(url), { ...fastPolicy(reports, 1_500), silenceLimitMs: 1_100 });
    await expect(failure).rejects.toMatchObject({
      code: 'VK_SERVER_UNREACHABLE',
      message: expect.stringMatching(
        /could not get it back within 1\.5s \(the server sent nothing for 1\.1s, not even its keep-alive\)/,
      ),
    });
    expect(reports).toContain(
      'lost the event stream of run 7 (the server sent nothing for 1.1s, not even its keep-alive); reconnecting',
    );
    // The first connection, then one that never answered: 2.2 s after the server went quiet, past 1.5 s.
    expect(lastEventIds).toEqual([undefined, 's.0']);
  });

  it('tries a stream lost to silence again once, though the silence alone outlasted the time allowed', async () => {
    const { url, lastEventIds } = await scriptedServer([
      (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`id: s.0\nevent: run\ndata: ${JSON.stringify(started)}\n\n`);
      },
      stream([runDone], { prefix: 's', from: 1 }),
    ]);
    const reports: string[] = [];
    // 1.1 s of silence against 1 s allowed: a connection that served, lost, is still tried again.
    const events = await collect(clientOf(url), { ...fastPolicy(reports, 1_000), silenceLimitMs: 1_100 });
    expect(events).toEqual([started, runDone]);
    expect(lastEventIds).toEqual([undefined, 's.0']);
  });
});
