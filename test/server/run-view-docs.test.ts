import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import {
  jobAttemptViewSchema,
  jobViewSchema,
  runViewSchema,
  staleWriteViewSchema,
  stepViewSchema,
} from '../../src/server/run-view-schemas.js';

const serverDocs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'server.md'), 'utf8');

/**
 * The fields of `{a, b?: {…}, c: [{…}]}` at its top level, in order (`?` kept), each with the text of
 * the object it holds (`{…}` or `[{…}]`), '' for none.
 */
function fieldsOf(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  const inner = text
    .trim()
    .replace(/^\[?\{/, '')
    .replace(/\}\]?$/, '');
  let depth = 0;
  let part = '';
  const keep = () => {
    const [name = '', held = ''] = part.split(/:\s*(.*)/s);
    fields.set(name.trim(), held.trim());
    part = '';
  };
  for (const char of inner) {
    if (char === '{' || char === '[') depth++;
    if (char === '}' || char === ']') depth--;
    if (char === ',' && depth === 0) keep();
    else part += char;
  }
  keep();
  return fields;
}

/** The schema's fields in order, an optional one with `?`, as the docs write them. */
const schemaFields = (schema: z.ZodObject) =>
  Object.entries(schema.shape).map(([key, field]) =>
    (field as z.ZodType).safeParse(undefined).success ? `${key}?` : key,
  );

describe('RunView in docs/server.md', () => {
  it('lists every field of the view, its jobs, their attempts, steps and stale writes, optional ones with ?', () => {
    const line = /^`RunView = (\{.*\})`$/m.exec(serverDocs)?.[1] ?? '';
    const run = fieldsOf(line);
    expect([...run.keys()]).toEqual(schemaFields(runViewSchema));
    const jobs = fieldsOf(run.get('jobs') ?? '');
    expect([...jobs.keys()]).toEqual(schemaFields(jobViewSchema));
    expect([...fieldsOf(jobs.get('attempts?') ?? '').keys()]).toEqual(schemaFields(jobAttemptViewSchema));
    expect([...fieldsOf(jobs.get('steps?') ?? '').keys()]).toEqual(schemaFields(stepViewSchema));
    expect([...fieldsOf(jobs.get('staleWrites') ?? '').keys()]).toEqual(schemaFields(staleWriteViewSchema));
  });
});
