import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

// What a user who knows `act` types first, and what Valkyrie answers.
describe('the habits of an act user', () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = new Workspace();
    ws.write(
      '.github/workflows/ci.yml',
      'name: ci\non: [push, workflow_dispatch]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo hi }]\n',
    );
  });
  afterAll(() => ws.dispose());

  it('validate without a file checks the workflow run would run', async () => {
    const result = await ws.run(['validate']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')[0]).toBe('.github/workflows/ci.yml: workflow "ci" is valid, 1 job');
  });

  it('says how to start a run as an event given as act takes it (act push)', async () => {
    const result = await ws.run(['run', 'push']);
    expect([result.code, result.stdout]).toEqual([2, '']);
    expect(result.stderr).toBe(
      'valkyrie: cannot read workflow push: no such file here, nor in .valkyrie/workflows/ or .github/workflows/; ' +
        'to start the run as the push event, as `act push` does: valkyrie run [FILE] --event push\n',
    );
  });
});

describe('a required input left out', () => {
  it('is refused by submit, before any server is asked, with the flag that gives it', async () => {
    const ws = new Workspace();
    try {
      ws.write(
        'call.yml',
        'on:\n  workflow_call:\n    inputs:\n      x: { type: number, required: true }\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo hi }]\n',
      );
      const result = await ws.run(['submit', 'call.yml', '--server', 'http://127.0.0.1:2', '--token', 't']);
      expect([result.code, result.stdout, result.stderr]).toEqual([
        2,
        '',
        'valkyrie: input "x" is required: give it with --input x=VALUE\n',
      ]);
    } finally {
      ws.dispose();
    }
  });
});

describe('a runs-on label this machine lacks', () => {
  it('says how to give the machine the label, as act says -P, unless it names another OS', async () => {
    const ws = new Workspace();
    try {
      ws.write(
        'gpu.yml',
        'jobs:\n  train:\n    runs-on: [self-hosted, gpu, cuda]\n    steps: [{ run: echo hi }]\n  win:\n    runs-on: windows-latest\n    steps: [{ run: echo hi }]\n',
      );
      const result = await ws.run(['validate', 'gpu.yml']);
      expect([result.code, result.stdout]).toEqual([2, '']);
      // What this machine has depends on its OS and architecture.
      const errors = result.stderr
        .split('\n')
        .filter((line) => line.includes(': error: '))
        .map((line) => line.replace(/\(it has: [^)]*\)/, '(it has: …)'));
      expect(errors).toEqual([
        'gpu.yml:3:14: error: job "train" runs on "gpu", "cuda", which this runner does not have (it has: …); if this machine can run the job, give it the labels: --label gpu,cuda',
        'gpu.yml:6:14: error: job "win" runs on "windows-latest", which this runner does not have (it has: …)',
      ]);
      const given = await ws.run(['validate', 'gpu.yml', '--label', 'gpu,cuda']);
      expect(given.stderr).not.toContain('job "train"');
    } finally {
      ws.dispose();
    }
  });
});

describe('a reusable workflow written as a step', () => {
  it('is refused at its uses:, saying where GitHub calls one, as GitHub refuses it', async () => {
    const ws = new Workspace();
    try {
      ws.write(
        '.github/workflows/reuse.yml',
        'on: workflow_call\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo hi }]\n',
      );
      ws.write(
        'caller.yml',
        'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/workflows/reuse.yml\n      - uses: acme/ci/.github/workflows/build.yaml@v1\n',
      );
      const result = await ws.run(['validate', 'caller.yml']);
      expect([result.code, result.stdout]).toEqual([2, '']);
      const reason =
        'reusable workflows are called by a job’s uses: (jobs.<job_id>.uses), not within steps, as on GitHub; and Valkyrie does not support calling one yet: copy its jobs into this workflow';
      expect(result.stderr.split('\n').filter((line) => line.includes(': error: '))).toEqual([
        `caller.yml:5:15: error: step uses the reusable workflow "./.github/workflows/reuse.yml": ${reason}`,
        `caller.yml:6:15: error: step uses the reusable workflow "acme/ci/.github/workflows/build.yaml@v1": ${reason}`,
      ]);
    } finally {
      ws.dispose();
    }
  });
});

describe('a .secrets file, which act reads by default', () => {
  it('is not read unless named, and a run of a workflow reading secrets says how to name it', async () => {
    const ws = new Workspace();
    try {
      ws.write('.secrets', 'TOKEN=s3cr3t\n');
      ws.write(
        'uses.yml',
        'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: \'echo "[${{ secrets.TOKEN }}]"\' }]\n',
      );
      ws.write('plain.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo hi }]\n');
      const note =
        'valkyrie: note: .secrets is not read unless named (act reads it by default): valkyrie run --secrets-file .secrets\n';
      const unnamed = await ws.run(['run', 'uses.yml']);
      expect([unnamed.code, unnamed.stderr]).toEqual([0, note]);
      expect(unnamed.stdout).toContain('[a] []');
      const named = await ws.run(['run', 'uses.yml', '--secrets-file', '.secrets']);
      expect([named.code, named.stderr]).toEqual([0, '']);
      expect(named.stdout).toContain('[a] [***]');
      const noSecrets = await ws.run(['run', 'plain.yml']);
      expect([noSecrets.code, noSecrets.stderr]).toEqual([0, '']);
    } finally {
      ws.dispose();
    }
  });
});
