import { describe, expect, it } from 'vitest';
import { shellCommand } from '../../src/runner/shells.js';

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
});
