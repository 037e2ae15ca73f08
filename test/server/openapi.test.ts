import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  maxCapabilityGpus,
  maxCapabilityTextLength,
  maxCapabilityTools,
  maxToolTextLength,
} from '../../src/protocol/capability-bounds.js';
import {
  adminToken,
  connectScriptedRunner,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';

type Json = Record<string, unknown>;
interface Operation {
  readonly operationId: string;
  readonly responses: Record<string, { content?: Record<string, { schema: Json }> }>;
  readonly requestBody?: { readonly required?: boolean; readonly content: Record<string, unknown> };
  readonly 'x-valkyrie-access'?: string;
}
interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
}

/** The value a local ref (`#/a/b`, RFC 6901) names in `doc`; undefined when there is none. */
function resolve(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Json)[key];
  }
  return at;
}

function refsOf(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsOf(item, found);
  else if (typeof value === 'object' && value !== null)
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsOf(item, found);
    }
  return found;
}

/**
 * The problems of `value` against `schema`, for the JSON Schema the error bodies use: $ref, type,
 * properties, required, additionalProperties, items, enum.
 */
function problems(doc: unknown, schema: Json, value: unknown, at = '$'): string[] {
  if (typeof schema.$ref === 'string') return problems(doc, resolve(doc, schema.$ref) as Json, value, at);
  const type = schema.type;
  const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (
    typeof type === 'string' &&
    type !== (kind === 'number' && Number.isInteger(value) && type === 'integer' ? 'integer' : kind)
  )
    return [`${at}: ${kind}, not ${type}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    return [`${at}: ${String(value)} not in the enum`];
  const found: string[] = [];
  if (kind === 'object') {
    const object = value as Json;
    const properties = (schema.properties ?? {}) as Record<string, Json>;
    for (const name of (schema.required ?? []) as string[])
      if (!(name in object)) found.push(`${at}.${name}: missing`);
    for (const [name, item] of Object.entries(object)) {
      const property = properties[name];
      if (property !== undefined) found.push(...problems(doc, property, item, `${at}.${name}`));
      else if (schema.additionalProperties === false) found.push(`${at}.${name}: not allowed`);
    }
  }
  if (kind === 'array' && typeof schema.items === 'object')
    (value as unknown[]).forEach((item, index) => {
      found.push(...problems(doc, schema.items as Json, item, `${at}[${index}]`));
    });
  return found;
}

/** The operation `method path` answers to in `doc` (its path a template). */
function operationOf(doc: Document, method: string, path: string): Operation {
  for (const [template, methods] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = methods[method.toLowerCase()];
    if (pattern.test(path) && operation !== undefined) return operation;
  }
  throw new Error(`no operation ${method} ${path}`);
}

async function documentOf(server: TestServer): Promise<Document> {
  return (await server.request('GET', '/api/v1/openapi.json', { token: null })).body as Document;
}

describe('the OpenAPI document', () => {
  it('resolves every $ref from its root, and names every operation once', async () => {
    const doc = await documentOf(await startTestServer());
    const refs = refsOf(doc);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((ref) => resolve(doc, ref) === undefined)).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('$defs');
    const ids = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).map((operation) => operation.operationId),
    );
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // Routes that take any query and nothing else to check never answer 400, so none is listed.
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect(Object.keys(operationOf(doc, 'get', path).responses), path).not.toContain('400');
    expect(Object.keys(operationOf(doc, 'get', '/api/v1/runners').responses)).toContain('400');
    // A token is checked in the store: with the store not answering, every protected route is 503 VK_STORE,
    // the runner protocol's session open too (runner-connect-store-outage.test.ts).
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods)) {
        const description = (operation.responses['503'] as { description?: string } | undefined)?.description;
        if (description !== undefined) expect(description, `${method} ${path}`).toContain('VK_STORE');
      }
  });

  it('lists its own route, and the Last-Event-ID header a run event stream resumes after', async () => {
    const doc = await documentOf(await startTestServer());
    expect(operationOf(doc, 'GET', '/api/v1/openapi.json').operationId).toBe('getOpenApiDocument');
    const events = operationOf(doc, 'GET', '/api/v1/runs/1/events') as Operation & {
      parameters: { name: string; in: string; required: boolean }[];
    };
    expect(events.parameters).toContainEqual(
      expect.objectContaining({ name: 'last-event-id', in: 'header', required: false }),
    );
  });

  it('marks a JSON body required exactly where the server refuses a request without one', async () => {
    const server = await startTestServer();
    const doc = await documentOf(server);
    const register = await server.token('runner');
    const found: string[] = [];
    for (const [template, methods] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(methods)) {
        const { requestBody } = operation;
        if (requestBody?.content['application/json'] === undefined) continue;
        // A long-poll batch is read only on a session that exists (openapi-conformance.test.ts sends one).
        if (template.startsWith('/api/v1/runner/poll/')) continue;
        const url = template.replace('{action}', 'drain').replace(/\{[^}]+\}/g, 'none');
        const token = operation['x-valkyrie-access'] === 'register' ? register : adminToken;
        // Validation comes before the route looks anything up: an optional body gets as far as a 404.
        const answer = await server.request(method.toUpperCase() as 'POST', url, { token });
        const refused = answer.status === 400 && (answer.body as { path?: string }).path === 'body';
        found.push(`${method} ${template}: ${refused ? 'required' : 'optional'}`);
        expect(requestBody.required === true, `${method} ${template} answered ${answer.text}`).toBe(refused);
      }
    expect(found).toContain('post /api/v1/runs: required');
    expect(found).toContain('post /api/v1/tokens: required');
    expect(found).toContain('post /api/v1/runs/{id}/cancel: optional');
  });

  it("states the bounds of a runner's capabilities where it lists them and where a runner sends them", async () => {
    const doc = (await documentOf(await startTestServer())) as Document & {
      components: { schemas: Record<string, { properties: Record<string, Json> }> };
    };
    const batch = operationOf(doc, 'POST', '/api/v1/runner/poll/sessions/1/messages').requestBody?.content[
      'application/json'
    ] as { schema: { properties: { messages: { items: { oneOf: { properties: Json }[] } } } } };
    const sent = batch.schema.properties.messages.items.oneOf.flatMap(({ properties }) =>
      properties.capabilities === undefined ? [] : [properties.capabilities],
    );
    // register and capabilities: a runner built from the document sends what the server takes.
    expect(sent).toHaveLength(2);
    for (const capabilities of [doc.components.schemas.RunnerView?.properties.capabilities, ...sent])
      expect(capabilities).toMatchObject({
        properties: {
          os: { maxLength: maxCapabilityTextLength },
          gpus: {
            maxItems: maxCapabilityGpus,
            items: { properties: { name: { maxLength: maxCapabilityTextLength } } },
          },
          docker: {
            properties: {
              endpoint: { maxLength: maxCapabilityTextLength },
              apiVersion: { maxLength: maxCapabilityTextLength },
            },
          },
          tools: {
            maxProperties: maxCapabilityTools,
            propertyNames: { maxLength: maxToolTextLength },
            additionalProperties: { maxLength: maxToolTextLength },
          },
        },
      });
  });

  it('lists exactly the content types the bundle upload takes', async () => {
    const server = await startTestServer();
    const upload = operationOf(await documentOf(server), 'PUT', `/api/v1/bundles/${'a'.repeat(64)}`);
    const listed = Object.keys(upload.requestBody?.content ?? {});
    // Each sent as a client would: the server takes it (stored, or already there) or refuses it (415).
    const candidates = [
      'application/gzip',
      'application/octet-stream',
      'application/x-gzip',
      'application/x-tar',
      'application/json',
      'text/plain',
    ];
    const taken: string[] = [];
    for (const type of candidates) {
      const bundle = Buffer.from(`a bundle sent as ${type}`);
      const sha = createHash('sha256').update(bundle).digest('hex');
      const answer = await server.request('PUT', `/api/v1/bundles/${sha}`, {
        raw: bundle,
        headers: { 'content-type': type },
      });
      expect([201, 415], `${type}: ${answer.text}`).toContain(answer.status);
      if (answer.status === 201) taken.push(type);
    }
    expect(taken).toEqual(['application/gzip', 'application/octet-stream']);
    expect(listed).toEqual(taken);
    expect((upload.responses['415'] as { description?: string } | undefined)?.description).toBe(
      'VK_UNSUPPORTED_MEDIA_TYPE: the body is not application/gzip or application/octet-stream',
    );
  });

  it("documents the answers the server gives, each error's body as it is", async () => {
    const server = await startTestServer();
    const doc = await documentOf(server);
    const sha = 'a'.repeat(64);
    const cases: [
      string,
      'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
      string,
      Parameters<TestServer['request']>[2],
    ][] = [
      ['invalid JSON', 'POST', '/api/v1/runs', { raw: '{', headers: { 'content-type': 'application/json' } }],
      ['an unknown field', 'POST', '/api/v1/runs', { body: { workflow: 'x', nope: 1 } }],
      ['an invalid workflow', 'POST', '/api/v1/runs', { body: { workflow: 'jobs: 3' } }],
      ['a bad follow', 'GET', '/api/v1/runs/1/logs?job=1.a&follow=yes', {}],
      ['no job', 'GET', '/api/v1/runs/1/logs', {}],
      ['a long id', 'DELETE', `/api/v1/tokens/${'x'.repeat(101)}`, {}],
      ['a bad register body', 'POST', '/api/v1/runners/register', { body: { name: 3 } }],
      ['a bad action', 'POST', '/api/v1/runners/r1/explode', {}],
      ['a bad sha256', 'HEAD', '/api/v1/bundles/nothex', {}],
      [
        'a body of another type',
        'PUT',
        `/api/v1/bundles/${sha}`,
        { raw: 'x', headers: { 'content-type': 'text/csv' } },
      ],
    ];
    const register = await server.token('runner');
    const statuses: string[] = [];
    for (const [what, method, url, options] of cases) {
      const token = url.endsWith('/register') ? register : undefined;
      const answer = await server.request(method, url, { ...options, ...(token ? { token } : {}) });
      const status = String(answer.status);
      statuses.push(`${what}: ${status}`);
      const documented = operationOf(doc, method, url.split('?')[0] ?? url).responses[status];
      expect(
        documented,
        `${what}: ${method} ${url} answered ${status}, which is not documented`,
      ).toBeDefined();
      if (what === 'an invalid workflow')
        expect(answer.body).toMatchObject({ code: 'VK_INVALID_WORKFLOW', diagnostics: [{}] });
      if (method === 'HEAD') continue;
      const schema = documented?.content?.['application/json']?.schema;
      expect(schema, `${what}: ${status} has no JSON schema`).toBeDefined();
      expect(problems(doc, schema ?? {}, answer.body), `${what}: ${answer.text}`).toEqual([]);
    }
    expect(statuses.map((line) => line.slice(-3))).toEqual([...Array(9).fill('400'), '415']);
    const logs = operationOf(doc, 'GET', '/api/v1/runs/1/logs').responses['200'];
    expect(Object.keys(logs?.content ?? {})).toEqual(['text/plain', 'text/event-stream']);
  });

  it("documents every route's success answers, each body as it is, over a real socket", async () => {
    const server = await startTestServer();
    const doc = await documentOf(server);
    const answered: string[] = [];
    /** Sends a request; its status must be a documented 2xx, its body of a documented type and schema. */
    const call = async (
      method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
      path: string,
      options: { token?: string; json?: unknown; raw?: Buffer; headers?: Record<string, string> } = {},
    ): Promise<unknown> => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${options.token ?? adminToken}`,
        ...options.headers,
      };
      if (options.json !== undefined) headers['content-type'] = 'application/json';
      if (options.raw !== undefined) headers['content-type'] = 'application/gzip';
      const response = await fetch(`${server.server.url}${path}`, {
        method,
        headers,
        ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
        ...(options.raw === undefined ? {} : { body: options.raw }),
      });
      const text = await response.text();
      const what = `${method} ${path}: ${response.status} ${text.slice(0, 200)}`;
      answered.push(`${method} ${path.split('?')[0]} ${response.status}`);
      expect(response.status, what).toBeLessThan(300);
      const documented = operationOf(doc, method, path.split('?')[0] ?? path).responses[
        String(response.status)
      ];
      expect(documented, `${what}: not documented`).toBeDefined();
      if (text === '') return undefined;
      const type = response.headers.get('content-type')?.split(';')[0] ?? '';
      // A documented type may carry its parameters (Prometheus' `text/plain; version=0.0.4`).
      const content = Object.entries(documented?.content ?? {}).map(
        ([name, media]) => [name.split(';')[0]?.trim(), media] as const,
      );
      const types = content.map(([name]) => name);
      expect(types, `${what}: its ${type} body is not documented`).toContain(type);
      if (type !== 'application/json') return text;
      const body: unknown = JSON.parse(text);
      const schema = content.find(([name]) => name === type)?.[1].schema ?? {};
      expect(problems(doc, schema, body), what).toEqual([]);
      return body;
    };

    const read = (await call('POST', '/api/v1/tokens', { json: { role: 'read', name: 'reader' } })) as {
      id: string;
    };
    await call('GET', '/api/v1/tokens');
    const registration = (await call('POST', '/api/v1/tokens', { json: { role: 'runner' } })) as {
      token: string;
    };
    const { credential } = (await call('POST', '/api/v1/runners/register', {
      token: registration.token,
      json: { name: 'documented' },
    })) as { credential: string };
    const runner = await connectScriptedRunner(server.server.url, credential, 1);

    const bundle = Buffer.from('a bundle, as far as its hash goes');
    const sha = createHash('sha256').update(bundle).digest('hex');
    await call('PUT', `/api/v1/bundles/${sha}`, { raw: bundle });
    await call('PUT', `/api/v1/bundles/${sha}`, { raw: bundle });
    await call('HEAD', `/api/v1/bundles/${sha}`);

    const submit = { json: { workflow: oneJobWorkflow, bundle: sha }, headers: { 'idempotency-key': 'k1' } };
    const { run } = (await call('POST', '/api/v1/runs', submit)) as { run: { id: string } };
    await call('POST', '/api/v1/runs', submit);
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    runner.transport.send(logLine(lease, 'a line'));
    await call('GET', `/api/v1/jobs/${lease.jobId}/workspace`, { token: lease.jobToken ?? '' });
    await call('GET', '/api/v1/runs?limit=5');
    await call('GET', `/api/v1/runs/${run.id}`);
    await call('GET', `/api/v1/runs/${run.id}/log-lines?job=${lease.jobId}`);
    await call('GET', `/api/v1/runs/${run.id}/logs?job=${lease.jobId}`);
    const { runners } = (await call('GET', '/api/v1/runners')) as { runners: { id: string }[] };
    const id = runners[0]?.id ?? '';
    await call('POST', `/api/v1/runners/${id}/drain`, { json: { note: 'documented' } });
    await call('POST', `/api/v1/runners/${id}/maintenance`);
    await call('POST', `/api/v1/runners/${id}/resume`);
    await call('POST', `/api/v1/runs/${run.id}/cancel`, { json: { reason: 'documented' } });
    runner.transport.send(jobCompleted(lease, { kind: 'cancelled', reason: 'documented' }));
    await waitForRunStatus(server.request, run.id, 'cancelled');
    await call('POST', `/api/v1/runs/${run.id}/rerun`);
    await call('DELETE', `/api/v1/tokens/${read.id}`);
    await call('DELETE', '/api/v1/runner/credential', { token: credential });
    for (const path of ['/healthz', '/readyz', '/metrics']) await call('GET', path);
    expect(new Set(answered.map((line) => line.split(' ').slice(0, 2).join(' '))).size).toBeGreaterThan(20);
  });
});
