import { createHash } from 'node:crypto';

/**
 * What tells a retried enqueue from another job under a reused idempotency key: `sha256:` and the
 * digest of the task name and the input in a canonical text — object keys sorted, `undefined`
 * members left out (as JSON does), and the values the in-memory store passes as they are (a Map, a
 * Set, a BigInt, a Date) each written with its kind, so that two inputs match when a task could not
 * tell them apart. On a durable store the input compared is its JSON form, as the store holds it.
 */
export function jobFingerprint(task: string, input: unknown): string {
  const parts: string[] = [JSON.stringify(task)];
  canonical(input, parts, []);
  return `sha256:${createHash('sha256').update(parts.join('')).digest('hex')}`;
}

function canonical(value: unknown, out: string[], ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
    case 'boolean':
    case 'undefined':
      out.push(Object.is(value, -0) ? '-0' : String(value));
      return;
    case 'bigint':
      out.push(`${value}n`);
      return;
    case 'symbol':
    case 'function':
      out.push(`<${typeof value}>`);
      return;
  }
  if (value === null) {
    out.push('null');
    return;
  }
  const object = value as object;
  if (ancestors.includes(object)) {
    out.push(`<cycle ${ancestors.length - ancestors.indexOf(object)}>`);
    return;
  }
  ancestors.push(object);
  if (Array.isArray(object)) {
    out.push('[');
    for (const item of object) {
      canonical(item, out, ancestors);
      out.push(',');
    }
    out.push(']');
  } else if (object instanceof Date) {
    out.push(`Date(${object.getTime()})`);
  } else if (object instanceof Map) {
    out.push('Map{');
    for (const [key, item] of object) {
      canonical(key, out, ancestors);
      out.push('=>');
      canonical(item, out, ancestors);
      out.push(',');
    }
    out.push('}');
  } else if (object instanceof Set) {
    out.push('Set{');
    for (const item of object) {
      canonical(item, out, ancestors);
      out.push(',');
    }
    out.push('}');
  } else if (ArrayBuffer.isView(object)) {
    out.push(
      `${object.constructor.name}(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')})`,
    );
  } else {
    out.push('{');
    for (const key of Object.keys(object).sort()) {
      const member = (object as Record<string, unknown>)[key];
      if (member === undefined) continue;
      out.push(JSON.stringify(key), ':');
      canonical(member, out, ancestors);
      out.push(',');
    }
    out.push('}');
  }
  ancestors.pop();
}
