import * as z from 'zod';
import { bearerChallenge } from '../core/errors.js';
import { retryAfterSeconds } from './api-error.js';
import { bodyRequired, type ResponseSpec, type RouteMeta } from './route.js';
import { errorSchema, jsonBodyLimit } from './schemas.js';

/** Answers every route of its kind may give before its handler runs; a route's own entry wins. */
function commonResponses(route: RouteMeta): Record<number, ResponseSpec> {
  if (route.handledRaw) return {};
  const { access } = route;
  const error = (description: string): ResponseSpec => ({ description, schema: errorSchema });
  const responses: Record<number, ResponseSpec> = {};
  // Every route validates its query (one without query parameters refuses any key), but for those
  // that take any query and nothing else to validate.
  const validates = !route.anyQuery || [route.query, route.params, route.body, route.headers].some(Boolean);
  if (validates)
    responses[400] = error(
      'VK_INVALID_REQUEST (path: the field that was wrong, e.g. params.id: a path parameter over 100 characters, a query parameter out of range, or `query` for a key the route does not take), or VK_INVALID_JSON: a body that is not JSON',
    );
  if (access !== 'public') {
    responses[401] = error('VK_UNAUTHORIZED: no token, or one that is unknown, revoked or expired');
    responses[403] = error(
      access === 'job'
        ? "VK_FORBIDDEN: not this job's token; the body was not read"
        : access === 'register'
          ? 'VK_FORBIDDEN: not a runner registration token; the body was not read'
          : access === 'credential'
            ? "VK_FORBIDDEN: not a runner's credential; the body was not read"
            : `VK_FORBIDDEN: the token lacks the ${access} role; the body was not read`,
    );
    // The token is checked in the store, so a store that does not answer is a 503 on every one.
    responses[503] = error(
      'VK_SHUTTING_DOWN: the server is shutting down; VK_STORE: the store did not answer',
    );
  }
  // Every request body is timed (body-idle-timeout.ts): one that stops arriving is given up.
  if (route.body !== undefined || route.rawBody !== undefined)
    responses[408] = error(
      'VK_REQUEST_TIMEOUT: no byte of the request body arrived for --body-timeout (default 60 s); nothing was stored, and the connection closes',
    );
  if (route.body !== undefined) {
    responses[413] = error(`VK_BODY_TOO_LARGE: the body exceeds ${jsonBodyLimit} bytes`);
    responses[415] = error('VK_UNSUPPORTED_MEDIA_TYPE: the body is not application/json');
  }
  if (route.rawBody !== undefined)
    responses[415] = error(`VK_UNSUPPORTED_MEDIA_TYPE: the body is not ${route.rawBody.join(' or ')}`);
  return responses;
}

/**
 * The OpenAPI 3.1 document, generated from the routes' own zod schemas (the ones that validate the
 * requests). OpenAPI 3.1 uses JSON Schema 2020-12, which is what `z.toJSONSchema` emits. A schema
 * with an id (`.meta({ id })`) is written once, under `components/schemas`, and referred to as
 * `#/components/schemas/ID`: refs resolve against the document's root, where zod's own `#/$defs/ID`
 * would find nothing.
 */
export function openApiDocument(routes: readonly RouteMeta[], version: string): Record<string, unknown> {
  const schemas = new SharedSchemas();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...routes, ...headRoutes(routes)]) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.access === 'public' ? { security: [] } : { 'x-valkyrie-access': route.access }),
      parameters: [
        ...parameters(schemas, route.params, 'path'),
        ...parameters(schemas, route.query, 'query'),
        ...parameters(schemas, route.headers, 'header'),
      ],
      responses: Object.fromEntries(
        Object.entries({ ...commonResponses(route), ...route.responses }).map(([status, response]) => [
          status,
          responseObject(schemas, Number(status), response),
        ]),
      ),
    };
    // OpenAPI takes a request body as optional unless it says `required`: submitRun's and
    // createToken's are refused without one, which a client generated from the document must send.
    if (route.method === 'HEAD') omitContent(operation);
    if (route.body !== undefined)
      operation.requestBody = {
        ...(bodyRequired(route) ? { required: true } : {}),
        content: { 'application/json': { schema: schemas.of(route.body, 'input') } },
      };
    if (route.rawBody !== undefined)
      operation.requestBody = {
        required: true,
        content: Object.fromEntries(
          route.rawBody.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
        ),
      };
    const method = route.method.toLowerCase();
    paths[path][method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Valkyrie control plane API',
      version,
      description:
        'Every error is a JSON body {code, message, path?}. Authenticate with Authorization: Bearer <token>. ' +
        'x-valkyrie-access names the role a route needs: read < submit < admin; register takes a runner ' +
        "registration token; credential a runner's own credential; job takes the job's own token. " +
        'Every GET answers HEAD too (its status and headers, no body). The runner protocol is listed as its ' +
        'HTTP long-poll transport; its WebSocket transport, GET /api/v1/runner/ws with Upgrade: websocket, ' +
        'is an upgrade OpenAPI cannot describe (docs/protocol.md).',
    },
    components: {
      schemas: schemas.components(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/**
 * The HEAD twin of every GET route that has no HEAD route of its own: Fastify answers HEAD for each
 * (exposeHeadRoutes) with the GET's status and headers and no body.
 */
function headRoutes(routes: readonly RouteMeta[]): RouteMeta[] {
  const heads = new Set(routes.filter((route) => route.method === 'HEAD').map((route) => route.url));
  return routes
    .filter((route) => route.method === 'GET' && !route.handledRaw && !heads.has(route.url))
    .map((route) => ({
      ...route,
      method: 'HEAD',
      operationId: `${route.operationId}Head`,
      summary: `${route.summary} (HEAD: the status and headers of the GET, without its body)`,
    }));
}

/** A HEAD answer's responses keep their status, description and headers; no body is sent. */
function omitContent(operation: Record<string, unknown>): void {
  const responses = operation.responses as Record<string, Record<string, unknown>>;
  for (const response of Object.values(responses)) delete response.content;
}

function responseObject(
  schemas: SharedSchemas,
  status: number,
  response: ResponseSpec,
): Record<string, unknown> {
  const types = response.contentTypes ?? [response.contentType ?? 'application/json'];
  const schema = response.schema === undefined ? {} : schemas.of(response.schema, 'output');
  const retryAfter = retryAfterSeconds(status);
  const headers = {
    ...(retryAfter === undefined
      ? {}
      : {
          'Retry-After': {
            description: `the seconds to wait before asking again (${retryAfter})`,
            schema: { type: 'integer', minimum: 0 },
          },
        }),
    ...(status === 401
      ? {
          'WWW-Authenticate': {
            description: 'how to authenticate (RFC 6750)',
            schema: { type: 'string', const: bearerChallenge },
          },
        }
      : {}),
  };
  return {
    description: response.description,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    ...(response.schema === undefined &&
    response.contentType === undefined &&
    response.contentTypes === undefined
      ? {}
      : { content: Object.fromEntries(types.map((type) => [type, { schema }])) }),
  };
}

/** The schemas with an id, gathered from every schema converted, for `components/schemas`. */
class SharedSchemas {
  private readonly byId = new Map<string, { json: string; schema: unknown }>();

  /** `schema` as JSON Schema, its shared parts as refs to `components/schemas`. */
  of(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
    const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    const { $schema: _dialect, $defs, ...rest } = converted;
    const names = new Map<string, string>();
    const defs = Object.entries(($defs ?? {}) as Record<string, unknown>);
    for (const [id, def] of defs) names.set(id, this.nameFor(id, def, io));
    for (const [id, def] of defs) this.add(names.get(id) ?? id, withRefs(def, names));
    return withRefs(rest, names) as Record<string, unknown>;
  }

  components(): Record<string, unknown> {
    return Object.fromEntries(
      [...this.byId].sort(([a], [b]) => a.localeCompare(b)).map(([id, { schema }]) => [id, schema]),
    );
  }

  /**
   * `id`, or where a schema of that id differs as read for requests and as answered (a default, a
   * transform), `<id>Input` or `<id>Output` for the one met second.
   */
  private nameFor(id: string, def: unknown, io: 'input' | 'output'): string {
    const held = this.byId.get(id);
    if (held === undefined || held.json === JSON.stringify(withRefs(def, new Map()))) return id;
    return `${id}${io === 'input' ? 'Input' : 'Output'}`;
  }

  private add(name: string, schema: unknown): void {
    const json = JSON.stringify(schema);
    const held = this.byId.get(name);
    if (held !== undefined && held.json !== json)
      throw new Error(`two different schemas have the id ${name}: give one another id`);
    this.byId.set(name, { json, schema });
  }
}

/** `value` with every `#/$defs/ID` ref pointing at `#/components/schemas/` and the name `names` gives ID. */
function withRefs(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => withRefs(item, names));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (key === '$ref' && typeof item === 'string' && item.startsWith('#/$defs/')) {
        const id = item.slice('#/$defs/'.length);
        return [key, `#/components/schemas/${names.get(id) ?? id}`];
      }
      return [key, withRefs(item, names)];
    }),
  );
}

/** One parameter per property of an object schema. */
function parameters(
  schemas: SharedSchemas,
  schema: z.ZodType | undefined,
  where: 'path' | 'query' | 'header',
): Record<string, unknown>[] {
  if (schema === undefined) return [];
  const json = schemas.of(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
  }));
}
