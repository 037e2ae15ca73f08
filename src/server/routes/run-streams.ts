import * as z from 'zod';
import { asJobId, asRunId } from '../../core/ids.js';
import { isTerminal } from '../../core/outcome.js';
import type { RunEvent } from '../../engine/events.js';
import type { LogEntry } from '../../protocol/messages.js';
import { defaultReadAfterLimit } from '../../store/logs.js';
import type { ApiContext } from '../context.js';
import { jobLogPages, jobLogText } from '../job-log-pages.js';
import { defineRoute, type Route } from '../route.js';
import { findRun, findRunJob } from '../run-views.js';
import { queuedWithRunnersElsewhere, runHandoffView } from '../runners-elsewhere.js';
import { errorSchema, idParams, jobLogLinesSchema, logLinesQuery, logsQuery } from '../schemas.js';
import type { EventStream } from '../sse.js';
import { isFinished, jobCompletedOf } from '../stored-run-events.js';

const eventsHeaders = z.object({
  'last-event-id': z
    .string()
    .optional()
    .describe(
      'the id of the last event a client got, sent again as it reconnects (as EventSource does): the stream goes on after it where it can, starting with event: resumed; else the run is replayed from its start',
    ),
});

/** A run's events and a job's logs, as text or as Server-Sent Events. */
export function runStreamRoutes(context: ApiContext): Route[] {
  const { stores, feed, streamSessions } = context;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/runs/:id/events',
      operationId: 'streamRunEvents',
      summary:
        'Server-Sent Events (event: run, data: a RunEvent as `valkyrie run --json` prints it, id: its id): the run replayed from its start, then live, on any replica; ends after run.completed. With a Last-Event-ID header the stream continues after that event when it can (then it starts with event: resumed), else it replays the run from its start. A job.queued with noRunnerWith (and no setAside) of a job that still waits comes with what the run view tells of the job besides, when it tells it within 2 s: runnersElsewhere (runners with its labels connected to another replica) and handoff; it is never overtaken by a later event meanwhile. A stream whose token is revoked or expires ends with event: error (data: {code: VK_UNAUTHORIZED, message}); one whose replica hands the run to another ends with event: moved (data: {to: the replica}), after which a client reconnects and follows the run from the store',
      access: 'read',
      params: idParams,
      headers: eventsHeaders,
      responses: {
        200: { description: 'an event stream', contentType: 'text/event-stream' },
        404: { description: 'VK_RUN_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params, headers, request, reply, principal }) {
        const run = await findRun(stores.runs, params.id);
        const lastEventId = headers['last-event-id'];
        const stream = await streamSessions.open(request, reply, principal);
        // Refused, and answered so.
        if (stream === undefined) return 'streamed';
        const detailed = queuedWithRunnersElsewhere(
          run.id,
          context.runners,
          (jobId) => context.controlPlane.waitingForRunner(jobId),
          (runId) => runHandoffView(context, runId),
        );
        const send = inOrder(context.logError);
        const unsubscribe = await feed.subscribe(
          run.id,
          {
            event: (event, id) => send(detailed(event), (told) => stream.send('run', told, id)),
            resumed: () => send(undefined, () => stream.send('resumed', { after: lastEventId })),
            moved: (to) => send(undefined, () => stream.send('moved', { to })),
            // After what was given before it has been sent: a replay waits for the client to take it.
            drained: () =>
              new Promise<boolean>((resolve) => send(undefined, () => void stream.drained().then(resolve))),
            behind: () => stream.behind(),
            end: () => send(undefined, () => stream.end()),
          },
          lastEventId === '' ? undefined : lastEventId,
        );
        stream.onEnd(unsubscribe);
        return 'streamed';
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/runs/:id/logs',
      operationId: 'getJobLog',
      summary:
        "A job's log as text/plain, sent a page of lines at a time (chunked); a store failure midway cuts the response before its last chunk, so a client's read fails rather than ending with part of the log. With follow=1 as Server-Sent Events (event: log, data: a LogEntry) on any replica, closed by event: end (data: the job's job.completed RunEvent, with its status) once the job has ended; a stream that stops without it was cut, and the client may reconnect; one whose token is revoked or expires ends with event: error (data: {code: VK_UNAUTHORIZED, message})",
      access: 'read',
      params: idParams,
      query: logsQuery,
      responses: {
        200: {
          description: 'the log as text/plain; with follow=1 as text/event-stream',
          contentTypes: ['text/plain', 'text/event-stream'],
        },
        404: { description: 'VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params, query, request, reply, principal }) {
        const { run, job } = await findRunJob(stores.runs, params.id, query.job);
        const follow = query.follow === '1' || query.follow === 'true';
        if (follow && feed.isActive(run.id)) {
          const stream = await streamSessions.open(request, reply, principal);
          // Refused, and answered so.
          if (stream === undefined) return 'streamed';
          const unsubscribe = await feed.subscribe(run.id, {
            event: (event) => {
              if (event.type === 'log' && event.jobId === query.job) stream.send('log', logEntryOf(event));
              if (event.type === 'job.completed' && event.jobId === query.job) endWith(stream, event);
            },
            drained: () => stream.drained(),
            behind: () => stream.behind(),
            end: () => stream.end(),
          });
          stream.onEnd(unsubscribe);
          return 'streamed';
        }
        if (follow && !isTerminal(job.status) && !isFinished(run)) {
          // Another replica drives the run: its lines are followed from the store.
          const stream = await streamSessions.open(request, reply, principal);
          // Refused, and answered so.
          if (stream === undefined) return 'streamed';
          const stop = feed.followJobLog(run.id, asJobId(query.job), {
            event: (event) => {
              if (event.type === 'log') stream.send('log', logEntryOf(event));
              if (event.type === 'job.completed' && event.jobId === query.job) endWith(stream, event);
            },
            drained: () => stream.drained(),
            end: () => stream.end(),
          });
          stream.onEnd(stop);
          return 'streamed';
        }
        // A page at a time (jobLogPages): a runaway job's log is never held whole.
        const pages = await jobLogPages(stores.logs, asRunId(run.id), asJobId(query.job));
        if (follow) {
          const stream = await streamSessions.open(request, reply, principal);
          // Refused, and answered so.
          if (stream === undefined) return 'streamed';
          // The attempt read above, whose status `end` carries: a re-run started while a slow client
          // reads adds lines of the next attempt, which are not this stream's.
          const attempt = job.attempt ?? 1;
          try {
            reading: for await (const lines of pages) {
              for (const line of lines) {
                if ((line.jobAttempt ?? 1) > attempt) break reading;
                stream.send('log', logEntryOf(line));
              }
              if (!(await stream.drained())) return 'streamed';
            }
          } catch (error) {
            // Without `end`, and cut rather than ended: the client sees the log is not whole.
            context.logError(error);
            stream.abort();
            return 'streamed';
          }
          // Read before the lines, so every line of an ended job was among them.
          if (isTerminal(job.status)) endWith(stream, jobCompletedOf(job, job.status, run));
          stream.end();
          return 'streamed';
        }
        reply.type('text/plain; charset=utf-8');
        return { status: 200, body: jobLogText(pages, context.logError) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/runs/:id/log-lines',
      operationId: 'listJobLogLines',
      summary:
        "A job's stored log lines as JSON, a page at a time (`next` → `after`), each with the job attempt and step attempt it is of (absent: 1), and the names of the job's steps in each attempt: `valkyrie logs --server` heads each attempt by them",
      access: 'read',
      params: idParams,
      query: logLinesQuery,
      responses: {
        200: { description: 'the lines and steps', schema: jobLogLinesSchema },
        400: { description: 'VK_INVALID_REQUEST: an `after` or `limit` out of range', schema: errorSchema },
        404: { description: 'VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params, query }) {
        const { run } = await findRunJob(stores.runs, params.id, query.job);
        const jobId = asJobId(query.job);
        const runId = asRunId(run.id);
        const limit = query.limit ?? defaultReadAfterLimit;
        // A page, not the whole log: a runaway job's log would otherwise be built as one answer.
        const [page, steps] = await Promise.all([
          stores.logs.readAfter(runId, query.after ?? 0, { jobId, limit }),
          stores.runs.listSteps(jobId),
        ]);
        // A full page may be the last: one line past it says whether `next` leads anywhere.
        const more =
          page.lines.length === limit &&
          (await stores.logs.readAfter(runId, page.position, { jobId, limit: 1 })).lines.length > 0;
        return {
          status: 200,
          body: {
            ...(more ? { next: page.position } : {}),
            lines: page.lines.map(({ stepIndex, stream, at, text, jobAttempt, attempt }) => ({
              stepIndex,
              stream,
              at,
              text,
              ...attemptsOf(jobAttempt, attempt),
            })),
            steps: steps.map(({ index, name, jobAttempt, attempt }) => ({
              index,
              name,
              ...attemptsOf(jobAttempt, attempt),
            })),
          },
        };
      },
    }),
  ];
}

/** The attempts of a line or step, left out where they are 1 (as the store reads them). */
function attemptsOf(jobAttempt: number | undefined, attempt: number | undefined) {
  return {
    ...(jobAttempt === undefined || jobAttempt === 1 ? {} : { jobAttempt }),
    ...(attempt === undefined || attempt === 1 ? {} : { attempt }),
  };
}

/**
 * Sends each value once it is ready and everything given before it was sent: a waiting job's event,
 * held while the runners elsewhere are read, is overtaken by none that came after it.
 */
function inOrder(logError: (error: unknown) => void) {
  let sent: Promise<void> = Promise.resolve();
  return <T>(value: T | Promise<T>, send: (ready: T) => void): void => {
    sent = Promise.all([value, sent])
      .then(([ready]) => send(ready))
      .catch(logError);
  };
}

/**
 * The log stream's last event, `end`, tells the client the job has ended and no line follows (a
 * stream that stops without it was cut: shutdown, a takeover, a lost connection).
 */
function endWith(stream: EventStream, completed: Extract<RunEvent, { type: 'job.completed' }>): void {
  stream.send('end', completed);
  stream.end();
}

function logEntryOf(line: Pick<LogEntry, 'stepIndex' | 'stream' | 'at' | 'text'>): LogEntry {
  return { stepIndex: line.stepIndex, stream: line.stream, at: line.at, text: line.text };
}
