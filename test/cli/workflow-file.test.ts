import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findDefaultWorkflow } from '../../src/cli/workflow-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-default-workflow-'));
  dirs.push(dir);
  mkdirSync(join(dir, '.valkyrie', 'workflows'), { recursive: true });
  for (const file of files) writeFileSync(join(dir, '.valkyrie', 'workflows', file), 'jobs: {}\n');
  return dir;
}

describe('findDefaultWorkflow', () => {
  it('names the command that asked in what to type next: valkyrie submit FILE for submit', () => {
    const several = workspace(['a.yml', 'b.yml']);
    expect(() => findDefaultWorkflow(several, 'submit')).toThrow(/name one: valkyrie submit FILE$/);
    expect(() => findDefaultWorkflow(several)).toThrow(/name one: valkyrie run FILE$/);
    expect(() => findDefaultWorkflow(workspace([]), 'submit')).toThrow(/try: valkyrie submit FILE$/);
  });
});
