import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { errorCodeHeader, ValkyrieError } from '../core/errors.js';
import type { GitContext } from '../core/git-context.js';
import { idempotencyKeyHeaderValue } from '../core/idempotency-key-syntax.js';
import { isRecord } from '../core/is-record.js';
import type { RunEvent } from '../engine/events.js';
import type { RerunScope } from '../engine/rerun-plan.js';
import { maxRunPageSize } from '../server/run-cursor.js';
import type { ApiClient, ApiFetchInit } from './api-client.js';
import { ApiRequestError, parseJson, throwUnlessOk } from './api-error-answer.js';
import type { FieldFlags } from './field-flags.js';
import { type ApiJobLogLinePage, readJobLogLinePage } from './log-lines-answer.js';
import { type ApiRun, badAnswer, readRun, readServerRun, type ServerRun } from './run-answer.js';
import { checkRunEvent } from './run-event-check.js';
import type { RunFilters } from './run-filters.js';
import { readServerSentEvents } from './sse-reader.js';
import { streamEndedError } from './stream-end.js';
import { defaultStreamSilenceMs, watchSilence } from './stream-silence.js';

/** The sha256 of no bytes, which no bundle has: a bundle is a gzip stream, never empty. */
const noBundleSha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What one connection to a run's event stream yields (ServerClient.runEventStream). */
export type StreamedRunEvent =
  | { readonly kind: 'event'; readonly event: RunEvent; readonly id?: string }
  /** The server continues right after the Last-Event-ID sent: nothing that follows is a replay. */
  | { readonly kind: 'resumed' }
  /** The server handed the run to the replica `to` and ends the stream: the run goes on there. */
  | { readonly kind: 'moved'; readonly to: string };

/** `POST /api/v1/runs`. */
export interface CreateRunBody {
  readonly workflow: string;
  readonly path?: string;
  readonly bundle?: string;
  readonly vars?: Readonly<Record<string, string>>;
  /** The values given for the workflow's declared inputs; the server checks and types them. */
  readonly inputs?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly priority?: string;
  /** Job ids to run, with the jobs they need; absent: every job. */
  readonly jobs?: readonly string[];
  /** `--matrix`: matrix key → values whose legs to run; absent: every leg (old servers refuse the field). */
  readonly matrix?: Readonly<Record<string, readonly string[]>>;
  /** `--event`; absent, the server chooses from the workflow's `on:` (old servers refuse the field). */
  readonly event?: string;
  /** The checkout's HEAD, origin and (for a push) commit; sent only when there is one (old servers refuse the field). */
  readonly git?: GitContext;
}

/**
 * The calls `valkyrie submit`, `cancel` and `rerun` make to a Valkyrie server: fetch with the token as a Bearer header.
 * A server that cannot be reached is VK_SERVER_UNREACHABLE; an error answer is an ApiRequestError.
 */
export class ServerClient {
  constructor(private readonly api: ApiClient) {}

  get origin(): string {
    return this.api.origin;
  }

  /** The address as given, with the prefix a reverse proxy serves it under, if any. */
  get server(): string {
    return this.api.server;
  }

  async hasBundle(sha256: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.request(
      'HEAD',
      `api/v1/bundles/${sha256}`,
      signal === undefined ? {} : { signal },
    );
    // The route's own 404 says the bundle is absent; the router's (VK_NOT_FOUND) that no such route
    // is there, and an upload of up to 1 GiB would only be refused the same way.
    if (response.status === 404 && response.headers.get(errorCodeHeader) !== 'VK_NOT_FOUND') return false;
    if (response.status === 404)
      throw new ApiRequestError(
        404,
        'VK_NOT_FOUND',
        `VK_NOT_FOUND: ${this.api.server} has no route for the bundle check: is --server the address of a Valkyrie server?`,
        {},
      );
    if (response.status === 401) await this.throwTokenRefusal(signal);
    // The bundle check is the first request submit makes, and a HEAD answer has no body to say why:
    // only what is wrong, as the line after it (reportServerFailure) says which token and how to get one.
    await throwUnlessOk(response, { forbiddenWhy: 'this token may not submit runs' });
    return true;
  }

  /**
   * After a bodiless 401 (a HEAD's): asks once more with a GET, whose 401 says why the token is
   * refused (`token ID was revoked`, `… has expired`), as `valkyrie runs` tells it, and throws that.
   * Returns when the GET is not refused so (the token is valid now, or a proxy answered): the caller
   * tells the 401 it got.
   */
  private async throwTokenRefusal(signal?: AbortSignal): Promise<void> {
    const response = await this.request('GET', 'api/v1/runs?limit=1', signal === undefined ? {} : { signal });
    if (response.status !== 401) {
      await response.body?.cancel();
      return;
    }
    await throwUnlessOk(response);
  }

  /**
   * The bundle check of a bundle that none is, asked before the workspace is packed, which takes a
   * minute for a few hundred MiB: a wrong --server, a server that is down or is not Valkyrie, and a
   * token it refuses are told at once, as the check after packing would tell them.
   */
  async checkBundleAccess(signal?: AbortSignal): Promise<void> {
    await this.hasBundle(noBundleSha256, signal);
  }

  /**
   * Streams the file; `stored` when the server kept it now, `present` when it already had it.
   * `onSent` is told the bytes handed to the connection so far, from 0 again when a restarting
   * server is asked again.
   */
  async uploadBundle(
    sha256: string,
    file: string,
    bytes: number,
    onSent: (bytesSent: number) => void = () => {},
    signal?: AbortSignal,
  ): Promise<'stored' | 'present'> {
    const response = await this.request('PUT', `api/v1/bundles/${sha256}`, {
      // Opened anew for each attempt: a restarting server is asked again (ApiClient.fetch).
      body: () => {
        let sent = 0;
        onSent(sent);
        const counted = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            sent += chunk.byteLength;
            onSent(sent);
            controller.enqueue(chunk);
          },
        });
        return (Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>).pipeThrough(counted);
      },
      duplex: 'half',
      headers: { 'content-type': 'application/gzip', 'content-length': String(bytes) },
      ...(signal === undefined ? {} : { signal }),
    });
    await throwUnlessOk(response);
    return response.status === 201 ? 'stored' : 'present';
  }

  /**
   * `created` is false when the idempotency key matched a run submitted before: the key itself, sent in
   * the header form that carries it (core/idempotency-key-syntax.ts). `fieldFlags`: the
   * fields submit's flags filled, which a refusal names as those flags (field-flags.ts).
   */
  async createRun(
    body: CreateRunBody,
    idempotencyKey?: string,
    fieldFlags: FieldFlags = {},
  ): Promise<{ run: ApiRun; created: boolean }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKeyHeaderValue(idempotencyKey);
    const response = await this.request('POST', 'api/v1/runs', { body: JSON.stringify(body), headers });
    const json = await this.expectJson(response, fieldFlags);
    return { run: readRun(json), created: response.status === 201 };
  }

  /**
   * Re-runs the failed jobs of a finished run, or all of them (`secrets`: the ones it was submitted
   * with, again). `jobs` is sent only for `all`: a server from before it refuses an unknown field.
   */
  async rerunRun(
    runId: string,
    secrets: Readonly<Record<string, string>>,
    jobs: RerunScope = 'failed',
    fieldFlags: FieldFlags = {},
  ): Promise<ApiRun> {
    const response = await this.request('POST', `api/v1/runs/${encodeURIComponent(runId)}/rerun`, {
      body: JSON.stringify(jobs === 'all' ? { secrets, jobs } : { secrets }),
      headers: { 'content-type': 'application/json' },
    });
    return readRun(await this.expectJson(response, fieldFlags));
  }

  /**
   * The newest `limit` runs that pass `filters`, newest first: one request per page of at most maxRunPageSize (the API's largest),
   * each continuing at the previous page's `next` cursor, until `limit` or the oldest run.
   */
  async listRuns(limit: number, filters: RunFilters = {}, fieldFlags: FieldFlags = {}): Promise<ServerRun[]> {
    const runs: ServerRun[] = [];
    let cursor: string | undefined;
    do {
      const pageLimit = Math.min(limit - runs.length, maxRunPageSize);
      const page = await this.listRunPage(pageLimit, filters, fieldFlags, cursor);
      runs.push(...page.runs);
      cursor = page.next;
    } while (cursor !== undefined && runs.length < limit);
    return runs;
  }

  /** One page of `GET /api/v1/runs`: `next` is absent on the last one. */
  private async listRunPage(
    limit: number,
    filters: RunFilters,
    fieldFlags: FieldFlags,
    cursor?: string,
  ): Promise<{ runs: ServerRun[]; next?: string }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (filters.statuses !== undefined) query.set('status', filters.statuses.join(','));
    if (filters.workflow !== undefined) query.set('workflow', filters.workflow);
    if (cursor !== undefined) query.set('cursor', cursor);
    const response = await this.request('GET', `api/v1/runs?${query}`);
    const json = await this.expectJson(response, fieldFlags);
    const runs = isRecord(json) ? json.runs : undefined;
    const next = isRecord(json) ? json.next : undefined;
    if (!Array.isArray(runs) || (next !== undefined && typeof next !== 'string'))
      throw badAnswer('{runs: [...], next?: string}');
    return { runs: runs.map(readServerRun), ...(next === undefined ? {} : { next }) };
  }

  async getRun(runId: string): Promise<ServerRun> {
    const response = await this.request('GET', `api/v1/runs/${encodeURIComponent(runId)}`);
    const json = await this.expectJson(response);
    return readServerRun(isRecord(json) ? json.run : undefined);
  }

  /**
   * The first page of `GET /api/v1/runs/:id/log-lines`: the job's stored lines with the attempts they
   * are of, the names of its steps, and `next` when more follow (jobLogLinePage). It asks with `job`
   * alone, which a server from before paging answers whole. Undefined from a server from before the
   * route: read its text log (`jobLogTextLines`) then.
   */
  async firstJobLogLinePage(runId: string, jobId: string): Promise<ApiJobLogLinePage | undefined> {
    try {
      return await this.fetchJobLogLinePage(runId, jobId);
    } catch (error) {
      if (isMissingRoute(error)) return undefined;
      throw error;
    }
  }

  /** The page after `after`, the previous page's `next`. */
  async jobLogLinePage(runId: string, jobId: string, after: number): Promise<ApiJobLogLinePage> {
    const page = await this.fetchJobLogLinePage(runId, jobId, after);
    // A `next` that does not move on would ask for the same page forever.
    if (page.next !== undefined && page.next <= after) throw badAnswer('a next past the previous one');
    return page;
  }

  /**
   * The job's stored log lines as the text route sends them, without the attempts they are of: each
   * line (without its newline) as it arrives, so the log is never held whole. A response cut midway
   * (the server's store failed) fails the read rather than ending it.
   */
  async *jobLogTextLines(runId: string, jobId: string): AsyncGenerator<string> {
    const query = `job=${encodeURIComponent(jobId)}`;
    const response = await this.request('GET', `api/v1/runs/${encodeURIComponent(runId)}/logs?${query}`);
    await throwUnlessOk(response);
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let partial = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      yield* lines;
    }
    partial += decoder.decode();
    // A last line without its newline is a line too.
    if (partial !== '') yield partial;
  }

  private async fetchJobLogLinePage(
    runId: string,
    jobId: string,
    after?: number,
  ): Promise<ApiJobLogLinePage> {
    const query = `job=${encodeURIComponent(jobId)}${after === undefined ? '' : `&after=${after}`}`;
    const response = await this.request('GET', `api/v1/runs/${encodeURIComponent(runId)}/log-lines?${query}`);
    return readJobLogLinePage(await this.expectJson(response));
  }

  /**
   * `reason`: who or what cancels, which the server records with the cancelled jobs (servers from
   * before the field ignore it and record the generic reason).
   */
  async cancelRun(runId: string, reason?: string): Promise<ApiRun> {
    const response = await this.request(
      'POST',
      `api/v1/runs/${encodeURIComponent(runId)}/cancel`,
      reason === undefined
        ? {}
        : { body: JSON.stringify({ reason }), headers: { 'content-type': 'application/json' } },
    );
    return readRun(await this.expectJson(response));
  }

  /**
   * One connection to the run's event stream: its events with their ids, until `run.completed` (or the
   * stream ends, or `signal` aborts). With `lastEventId` the server continues after that event when it
   * can, and says so first (`resumed`); otherwise it replays the run from its start. A server that
   * hands the run to another replica says so (`moved`) before it ends the stream. Events of kinds
   * this client does not know are skipped. An `event: error` (the token was revoked or expired) ends
   * it with a StreamEndedError, which is final. A stream that brings nothing, not even the server's
   * keep-alive, for `silenceLimitMs` (a frozen server keeps its socket open) is ended with a
   * StreamSilenceError. run-event-follower.ts reconnects across drops.
   */
  async *runEventStream(
    runId: string,
    options: {
      readonly signal?: AbortSignal;
      readonly lastEventId?: string;
      /** How long the stream may bring nothing, its answer's headers included (stream-silence.ts). */
      readonly silenceLimitMs?: number;
    } = {},
  ): AsyncGenerator<StreamedRunEvent> {
    const silenced = new AbortController();
    const silence = watchSilence(silenced, options.silenceLimitMs ?? defaultStreamSilenceMs);
    const signal =
      options.signal === undefined ? silenced.signal : AbortSignal.any([options.signal, silenced.signal]);
    try {
      yield* this.readRunEvents(runId, signal, silence.touch, options.lastEventId);
    } catch (error) {
      // The caller's own abort goes back to it as it came; the silence's is told as a lost stream.
      if (silenced.signal.aborted && options.signal?.aborted !== true) throw silenced.signal.reason;
      throw error;
    } finally {
      silence.stop();
    }
  }

  /** runEventStream's one connection: `heard` is told of each chunk that arrives. */
  private async *readRunEvents(
    runId: string,
    signal: AbortSignal,
    heard: () => void,
    lastEventId: string | undefined,
  ): AsyncGenerator<StreamedRunEvent> {
    const response = await this.request('GET', `api/v1/runs/${encodeURIComponent(runId)}/events`, {
      headers: {
        accept: 'text/event-stream',
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      },
      signal,
      // run-event-follower.ts reconnects a stream a restarting server refused, within --reconnect-timeout.
      retryWhenAsked: false,
    });
    heard();
    await throwUnlessOk(response);
    for await (const message of readServerSentEvents(heardChunks(response, heard))) {
      if (message.event === 'resumed') {
        yield { kind: 'resumed' };
        continue;
      }
      if (message.event === 'moved') {
        const moved = parseJson(message.data);
        const to = isRecord(moved) && typeof moved.to === 'string' ? moved.to : 'another replica';
        yield { kind: 'moved', to };
        continue;
      }
      if (message.event === 'error') throw streamEndedError(message.data, `the event stream of run ${runId}`);
      if (message.event !== 'run' && message.event !== 'message') continue;
      const checked = checkRunEvent(parseJson(message.data));
      if (checked.kind === 'unknown') continue;
      if (checked.kind === 'invalid')
        throw new ValkyrieError(
          'VK_SERVER_RESPONSE',
          `the server sent an event this client cannot read: ${checked.reason}`,
        );
      yield { kind: 'event', event: checked.event, ...(message.id === undefined ? {} : { id: message.id }) };
      if (checked.event.type === 'run.completed') return;
    }
  }

  private request(method: string, path: string, init: ApiFetchInit = {}): Promise<Response> {
    return this.api.fetch(method, `/${path}`, init);
  }

  private async expectJson(response: Response, fieldFlags: FieldFlags = {}): Promise<unknown> {
    await throwUnlessOk(response, { fieldFlags });
    const json = parseJson(await response.text());
    if (json === undefined)
      throw new ValkyrieError('VK_SERVER_RESPONSE', `the server answered ${response.status} without JSON`);
    return json;
  }
}

/** The response's body, telling `heard` of each chunk as it arrives (keep-alive comments too). */
async function* heardChunks(response: Response, heard: () => void): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    heard();
    yield chunk;
  }
}

/**
 * A 404 about the route, not the run or job: the server has no such route (an older one answers its
 * unknown routes with VK_NOT_FOUND, a proxy in front of it with no code).
 */

function isMissingRoute(error: unknown): boolean {
  return (
    error instanceof ApiRequestError &&
    error.status === 404 &&
    error.serverCode !== 'VK_RUN_NOT_FOUND' &&
    error.serverCode !== 'VK_JOB_NOT_FOUND'
  );
}
