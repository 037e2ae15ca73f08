import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { escapeRegExp } from '../core/escape-reg-exp.js';
import { fieldPath } from '../core/field-path.js';
import { plainIssues } from '../core/plain-issue-text.js';
import { ApiError, sendApiError, shuttingDown } from './api-error.js';
import type { RequestsBeforeHandler } from './requests-before-handler.js';
import type { Principal, TokenAuthority } from './tokens.js';

/**
 * Who may call a route. `read` < `submit` < `admin` are API roles (admin may do everything);
 * `register` takes a runner registration token; `job` takes the job token of the `:jobId` in the URL;
 * `credential` takes a runner's own credential (what it connects with), for what concerns it alone.
 */
export type Access = 'public' | 'read' | 'submit' | 'admin' | 'register' | 'job' | 'credential';

export interface RouteInput<B, Q, P, H = undefined> {
  readonly body: B;
  readonly query: Q;
  readonly params: P;
  /** The headers the route's `headers` schema names (others are dropped); undefined without one. */
  readonly headers: H;
  /** Undefined on public routes only. */
  readonly principal: Principal | undefined;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** A JSON answer, or `streamed` when the handler wrote the response itself (SSE, files). */
export type RouteResult = { readonly status: number; readonly body?: unknown } | 'streamed';

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** Default application/json. */
  readonly contentType?: string;
  /** Several content types of the same schema, for a route that answers as the request asks. */
  readonly contentTypes?: readonly string[];
}

/** What the OpenAPI document and the registration read; the same object validates the requests. */
export interface RouteMeta {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  /** The operation's name in the OpenAPI document, unique among the routes: a verb and a noun. */
  readonly operationId: string;
  readonly summary: string;
  readonly access: Access;
  readonly body?: z.ZodType;
  /**
   * A body that is not JSON (the route reads the stream): the content types it is taken as, each
   * with a parser in app.ts, all listed in the document; the first is the one a 415 asks for.
   */
  readonly rawBody?: readonly [string, ...string[]];
  readonly query?: z.ZodType;
  /**
   * Without a `query` schema: any query is taken and ignored, as probes and scrapers add their own
   * (a load balancer's health check, Prometheus' `params:`). Otherwise an unknown key is refused.
   */
  readonly anyQuery?: true;
  readonly params?: z.ZodType;
  /** Request headers the route reads (lower-case names); validated and documented like the query. */
  readonly headers?: z.ZodType;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /**
   * Served outside registerRoutes, by a handler that reads the request itself (the runner
   * protocol's long-poll acceptor): the document lists the responses given here and none that
   * registerRoutes adds to every route of its kind.
   */
  readonly handledRaw?: true;
}

export interface Route extends RouteMeta {
  run(request: FastifyRequest, reply: FastifyReply, principal: Principal | undefined): Promise<RouteResult>;
}

export interface RouteSpec<B, Q, P, H> extends RouteMeta {
  readonly body?: z.ZodType<B>;
  readonly query?: z.ZodType<Q>;
  readonly params?: z.ZodType<P>;
  readonly headers?: z.ZodType<H>;
  handle(input: RouteInput<B, Q, P, H>): Promise<RouteResult>;
}

/** Ties a route's schemas to its handler's types; validation failures are 400 with the field's path. */
export function defineRoute<B = undefined, Q = undefined, P = undefined, H = undefined>(
  spec: RouteSpec<B, Q, P, H>,
): Route {
  return {
    ...spec,
    run: (request, reply, principal) =>
      spec.handle({
        body: validate(spec.body, request.body, 'body') as B,
        // A route without a query schema takes no query: an unknown key is refused, as a schema's are.
        query: validate(spec.anyQuery ? spec.query : (spec.query ?? noQuery), request.query, 'query') as Q,
        params: validate(spec.params, request.params, 'params') as P,
        headers: validate(spec.headers, headersGivenOnce(spec.headers, request), 'headers') as H,
        principal,
        request,
        reply,
      }),
  };
}

const noQuery = z.strictObject({});

/**
 * The request's headers, once every header the route reads is known to be given at most once: Node
 * joins the values of a repeated one with ", ", which would pass as one value (an Idempotency-Key
 * `a, b` that matches neither request's key).
 */
function headersGivenOnce(schema: z.ZodType | undefined, request: FastifyRequest): unknown {
  if (!(schema instanceof z.ZodObject)) return request.headers;
  for (const name of Object.keys(schema.shape)) givenOnce(request, name);
  return request.headers;
}

/** Refuses (400) a request that gives header `name` (lower case) more than once. */
function givenOnce(request: FastifyRequest, name: string): void {
  const { rawHeaders } = request.raw;
  let count = 0;
  // Names and values alternate; a name keeps the case it was sent in.
  for (let at = 0; at < rawHeaders.length; at += 2) if (rawHeaders[at]?.toLowerCase() === name) count++;
  if (count > 1) {
    const path = `headers.${name}`;
    throw new ApiError(400, 'VK_INVALID_REQUEST', `${path}: given ${count} times; send it once`, { path });
  }
}

function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return undefined;
  // A body of JSON `null` is not a missing one: its message must say null. It is still taken as
  // no body where a body is optional.
  const input = where === 'body' ? value : (value ?? {});
  let result = schema.safeParse(input, plainIssues);
  if (!result.success && input === null) {
    const absent = schema.safeParse(undefined, plainIssues);
    if (absent.success) result = absent;
  }
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = fieldPath(where, issue?.path ?? []);
  // A record key's own message is nested: zod's outer one says only "Invalid key in record".
  const inner = issue?.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  const message = `${path}: ${inner ?? issue?.message ?? 'invalid'}`;
  throw new ApiError(400, 'VK_INVALID_REQUEST', message, { path });
}

const roleRank = { read: 1, submit: 2, admin: 3 } as const;

/** Throws 403 when the principal may not call a route of this access; nothing has happened yet. */
export function authorize(access: Access, principal: Principal, params: unknown): void {
  if (access === 'public') return;
  if (access === 'job') {
    const jobId = (params as { jobId?: unknown } | undefined)?.jobId;
    if (principal.kind === 'job' && principal.jobId === jobId) return;
    throw forbidden(
      principal.kind === 'job'
        ? `this job token is for job ${principal.jobId}, not ${String(jobId)}`
        : 'only the job token of this job may call this route',
    );
  }
  if (principal.kind !== 'token') throw forbidden("a job token may call its own job's routes only");
  if (access === 'register') {
    if (principal.role === 'runner') return;
    // As on GitLab and Buildkite, no other token registers one, an admin's neither: say which does.
    throw forbidden(
      `registering a runner takes a runner registration token, not ${aRole(principal.role)} token: an admin makes one with \`valkyrie token create --role runner\` (POST /api/v1/tokens {"role":"runner"}), and the runner is started with it (\`valkyrie runner --token TOKEN\`)`,
    );
  }
  if (access === 'credential') {
    if (principal.role === 'credential') return;
    throw forbidden(`this takes a runner's own credential, not ${aRole(principal.role)} token`);
  }
  const role = principal.role;
  if (role === 'runner' || role === 'credential' || roleRank[role] < roleRank[access])
    throw forbidden(`${aRole(role)} token may not do this; it needs the ${access} role`);
}

/** The role with its article: `an admin`, `a read`. */
function aRole(role: string): string {
  return `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;
}

function forbidden(message: string): ApiError {
  return new ApiError(403, 'VK_FORBIDDEN', message);
}

export interface RouteHost {
  readonly authority: TokenAuthority;
  /** True once shutdown began: every route but the public ones answers 503. */
  closing(): boolean;
  /** Those of the routes' requests whose handler has not started: destroy() answers them 503. */
  readonly requestsBeforeHandler: RequestsBeforeHandler;
}

/**
 * Mounts routes: 503 while closing, then authentication (401) and authorization (403) — all before the
 * body is read, so a caller without the role learns nothing about its body — then parsing (400, 413,
 * 415) and validation (400).
 */
export function registerRoutes(app: FastifyInstance, routes: readonly Route[], host: RouteHost): void {
  const principals = new WeakMap<FastifyRequest, Principal>();
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { bodyType: bodyTypeOf(route), bodyRequired: bodyRequired(route) },
      ...(route.access === 'public'
        ? {}
        : {
            // The URL is routed by now: the path params a `job` route checks are set.
            onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
              // A job leased before the drain still fetches its workspace while its runner runs it.
              if (host.closing() && route.access !== 'job') throw shuttingDown();
              host.requestsBeforeHandler.enter(reply);
              try {
                // Node keeps the first of two and drops the other: which one a proxy meant is unknown.
                givenOnce(request, 'authorization');
                const principal = await host.authority.authenticate(request.headers.authorization);
                authorize(route.access, principal, request.params);
                principals.set(request, principal);
              } catch (error) {
                // Its 400, 401 or 403 goes unless destroy() answered it 503 meanwhile; sent over
                // that, it would change the 503's status.
                if (host.requestsBeforeHandler.checkFailed(reply)) throw error;
              }
            },
          }),
      handler: async (request, reply) => {
        // Answered 503 by destroy() before the handler began (reply.sent may not say so yet).
        if (!host.requestsBeforeHandler.handlerStarted(reply)) return reply;
        const principal = principals.get(request);
        if (route.access !== 'public' && principal === undefined)
          throw new ApiError(500, 'VK_INTERNAL', 'the route ran without an authenticated principal');
        const result = await route.run(request, reply, principal);
        if (result === 'streamed') return reply;
        reply.code(result.status);
        return result.body === undefined ? reply.send() : reply.send(result.body);
      },
    });
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The content type a route reads its body as, for a 415's message; absent for a route without a body. */
    readonly bodyType?: string;
    /** Whether the route must have a body: where it need not, an empty one is taken as none. */
    readonly bodyRequired?: boolean;
  }
}

/** The content type `route` reads its body as: its raw body's, or JSON for a schema'd body. */
export function bodyTypeOf(route: Pick<Route, 'body' | 'rawBody'>): string | undefined {
  return route.rawBody?.[0] ?? (route.body === undefined ? undefined : 'application/json');
}

/** Whether `route` refuses a request without a body; a route that reads none does not. */
export function bodyRequired(route: Pick<Route, 'body'>): boolean {
  return route.body !== undefined && !route.body.safeParse(undefined).success;
}

/** What a client may send; the API's routes take some of them, each path its own. */
const httpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * For each path of `routes`, the methods it does not take answer 405 VK_METHOD with an Allow header
 * listing those it does (HEAD with GET: Fastify answers HEAD for every GET route), as the long-poll
 * routes do, rather than 404 as if the path did not exist. No token is needed: the OpenAPI document
 * lists every path and method already. Fastify routes only some methods; the others (TRACE,
 * PROPFIND, …) reach its not-found handler, which asks the function returned here: the route pattern
 * and Allow list of a path the routes serve, undefined for a path none serves.
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  routes: readonly RouteMeta[],
): (path: string) => { readonly url: string; readonly allow: string } | undefined {
  const byUrl = new Map<string, Set<string>>();
  for (const route of routes) {
    const methods = byUrl.get(route.url) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === 'GET') methods.add('HEAD');
    byUrl.set(route.url, methods);
  }
  const served: { readonly pattern: RegExp; readonly url: string; readonly allow: string }[] = [];
  for (const [url, methods] of byUrl) {
    const allow = httpMethods.filter((method) => methods.has(method)).join(', ');
    // A parameter is one segment, and a trailing slash is ignored, as the router does; the rest is
    // literal (openapi.json's dot is no wildcard: /api/v1/openapi-json is a path no route serves).
    const segments = url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : escapeRegExp(part)));
    served.push({ pattern: new RegExp(`^${segments.join('/')}/?$`), url, allow });
    const refused = app.supportedMethods.filter((method) => !methods.has(method));
    app.route({
      method: refused,
      url,
      config: { servedAs: 'refusal' },
      handler: async (request, reply) => methodNotAllowed(reply, request.method, url, allow),
    });
  }
  return (path) => served.find(({ pattern }) => pattern.test(path));
}

/** Answers 405 VK_METHOD: `method` is not one `url` takes; `allow` lists those it does. */
export function methodNotAllowed(
  reply: FastifyReply,
  method: string,
  url: string,
  allow: string,
): FastifyReply {
  return sendApiError(
    reply.header('allow', allow),
    new ApiError(405, 'VK_METHOD', `${method} is not allowed on ${url}; it takes ${allow}`),
  );
}
