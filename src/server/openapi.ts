import * as z from 'zod';
import type { Access, ResponseSpec, RouteMeta } from './route.js';
import { errorSchema, jsonBodyLimit } from './schemas.js';

/** Answers every route of an access may give before its handler runs; a route's own entry wins. */
function commonResponses(access: Access, jsonBody: boolean): Record<number, ResponseSpec> {
  const error = (description: string): ResponseSpec => ({ description, schema: errorSchema });
  const responses: Record<number, ResponseSpec> = {};
  if (access !== 'public') {
    responses[401] = error('VK_UNAUTHORIZED: no token, or one that is unknown, revoked or expired');
    responses[403] = error(
      access === 'job'
        ? "VK_FORBIDDEN: not this job's token; the body was not read"
        : access === 'register'
          ? 'VK_FORBIDDEN: not a runner registration token; the body was not read'
          : `VK_FORBIDDEN: the token lacks the ${access} role; the body was not read`,
    );
    responses[503] = error('VK_SHUTTING_DOWN: the server is shutting down');
  }
  if (jsonBody) {
    responses[413] = error(`VK_BODY_TOO_LARGE: the body exceeds ${jsonBodyLimit} bytes`);
    responses[415] = error('VK_UNSUPPORTED_MEDIA_TYPE: the body is not application/json');
  }
  return responses;
}

/**
 * The OpenAPI 3.1 document, generated from the routes' own zod schemas (the ones that validate the
 * requests). OpenAPI 3.1 uses JSON Schema 2020-12, which is what `z.toJSONSchema` emits.
 */
export function openApiDocument(routes: readonly RouteMeta[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    const operation: Record<string, unknown> = {
      summary: route.summary,
      ...(route.access === 'public' ? { security: [] } : { 'x-valkyrie-access': route.access }),
      parameters: [
        ...parameters(route.params, 'path'),
        ...parameters(route.query, 'query'),
        ...parameters(route.headers, 'header'),
      ],
      responses: Object.fromEntries(
        Object.entries({
          ...commonResponses(route.access, route.body !== undefined),
          ...route.responses,
        }).map(([status, response]) => [
          status,
          {
            description: response.description,
            ...(response.schema === undefined && response.contentType === undefined
              ? {}
              : {
                  content: {
                    [response.contentType ?? 'application/json']: {
                      schema: response.schema === undefined ? {} : jsonSchema(response.schema, 'output'),
                    },
                  },
                }),
          },
        ]),
      ),
    };
    if (route.body !== undefined)
      operation.requestBody = {
        content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
      };
    if (route.rawBody !== undefined)
      operation.requestBody = {
        required: true,
        content: { [route.rawBody]: { schema: { type: 'string', format: 'binary' } } },
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
        "registration token; job takes the job's own token.",
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** One parameter per property of an object schema. */
function parameters(
  schema: z.ZodType | undefined,
  where: 'path' | 'query' | 'header',
): Record<string, unknown>[] {
  if (schema === undefined) return [];
  const json = jsonSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
  }));
}
