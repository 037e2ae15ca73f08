import { describe, expect, it } from 'vitest';
import { longPollRoutes } from '../../src/protocol/long-poll/wire.js';
import { longPollPath } from '../../src/server/server.js';
import { startTestServer } from './helpers.js';

interface Document {
  readonly paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
}

/** `METHOD /path/{param}` for a Fastify route pattern (`/path/:param`). */
const operation = (method: string, url: string) =>
  `${method.toUpperCase()} ${url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;

/**
 * The OpenAPI document against the routes the server really registers, as Fastify saw them
 * registered (app.servedRoutes): every one is listed, and nothing else is. The long-poll prefix,
 * handed whole to the runner protocol's acceptor, stands for the acceptor's own route table. Before,
 * the HEAD that Fastify answers for every GET and the four long-poll routes were missing from it.
 */
describe('the OpenAPI document and the routes the server registers', () => {
  it('lists every route the server serves, and only those', async () => {
    const server = await startTestServer();
    const doc = (await server.request('GET', '/api/v1/openapi.json', { token: null })).body as Document;
    const documented = Object.entries(doc.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const served = server.server.app.servedRoutes;
    // The acceptor takes everything under the prefix and answers what its table says.
    expect(served.filter((route) => route.kind === 'long-poll').map((route) => route.url)).toEqual(
      expect.arrayContaining([longPollPath, `${longPollPath}/*`]),
    );
    const registered = [
      ...served
        .filter((route) => route.kind === 'operation')
        .map((route) => operation(route.method, route.url)),
      ...Object.values(longPollRoutes).flatMap((route) =>
        route.methods.map((method) => operation(method, `${longPollPath}${route.path}`)),
      ),
    ].sort();
    expect(documented).toEqual(registered);
    expect(documented).toContain('HEAD /api/v1/runs/{id}');
    expect(documented).toContain('POST /api/v1/runner/poll/sessions/{id}/messages');
  });

  it('lists a HEAD as its GET, without the body', async () => {
    const server = await startTestServer();
    const doc = (await server.request('GET', '/api/v1/openapi.json', { token: null })).body as Document;
    const get = doc.paths['/api/v1/runs/{id}']?.get;
    const head = doc.paths['/api/v1/runs/{id}']?.head;
    expect(head?.operationId).toBe(`${get?.operationId}Head`);
    expect(Object.keys(head?.responses ?? {})).toEqual(Object.keys(get?.responses ?? {}));
    expect(JSON.stringify(head?.responses)).not.toContain('"content"');
    const answer = await server.request('HEAD', '/api/v1/runs/none');
    expect(Object.keys(head?.responses ?? {})).toContain(String(answer.status));
  });
});
