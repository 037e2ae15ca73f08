import { describe, expect, it } from 'vitest';
import {
  describeTarget,
  passedParameters,
  schemaProblem,
  urlParameterProblem,
} from '../../src/store/postgres/target.js';

const base = 'postgres://valkyrie:hunter2@127.0.0.1:5432/ci';

describe('urlParameterProblem', () => {
  it('takes the parameters node-postgres reads, and none', () => {
    expect(urlParameterProblem(new URL(base))).toBeUndefined();
    const url = new URL(base);
    for (const name of passedParameters) url.searchParams.set(name, '1');
    expect(urlParameterProblem(url)).toBeUndefined();
    expect(
      urlParameterProblem(new URL(`${base}?sslmode=disable&application_name=ci&options=-c%20x=1`)),
    ).toBeUndefined();
  });

  it('refuses a parameter node-postgres would ignore, by name, listing the known ones', () => {
    for (const name of ['schma', 'connect_timeout', 'target_session_attrs', 'binary', 'database']) {
      const problem = urlParameterProblem(new URL(`${base}?${name}=x`));
      expect(problem).toContain(`unknown parameter "${name}" (node-postgres would ignore it)`);
      expect(problem).toContain('sslmode, sslcert');
    }
  });

  it("takes the caller's own parameters, which it lists first", () => {
    const url = new URL(`${base}?schema=a&sslmode=disable`);
    expect(urlParameterProblem(url, ['schema'])).toBeUndefined();
    expect(urlParameterProblem(new URL(`${base}?schma=a`), ['schema'])).toContain('known: schema, host,');
  });

  it('points a library user who put schema into the URL at the schema option', () => {
    expect(urlParameterProblem(new URL(`${base}?schema=a`))).toContain("the store's schema option");
  });

  it('refuses a parameter given twice, a repeated schema too, never echoing values', () => {
    for (const query of ['schema=a&schema=b', 'sslmode=disable&sslmode=require', 'password=x&password=y']) {
      const problem = urlParameterProblem(new URL(`${base}?${query}`), ['schema']);
      expect(problem).toMatch(/^the Postgres URL gives the parameter \w+ more than once$/);
    }
  });
});

describe('schemaProblem', () => {
  it('takes a plain lowercase identifier, public included', () => {
    for (const name of ['valkyrie', 'public', 'vk_1', '_x', 'pgx', 'a'.repeat(63)]) {
      expect(schemaProblem(name)).toBeUndefined();
    }
  });

  it("refuses Postgres's system schemas, whose names are otherwise plain identifiers", () => {
    for (const name of ['information_schema', 'pg_catalog', 'pg_toast', 'pg_temp_3', 'pg_x']) {
      expect(schemaProblem(name)).toBe(
        `schema: ${name} is a system schema of Postgres; give Valkyrie a schema of its own`,
      );
    }
  });

  it('refuses what is not a plain identifier', () => {
    for (const name of ['Robert"; DROP TABLE runs', 'Valkyrie', '1a', '', 'a'.repeat(64)]) {
      expect(schemaProblem(name)).toContain('schema: expected a lowercase identifier');
    }
  });
});

describe('describeTarget', () => {
  it('refuses a system schema and an unknown parameter before any connection, as VK_STORE', () => {
    expect(() => describeTarget(base, 'information_schema')).toThrow(
      expect.objectContaining({ code: 'VK_STORE', message: expect.stringContaining('system schema') }),
    );
    expect(() => describeTarget(`${base}?schma=x`, undefined)).toThrow(
      expect.objectContaining({ code: 'VK_STORE', message: expect.stringContaining('"schma"') }),
    );
  });

  it('names server and database only', () => {
    expect(describeTarget(`${base}?sslmode=disable`, 'vk')).toEqual({
      server: '127.0.0.1:5432',
      database: 'ci',
      schema: 'vk',
    });
  });
});
