import { messageOf } from '../core/error-message.js';
import { ApiError } from './api-error.js';

/**
 * Parses a JSON request body. Fastify's own parser refuses keys that could set an object's
 * prototype (`__proto__`, and `constructor` holding `prototype`), as this one does, but says only
 * that the body is "not valid JSON": this one names the key and where it is. JSON.parse itself
 * makes such a key an ordinary own property; the refusal protects code that copies keys by
 * assignment. The walk is iterative: a body nests as deep as its bytes allow.
 */
export function parseJsonBody(raw: string): unknown {
  // A byte order mark (PowerShell, .NET) is no part of the JSON; Fastify's own parser dropped it too.
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text.length === 0)
    throw new ApiError(400, 'VK_INVALID_JSON', 'the body is empty; send a JSON value', { path: 'body' });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    const reason = messageOf(error);
    throw new ApiError(400, 'VK_INVALID_JSON', `the body is not valid JSON: ${reason}`, { path: 'body' });
  }
  const forbidden = prototypeKey(body);
  if (forbidden !== undefined) {
    const path = ['body', ...forbidden].join('.');
    throw new ApiError(
      400,
      'VK_INVALID_REQUEST',
      `${path}: a key named "${forbidden.at(-1)}" is not accepted (it would set an object's prototype)`,
      { path },
    );
  }
  return body;
}

interface Visit {
  readonly value: unknown;
  readonly key: string;
  readonly parent: Visit | undefined;
}

/** The path of the first `__proto__` key, or of `prototype` under a `constructor` key. */
function prototypeKey(body: unknown): string[] | undefined {
  const stack: Visit[] = [{ value: body, key: '', parent: undefined }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const { value } = visit;
    if (value === null || typeof value !== 'object') continue;
    for (const [key, child] of Object.entries(value)) {
      const next = { value: child, key, parent: visit };
      if (key === '__proto__') return pathOf(next);
      if (key === 'constructor' && isObject(child) && Object.hasOwn(child, 'prototype'))
        return pathOf({ value: undefined, key: 'prototype', parent: next });
      stack.push(next);
    }
  }
  return undefined;
}

/**
 * The path (keys, and array indices as text) of the first object or array nested deeper than
 * `limit`, `value` itself being level 1; iterative, as JSON.stringify is not.
 */
export function pathDeeperThan(value: unknown, limit: number): string[] | undefined {
  const stack: (Visit & { readonly depth: number })[] = [{ value, key: '', parent: undefined, depth: 1 }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    if (!isObject(visit.value)) continue;
    if (visit.depth > limit) return pathOf(visit);
    for (const [key, child] of Object.entries(visit.value))
      stack.push({ value: child, key, parent: visit, depth: visit.depth + 1 });
  }
  return undefined;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

function pathOf(visit: Visit): string[] {
  const path: string[] = [];
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) path.push(at.key);
  return path.reverse();
}
