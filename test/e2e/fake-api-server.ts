import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** What the events stream of a run sends: these events, then it ends unless `hold` (until cancel). */
export interface EventScript {
  readonly events: readonly Record<string, unknown>[];
  readonly hold?: boolean;
}

/**
 * Just the routes `valkyrie submit` uses, as the fleet's HTTP API defines them, recording every
 * request. Token `tok` is accepted; a workflow containing `SERVER_REJECTS` is refused with
 * diagnostics. Not the real server: that one is tested by its own suite and the fleet e2e tests.
 */
export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly bundles = new Map<string, Buffer>();
  script: EventScript = { events: [] };
  /**
   * The run request's fields this server knows, as an older server would: it refuses any other as
   * the real API's strict body schema does. Undefined: every field.
   */
  knownRunFields?: readonly string[];
  /** When set, every run request gets this answer instead of a new run (a refusal, say). */
  runAnswer?: { readonly status: number; readonly body: Record<string, unknown> };
  /** What its runs call their number: `number`, as servers before the API's `runNumber` did. */
  runNumberKey: 'runNumber' | 'number' = 'runNumber';
  /** The next this many run requests are answered 503 VK_SHUTTING_DOWN (Retry-After: 1), as a restarting server does. */
  shuttingDownFor = 0;
  /** Awaited before a run request is answered: what happens while the client waits for its run. */
  beforeRunAnswer?: () => Promise<void>;
  private readonly server: Server;
  private readonly keys = new Map<string, string>();
  private readonly openStreams = new Map<string, ServerResponse>();
  private runs = 0;
  url = '';

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const recorded = {
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks),
        };
        this.requests.push(recorded);
        this.route(recorded, response);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const stream of this.openStreams.values()) stream.end();
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }

  /** The requests other than the event stream's, as `METHOD /path`. */
  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.url}`);
  }

  private route(request: RecordedRequest, response: ServerResponse): Sent {
    if (request.headers.authorization !== 'Bearer tok')
      return json(response, 401, { code: 'VK_UNAUTHORIZED', message: 'the token is not valid' });
    const bundle = /^\/api\/v1\/bundles\/([0-9a-f]{64})$/.exec(request.url)?.[1];
    if (bundle && request.method === 'HEAD') {
      response.writeHead(this.bundles.has(bundle) ? 200 : 404).end();
      return 'sent';
    }
    if (bundle && request.method === 'PUT') {
      if (createHash('sha256').update(request.body).digest('hex') !== bundle)
        return json(response, 400, { code: 'VK_BUNDLE_HASH_MISMATCH', message: 'sha256 differs' });
      const had = this.bundles.has(bundle);
      this.bundles.set(bundle, request.body);
      return json(response, had ? 200 : 201, {});
    }
    if (request.url === '/api/v1/runs' && request.method === 'POST' && this.shuttingDownFor > 0) {
      this.shuttingDownFor--;
      response.setHeader('retry-after', '1');
      return json(response, 503, { code: 'VK_SHUTTING_DOWN', message: 'the server is shutting down' });
    }
    if (request.url === '/api/v1/runs' && request.method === 'POST') {
      const before = this.beforeRunAnswer;
      if (before === undefined) return this.createRun(request, response);
      void before().then(() => this.createRun(request, response));
      return 'sent';
    }
    const cancel = /^\/api\/v1\/runs\/([^/]+)\/cancel$/.exec(request.url)?.[1];
    if (cancel && request.method === 'POST') {
      json(response, 202, { run: run(cancel, 'cancelled', this.runNumberKey) });
      const stream = this.openStreams.get(cancel);
      if (stream) {
        sse(stream, { type: 'run.completed', runId: cancel, status: 'cancelled', durationMs: 5, jobs: [] });
        stream.end();
      }
      return 'sent';
    }
    const events = /^\/api\/v1\/runs\/([^/]+)\/events$/.exec(request.url)?.[1];
    if (events && request.method === 'GET') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      response.write(': stream of run events\n\n');
      for (const event of this.script.events) sse(response, event);
      if (this.script.hold) this.openStreams.set(events, response);
      else response.end();
      return 'sent';
    }
    return json(response, 404, {
      code: 'VK_NOT_FOUND',
      message: `no route ${request.method} ${request.url}`,
    });
  }

  private createRun(request: RecordedRequest, response: ServerResponse): Sent {
    if (this.runAnswer !== undefined) return json(response, this.runAnswer.status, this.runAnswer.body);
    const body = JSON.parse(request.body.toString('utf8')) as { workflow: string; bundle?: string };
    const unknown = Object.keys(body).filter((key) => this.knownRunFields?.includes(key) === false);
    if (unknown.length > 0) {
      const keys = unknown.map((key) => JSON.stringify(key)).join(', ');
      const message = `body: Unrecognized key${unknown.length > 1 ? 's' : ''}: ${keys}`;
      return json(response, 400, { code: 'VK_INVALID_REQUEST', message, path: 'body' });
    }
    if (body.workflow.includes('SERVER_REJECTS'))
      return json(response, 400, {
        code: 'VK_INVALID_WORKFLOW',
        message: 'the workflow has 1 error',
        diagnostics: [{ message: 'the server does not like this job', line: 3, column: 3 }],
      });
    if (body.bundle !== undefined && !this.bundles.has(body.bundle))
      return json(response, 404, { code: 'VK_BUNDLE_NOT_FOUND', message: `no bundle ${body.bundle}` });
    const key = request.headers['idempotency-key'];
    const existing = typeof key === 'string' ? this.keys.get(key) : undefined;
    if (existing) return json(response, 200, { run: run(existing, 'succeeded', this.runNumberKey) });
    const id = `run-${++this.runs}`;
    if (typeof key === 'string') this.keys.set(key, id);
    return json(response, 201, { run: run(id, 'queued', this.runNumberKey) });
  }
}

function run(id: string, status: string, runNumberKey: string) {
  const runNumber = Number(id.replace('run-', ''));
  return { id, [runNumberKey]: runNumber, workflowName: 'ci', status, createdAt: 0, jobs: [] };
}

/** What a route handler returns: that it answered. */
type Sent = 'sent';

function json(response: ServerResponse, status: number, body: unknown): Sent {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return 'sent';
}

function sse(response: ServerResponse, event: unknown): void {
  response.write(`event: run\ndata: ${JSON.stringify(event)}\n\n`);
}
