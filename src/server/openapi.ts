import * as z from 'zod';
import type { RouteMeta } from './route.js';

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
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, response]) => [
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
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
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
