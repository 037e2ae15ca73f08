import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCredentials, writeCredentials } from '../../src/runner/registration.js';

const credentials = { server: 'http://127.0.0.1:7070', runnerId: 'abc', credential: 'secret', name: 'r1' };
let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vk-credentials-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a runner work dir's runner.json", () => {
  it('is absent, or read back as it was written', () => {
    expect(readCredentials(dir)).toEqual({ kind: 'absent' });
    expect(readCredentials(join(dir, 'not-made-yet'))).toEqual({ kind: 'absent' });
    expect(writeCredentials(dir, credentials)).toBeUndefined();
    expect(readCredentials(dir)).toEqual({ kind: 'stored', credentials });
  });

  it("keeps the registration token's SHA-256 it is given, and drops one that is not a SHA-256 in hex", () => {
    const tokenSha256 = 'ab'.repeat(32);
    expect(writeCredentials(dir, { ...credentials, tokenSha256 })).toBeUndefined();
    expect(readCredentials(dir)).toEqual({ kind: 'stored', credentials: { ...credentials, tokenSha256 } });
    writeFileSync(join(dir, 'runner.json'), JSON.stringify({ ...credentials, tokenSha256: 'reg-ok' }));
    expect(readCredentials(dir)).toEqual({ kind: 'stored', credentials });
  });

  it('is unusable, not absent, when it is there but damaged or a directory', () => {
    writeFileSync(join(dir, 'runner.json'), '{"server": "http://127.0.0.1:7070", "runner');
    expect(readCredentials(dir)).toEqual({
      kind: 'unusable',
      why: 'it does not hold a runner credential: JSON with server, runnerId and credential',
    });
    rmSync(join(dir, 'runner.json'));
    mkdirSync(join(dir, 'runner.json'));
    expect(readCredentials(dir)).toEqual({ kind: 'unusable', why: 'it is a directory' });
  });

  it('says why it could not be written, and leaves no temporary copy of the credential behind', () => {
    mkdirSync(join(dir, 'runner.json', 'inside'), { recursive: true });
    expect(writeCredentials(dir, credentials)).toBe('it is a directory');
    expect(readdirSync(dir)).toEqual(['runner.json']);
    expect(existsSync(join(dir, 'runner.json', 'inside'))).toBe(true);
  });
});
