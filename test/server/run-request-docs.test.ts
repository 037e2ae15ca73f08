import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxCommitMessageLength } from '../../src/core/git-context.js';
import { runSubmitSchema } from '../../src/server/schemas.js';

const docs = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'docs', name), 'utf8');

describe('the run request in the docs', () => {
  it("docs/server.md's POST /api/v1/runs row lists every field of the request body, optional ones with ?", () => {
    const row = /^\| `POST \/api\/v1\/runs` `\{([^}]*)\}`/m.exec(docs('server.md'));
    const fields = Object.entries(runSubmitSchema.shape).map(([key, schema]) =>
      schema.safeParse(undefined).success ? `${key}?` : key,
    );
    expect(row?.[1]?.split(', ')).toEqual(fields);
  });

  it('states the commit message limit as what it is: UTF-16 code units, not KiB', () => {
    const limit = `${maxCommitMessageLength.toLocaleString('en-US')} UTF-16 code units`;
    for (const name of ['server.md', 'submit.md']) {
      expect(docs(name), name).toContain(limit);
      expect(docs(name), name).not.toMatch(/message[^.|]{0,40}64 KiB/);
    }
  });
});
