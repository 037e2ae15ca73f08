import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findDefaultWorkflow, workflowFileOf } from '../../src/cli/workflow-file.js';

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

describe('workflowFileOf', () => {
  it("finds a bare file name in the workflow folders, as gh workflow run ci.yml does, after the current folder's file", () => {
    const root = workspace(['ci.yml', 'deploy.yml']);
    expect(workflowFileOf('ci.yml', 'run', root)).toBe(join('.valkyrie', 'workflows', 'ci.yml'));
    // From a subfolder of the workspace (submit --workspace ..): relative to where the command runs.
    const sub = join(root, 'sub');
    mkdirSync(sub);
    expect(workflowFileOf('deploy.yml', 'submit', sub, root)).toBe(
      join('..', '.valkyrie', 'workflows', 'deploy.yml'),
    );
    writeFileSync(join(root, 'ci.yml'), 'jobs: {}\n');
    expect(workflowFileOf('ci.yml', 'run', root)).toBe('ci.yml');
    // A path goes as given: reading it says if it is missing.
    expect(workflowFileOf('./deploy.yml', 'run', root)).toBe('./deploy.yml');
    // A bare name found nowhere is refused, naming the folders it was looked for in too.
    expect(() => workflowFileOf('nope.yml', 'run', root)).toThrow(
      'cannot read workflow nope.yml: no such file here, nor in .valkyrie/workflows/ or .github/workflows/',
    );
    expect(() => workflowFileOf('nope.yml', 'submit', sub, root)).toThrow(
      'cannot read workflow nope.yml: no such file here, nor in ../.valkyrie/workflows/ or ../.github/workflows/',
    );
    // Without a name: the workspace's one workflow, relative to where the command runs.
    const one = workspace(['only.yml']);
    expect(workflowFileOf(undefined, 'submit', tmpdir(), one)).toBe(
      join(relative(tmpdir(), one), '.valkyrie', 'workflows', 'only.yml'),
    );
  });

  it('refuses a bare name both workflow folders have, naming one to type', () => {
    const root = workspace(['ci.yml']);
    mkdirSync(join(root, '.github', 'workflows'), { recursive: true });
    writeFileSync(join(root, '.github', 'workflows', 'ci.yml'), 'jobs: {}\n');
    expect(() => workflowFileOf('ci.yml', 'run', root)).toThrow(
      'ci.yml is in both .valkyrie/workflows/ and .github/workflows/; name one: valkyrie run .valkyrie/workflows/ci.yml',
    );
  });
});
