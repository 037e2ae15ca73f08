import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { overwriteFile } from '../../src/runner/overwrite-file.js';

describe('overwriteFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-overwrite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates, grows and shrinks a file to exactly the new content', () => {
    const path = join(dir, 'script.sh');
    overwriteFile(path, 'echo first\n');
    expect(readFileSync(path, 'utf8')).toBe('echo first\n');
    overwriteFile(path, 'echo a much longer second script ✓\n');
    expect(readFileSync(path, 'utf8')).toBe('echo a much longer second script ✓\n');
    overwriteFile(path, 'true\n');
    expect(readFileSync(path, 'utf8')).toBe('true\n');
    overwriteFile(path, '');
    expect(readFileSync(path, 'utf8')).toBe('');
  });
});
