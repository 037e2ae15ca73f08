import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { logsCommand } from '../../src/cli/commands/history.js';
import { serverLogsCommand } from '../../src/cli/commands/server-history.js';
import { type LogPage, writeHeadedLog } from '../../src/cli/headed-log.js';
import { ServerClient } from '../../src/cli/server-client.js';
import {
  type AttemptedLine,
  type LoggedJob,
  type LoggedStep,
  logLinesWithHeadings,
} from '../../src/cli/views/log-sections.js';
import { SqliteLogStore } from '../../src/store/sqlite/log-store.js';
import { adminToken, runningJob, startTestServer, waitForRunStatus } from '../server/helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const line = (jobId: string, text: string, jobAttempt = 1, stepIndex = 0, attempt = 1): AttemptedLine => ({
  jobId,
  stepIndex,
  text,
  ...(jobAttempt === 1 ? {} : { jobAttempt }),
  ...(attempt === 1 ? {} : { attempt }),
});

const done = { outcome: 'success', conclusion: 'success' } as const;
const steps: LoggedStep[] = [
  { jobId: 'c', index: 0, name: 'Run ./flaky.sh', ...done },
  { jobId: 'c', index: 0, attempt: 2, name: 'Run ./flaky.sh', ...done },
  { jobId: 'c', jobAttempt: 2, index: 1, name: 'Run ./other.sh', ...done },
  { jobId: 'c', jobAttempt: 2, index: 1, attempt: 2, name: 'Run ./other.sh', ...done },
  { jobId: 'a', index: 0, name: 'A', ...done },
  { jobId: 'b', index: 0, name: 'B', ...done },
  { jobId: 'b', index: 0, attempt: 2, name: 'B', ...done },
];
const shown = (entry: { heading?: string; line?: AttemptedLine; jobId: string }) =>
  `[${entry.jobId}] ${entry.heading ?? entry.line?.text}`;

/** `lines` as pages of `size`, and the `after` of each read. */
function pagesOf(lines: readonly AttemptedLine[], size: number) {
  const reads: (number | undefined)[] = [];
  const read = async (after: number | undefined): Promise<LogPage<AttemptedLine>> => {
    reads.push(after);
    const from = after ?? 0;
    const next = from + size < lines.length ? { next: from + size } : {};
    return { lines: lines.slice(from, from + size), ...next };
  };
  return { read, reads };
}

describe('writeHeadedLog', () => {
  // A step retried across a page boundary, and steps whose outcome comes after a page's last line.
  const cases: [string, AttemptedLine[], LoggedJob[]][] = [
    [
      'a retried step and a retried job',
      [
        line('c', 'try 1 a'),
        line('c', 'try 1 b'),
        line('c', 'try 1 c'),
        line('c', 'try 2', 1, 0, 2),
        line('c', 'setup', 2, -1),
        line('c', 'second', 2, 1),
        line('c', 'second again', 2, 1, 2),
        line('c', 'third', 4),
      ],
      [{ id: 'c', attempts: 5 }],
    ],
    [
      'jobs interleaved, a step retried in one attempt only',
      [line('a', 'a1'), line('b', 'b1'), line('a', 'a2', 2), line('b', 'b2', 1, 0, 2), line('a', 'a3', 2)],
      [
        { id: 'a', attempts: 2 },
        { id: 'b', attempts: 1 },
      ],
    ],
    ['no retries', [line('c', 'one'), line('c', 'two'), line('c', 'three')], [{ id: 'c', attempts: 1 }]],
  ];

  it.each(cases)(
    'writes what logLinesWithHeadings gives, a page at a time, reading each once (%s)',
    async (_, lines, jobs) => {
      const whole = logLinesWithHeadings(lines, steps, jobs).map(shown);
      for (const size of [1, 2, 3, 100]) {
        const written: string[] = [];
        const { read, reads } = pagesOf(lines, size);
        await writeHeadedLog(read, { steps, jobs, write: (e) => written.push(shown(e)) });
        expect(written, `pages of ${size}`).toEqual(whole);
        expect(reads).toHaveLength(Math.ceil(lines.length / size));
      }
    },
  );

  it('writes each page before it reads the next', async () => {
    const lines = [line('c', 'one'), line('c', 'two'), line('c', 'three')];
    const written: string[] = [];
    const { read } = pagesOf(lines, 1);
    const writtenAtRead: number[] = [];
    await writeHeadedLog(
      async (after) => {
        writtenAtRead.push(written.length);
        return read(after);
      },
      { steps: [], jobs: [{ id: 'c', attempts: 1 }], write: (e) => written.push(shown(e)) },
    );
    expect(writtenAtRead).toEqual([0, 1, 2]);
  });
  it("heads a step a later page names (a running job's), and with raw writes only the lines", async () => {
    const log = [line('c', 'one'), line('c', 'two', 1, 1)];
    const later = { jobId: 'c', index: 1, name: 'Run ./later.sh' };
    const read = async (after: number | undefined): Promise<LogPage<AttemptedLine>> =>
      after === undefined ? { lines: log.slice(0, 1), next: 1 } : { lines: log.slice(1), steps: [later] };
    for (const raw of [false, true]) {
      const written: string[] = [];
      await writeHeadedLog(read, {
        steps: steps.slice(0, 1),
        jobs: [{ id: 'c', attempts: 1 }],
        raw,
        write: (e) => written.push(shown(e)),
      });
      expect(written).toEqual(
        raw
          ? ['[c] one', '[c] two']
          : ['[c] ▶ Run ./flaky.sh', '[c] one', '[c] ✓ succeeded', '[c] ▶ Run ./later.sh', '[c] two'],
      );
    }
  });
});

/** More lines than three pages (1000 each), the last one short. */
const texts = Array.from({ length: 3500 }, (_, i) => `line ${i}`);

describe('valkyrie logs of a log longer than a page, --server and local', () => {
  it('prints it whole and in order, each page before the next is read, never reading it whole', async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    job.logAll(texts);
    job.succeed();
    await waitForRunStatus(live.request, job.runId, 'succeeded');
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const read = vi.spyOn(SqliteLogStore.prototype, 'read');
    const linesAtRead: number[] = [];
    const atRead = () => linesAtRead.push(printed.join('').split('\n').length - 1);
    const readPage = ServerClient.prototype.jobLogLinePage;
    vi.spyOn(ServerClient.prototype, 'jobLogLinePage').mockImplementation(function (
      this: ServerClient,
      ...args
    ) {
      atRead();
      return readPage.apply(this, args);
    });

    const options = { server: live.server.url, token: adminToken };
    expect(await serverLogsCommand(job.runId, undefined, options)).toBe(0);
    const remote = printed.splice(0).join('');
    // The first page (1000 lines) was printed when the second was asked for, and so on.
    expect(linesAtRead).toEqual([1000, 2000, 3000]);

    linesAtRead.length = 0;
    const readAfter = SqliteLogStore.prototype.readAfter;
    vi.spyOn(SqliteLogStore.prototype, 'readAfter').mockImplementation(function (
      this: SqliteLogStore,
      ...args
    ) {
      atRead();
      return readAfter.apply(this, args);
    });
    expect(await logsCommand(job.runId, undefined, { db: join(live.dir, 'valkyrie.db') })).toBe(0);
    const local = printed.splice(0).join('');
    vi.mocked(process.stdout.write).mockRestore();
    expect(linesAtRead).toEqual([0, 1000, 2000, 3000]);

    expect(remote).toMatch(/^running on runner /);
    expect(remote.split('\n').slice(1)).toEqual([...texts, '']);
    expect(local).toBe(remote);
    expect(read).not.toHaveBeenCalled();
  });
});

describe('ServerClient.jobLogTextLines (a server from before /log-lines)', () => {
  /** A server that answers /logs with `chunks`, flushed one by one, then ends or is cut. */
  async function textServer(chunks: readonly Buffer[], cut = false) {
    const server = createServer(async (_, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      for (const chunk of chunks) {
        response.write(chunk);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (cut) response.destroy();
      else response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new ServerClient(new ApiClient(`http://127.0.0.1:${port}`, adminToken));
    const lines: string[] = [];
    const reading = (async () => {
      for await (const text of client.jobLogTextLines('r', 'r.1')) lines.push(text);
    })();
    return { lines, reading, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  it('yields each line as it comes, across chunks, also a last one without its newline', async () => {
    const text = Buffer.from('one\ntwo ✓\n\nlast');
    const split = text.indexOf('✓') + 1; // inside the character's bytes
    const served = await textServer([text.subarray(0, 2), text.subarray(2, split), text.subarray(split)]);
    await served.reading;
    await served.close();
    expect(served.lines).toEqual(['one', 'two ✓', '', 'last']);
  });

  it('fails when the response is cut before its end', async () => {
    const served = await textServer([Buffer.from('one\ntwo\n')], true);
    await expect(served.reading).rejects.toThrow();
    await served.close();
    expect(served.lines).toEqual(['one', 'two']);
  });
});
