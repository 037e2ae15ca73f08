import { request } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

type Json = Record<string, unknown>;
interface MediaType {
  readonly schema?: Json;
}
interface ResponseObject {
  readonly content?: Record<string, MediaType>;
  readonly headers?: Record<string, { readonly schema?: Json }>;
}
interface Operation {
  readonly responses: Record<string, ResponseObject>;
  readonly requestBody?: { readonly content: Record<string, MediaType> };
  readonly parameters?: readonly { readonly name: string; readonly in: string; readonly schema: Json }[];
}
interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { readonly schemas: Record<string, Json> };
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'TRACE' | 'PROPFIND';

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: unknown;
}

const documentId = 'https://valkyrie.invalid/openapi.json';

/**
 * Checks real answers against a server's own OpenAPI document with a full JSON Schema 2020-12
 * validator (the dialect OpenAPI 3.1 uses), so `anyOf`, `const`, `pattern`, `minimum` and the rest
 * count, not only the keywords a hand-written check knows. `check` gives every mismatch as a line.
 */
export class OpenApiConformance {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<Json, ValidateFunction>();

  private constructor(private readonly doc: Document) {
    // `strict: false`: the document carries OpenAPI's own keywords beside the schemas. Formats are not
    // checked: ajv knows none without ajv-formats, and no answer's schema uses one.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema({ $id: documentId, components: doc.components });
  }

  static async fetch(baseUrl: string): Promise<OpenApiConformance> {
    const response = await fetch(`${baseUrl}/api/v1/openapi.json`);
    if (response.status !== 200) throw new Error(`openapi.json answered ${response.status}`);
    return new OpenApiConformance((await response.json()) as Document);
  }

  /** The problems of `answer` to `method path` (the path as sent, without its query) against the document. */
  check(method: Method, path: string, answer: Answer): string[] {
    const operation = this.operationOf(method, path);
    const errorCode = answer.headers.get('x-valkyrie-error');
    const problems: string[] = [];
    // Answers no operation gives (an unknown path, a method the path does not take) are errors all
    // the same, and every error is the Error schema.
    const response: ResponseObject | undefined =
      operation === undefined
        ? answer.status >= 400
          ? { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
          : undefined
        : operation.responses[String(answer.status)];
    if (response === undefined) return [`${answer.status} is not documented`];
    // A HEAD answer has no body to carry its code: the header is all a client has to tell a route's
    // own 404 from a proxy's.
    if (answer.status >= 400 && errorCode === null) problems.push('no X-Valkyrie-Error header');
    if (answer.status >= 400 && method !== 'HEAD') {
      const body = (answer.body ?? {}) as Json;
      if (errorCode !== body.code)
        problems.push(`X-Valkyrie-Error ${errorCode} but the body's code is ${body.code}`);
      // The Error schema takes fields it does not name (so new ones break no client), but a client
      // generated from the document knows only those it names: every field sent must be one.
      const named = Object.keys((this.doc.components.schemas.Error?.properties ?? {}) as Json);
      for (const key of Object.keys(body))
        if (!named.includes(key)) problems.push(`the error's field ${key} is not in the Error schema`);
    }
    if (answer.status === 405) {
      const allow = answer.headers.get('allow')?.split(/,\s*/) ?? [];
      const listed = Object.keys(this.pathOf(path) ?? {}).map((name) => name.toUpperCase());
      // RFC 9110 §15.5.6: a 405 lists the methods the path takes; HEAD comes with every GET.
      if (allow.length === 0 || allow.some((name) => name !== 'HEAD' && !listed.includes(name)))
        problems.push(`Allow: ${allow.join(', ')}; the document lists ${listed.join(', ')}`);
    }
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const value = answer.headers.get(name);
      if (value === null) problems.push(`no ${name} header, which the document lists`);
      else if (header.schema?.type === 'integer' && !/^[0-9]+$/.test(value))
        problems.push(`${name}: ${value} is not an integer`);
    }
    if (answer.text === '') {
      // HEAD and 204 answers carry no body; any other documented body must come.
      if (response.content !== undefined && method !== 'HEAD' && answer.status !== 204)
        problems.push('an empty body, where the document lists one');
      return problems;
    }
    const type = answer.headers.get('content-type')?.split(';')[0]?.trim() ?? '(none)';
    const media = Object.entries(response.content ?? {}).find(
      ([name]) => name.split(';')[0]?.trim() === type,
    );
    if (media === undefined)
      return [
        ...problems,
        `a ${type} body; the document lists ${Object.keys(response.content ?? {}).join(', ')}`,
      ];
    const schema = media[1].schema;
    if (type !== 'application/json' || schema === undefined) return problems;
    const validate = this.validatorOf(schema);
    if (!validate(answer.body))
      for (const error of validate.errors ?? [])
        problems.push(`body${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`);
    return problems;
  }

  /**
   * Whether the document's schema of query parameter `name` takes `raw`, read as OpenAPI reads a
   * query value: digits as a number where the schema's type is one (a client sends 100 as `100`,
   * never `1e2`), else as the text it is.
   */
  acceptsQuery(method: Method, path: string, name: string, raw: string): boolean {
    const parameter = this.operationOf(method, path)?.parameters?.find(
      (candidate) => candidate.in === 'query' && candidate.name === name,
    );
    if (parameter === undefined) throw new Error(`${method} ${path} documents no query parameter ${name}`);
    const numeric = parameter.schema.type === 'integer' || parameter.schema.type === 'number';
    const value = numeric && /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
    return this.validatorOf(parameter.schema)(value);
  }

  /** Whether the document's schema of the JSON request body of `method path` takes `body`. */
  acceptsBody(method: Method, path: string, body: unknown): boolean {
    const schema = this.operationOf(method, path)?.requestBody?.content['application/json']?.schema;
    if (schema === undefined) throw new Error(`${method} ${path} documents no JSON body`);
    return this.validatorOf(schema)(body);
  }

  private operationOf(method: Method, path: string): Operation | undefined {
    for (const [template, methods] of Object.entries(this.doc.paths)) {
      const operation = methods[method.toLowerCase()];
      if (operation !== undefined && matches(template, path)) return operation;
    }
    return undefined;
  }

  private pathOf(path: string): Record<string, Operation> | undefined {
    return Object.entries(this.doc.paths).find(([template]) => matches(template, path))?.[1];
  }

  private validatorOf(schema: Json): ValidateFunction {
    const held = this.compiled.get(schema);
    if (held !== undefined) return held;
    // The document's refs are `#/components/schemas/NAME`, from its root: pointed at the copy added above.
    const rooted = JSON.parse(
      JSON.stringify(schema).replaceAll('"#/components/', `"${documentId}#/components/`),
    );
    const validate = this.ajv.compile(rooted as Json);
    this.compiled.set(schema, validate);
    return validate;
  }
}

/** Whether `path` (a trailing slash ignored, as the server does) is one of `template`'s. */
function matches(template: string, path: string): boolean {
  return new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`).test(path);
}

/** Sends a request as an API user would, and reads its whole answer. */
export async function send(
  baseUrl: string,
  method: Method,
  path: string,
  options: {
    token?: string | null;
    json?: unknown;
    raw?: string | Buffer;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token != null) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, options.headers);
  const body = options.json === undefined ? options.raw : JSON.stringify(options.json);
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/**
 * A request over node:http, for what fetch will not send: a method it forbids (TRACE) or does not
 * know, or a body that stops after `sent` when `length` (its Content-Length) promises more, as a
 * client whose network died mid-upload. Resolves with the answer the server gives.
 */
export function sendHttp(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  sent = '',
  length?: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const lengthHeader = length === undefined ? {} : { 'content-length': length };
    const outgoing = request(`${baseUrl}${path}`, { method, headers: { ...headers, ...lengthHeader } });
    outgoing.on('error', reject);
    outgoing.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers))
          if (typeof value === 'string') answerHeaders.set(name, value);
        outgoing.destroy();
        const body: unknown = text === '' ? undefined : JSON.parse(text);
        resolve({ status: response.statusCode ?? 0, headers: answerHeaders, text, body });
      });
    });
    if (length === undefined) outgoing.end(sent);
    else outgoing.write(sent);
  });
}
