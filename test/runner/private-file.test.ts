import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePrivateFile } from '../../src/runner/private-file.js';

describe('writePrivateFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-private-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a file with mode 0600 and exactly the content', () => {
    const path = join(dir, 'script.sh');
    writePrivateFile(path, 'echo secret ✓\n');
    expect(readFileSync(path, 'utf8')).toBe('echo secret ✓\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('replaces a longer file that others could read, and makes it private', () => {
    const path = join(dir, 'stale.sh');
    writeFileSync(path, 'echo a much longer earlier script\n');
    chmodSync(path, 0o644);
    writePrivateFile(path, 'true\n');
    expect(readFileSync(path, 'utf8')).toBe('true\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('does not follow a symbolic link a step left at the name into another file', () => {
    const target = join(dir, 'credentials');
    writeFileSync(target, 'keep me\n');
    chmodSync(target, 0o644);
    const path = join(dir, 'event.json');
    symlinkSync(target, path);
    expect(() => writePrivateFile(path, '{}')).toThrow(/ELOOP/);
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
    expect(statSync(target).mode & 0o777).toBe(0o644);
  });
});
