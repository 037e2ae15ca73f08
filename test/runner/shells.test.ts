import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shellCommand, shellScript } from '../../src/runner/shells.js';
import { runFirstJob } from './job-run-harness.js';

describe('shellCommand', () => {
  it('runs scripts as GitHub does on Linux', () => {
    expect(shellCommand(undefined, '/t/s.sh')).toEqual({
      command: 'bash',
      args: ['-e', '/t/s.sh'],
      extension: '.sh',
    });
    expect(shellCommand('bash', '/t/s.sh').args).toEqual([
      '--noprofile',
      '--norc',
      '-eo',
      'pipefail',
      '/t/s.sh',
    ]);
    expect(shellCommand('sh', '/t/s.sh')).toMatchObject({ command: 'sh', args: ['-e', '/t/s.sh'] });
    expect(shellCommand('python', '/t/s.py')).toMatchObject({
      command: 'python3',
      args: ['/t/s.py'],
      extension: '.py',
    });
    expect(shellCommand('perl -w {0}', '/t/s')).toMatchObject({ command: 'perl', args: ['-w', '/t/s'] });
  });

  it("runs GitHub's PowerShell and cmd shells as actions/runner does", () => {
    expect(shellCommand('pwsh', '/t/s.ps1')).toEqual({
      command: 'pwsh',
      args: ['-command', ". '/t/s.ps1'"],
      extension: '.ps1',
    });
    expect(shellCommand('powershell', '/t/s.ps1')).toMatchObject({
      command: 'powershell',
      extension: '.ps1',
    });
    expect(shellCommand('cmd', '/t/s.cmd')).toEqual({
      command: 'cmd',
      args: ['/D', '/E:ON', '/V:OFF', '/S', '/C', 'CALL /t/s.cmd'],
      extension: '.cmd',
    });
    // A custom shell's script takes the extension of its command's namesake: pwsh -File needs .ps1.
    expect(shellCommand('pwsh -File {0}', '/t/s.ps1')).toMatchObject({
      args: ['-File', '/t/s.ps1'],
      extension: '.ps1',
    });
    expect(shellCommand('python -u {0}', '/t/s.py').extension).toBe('.py');
  });

  it('fixes up a PowerShell or cmd script as GitHub does, and leaves the others as written', () => {
    expect(shellScript('pwsh', 'Write-Output hi')).toBe(
      "$ErrorActionPreference = 'stop'\nWrite-Output hi\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }",
    );
    expect(shellScript('powershell -File {0}', 'x')).toMatch(/^\$ErrorActionPreference = 'stop'\nx\n/);
    expect(shellScript('cmd', 'echo hi')).toBe('@echo off\necho hi');
    expect(shellScript('bash', 'echo hi')).toBe('echo hi');
    expect(shellScript(undefined, 'echo hi')).toBe('echo hi');
  });

  it('splits a custom shell with its quotes, then puts the script path in each word', () => {
    expect(shellCommand('script -q -e -c "bash {0}"', '/t/a b/s')).toEqual({
      command: 'script',
      args: ['-q', '-e', '-c', 'bash /t/a b/s'],
      extension: '',
    });
    expect(shellCommand("sh -c 'cat {0} | wc -l'", '/t/s').args).toEqual(['-c', 'cat /t/s | wc -l']);
    expect(shellCommand('bash {0} arg1', '/t/a b/s').args).toEqual(['/t/a b/s', 'arg1']);
  });

  it('refuses a custom shell whose quote is never closed, naming it', () => {
    expect(() => shellCommand('sh -c "cat {0} | wc -l', '/t/s')).toThrow(
      'the double quote (") at character 7 is never closed in shell: sh -c "cat {0} | wc -l',
    );
  });
});

describe('a step without a shell where bash is not installed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-no-bash-'));
  symlinkSync('/bin/sh', join(dir, 'sh'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs with sh -e, as actions/runner falls back to sh; with bash on the PATH, bash -e', () => {
    expect(shellCommand(undefined, '/t/s.sh', `/nowhere:${dir}`)).toEqual({
      command: 'sh',
      args: ['-e', '/t/s.sh'],
      extension: '.sh',
    });
    expect(shellCommand(undefined, '/t/s.sh', process.env.PATH)).toMatchObject({ command: 'bash' });
    // A shell named is run as named, found or not.
    expect(shellCommand('bash', '/t/s.sh', dir)).toMatchObject({ command: 'bash' });
  });

  it('is what a step with that PATH runs', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - env:
          PATH: ${dir}
        run: echo "bash=[\${BASH_VERSION:-}]"
`,
      dir,
    );
    expect(run.lines(0)).toEqual(['bash=[]']);
    expect(run.outcome).toEqual({ kind: 'succeeded' });
  });
});
