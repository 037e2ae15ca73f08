import { describe, expect, it } from 'vitest';
import { secretNameProblem } from '../../src/core/secret-names.js';

describe('secretNameProblem: GitHub’s rules for secret names', () => {
  it('takes letters, digits and _, not first a digit, and GITHUB_TOKEN', () => {
    for (const name of ['TOKEN', 'api_key2', '_X', 'GITHUB_TOKEN', 'github_token', 'GITHUBX'])
      expect(secretNameProblem(name), name).toBeUndefined();
  });

  it('refuses any other character, a leading digit, the GITHUB_ prefix (any case) and the empty name', () => {
    expect(secretNameProblem('bad name')).toBe(
      'a secret name holds only letters (A-Z, a-z), digits and _, as on GitHub',
    );
    for (const name of ['a-b', 'a.b', 'ü', 'a=b'])
      expect(secretNameProblem(name), name).toMatch(/only letters/);
    expect(secretNameProblem('1PASSWORD')).toBe('a secret name does not start with a digit, as on GitHub');
    for (const name of ['GITHUB_APP_ID', 'github_x'])
      expect(secretNameProblem(name), name).toMatch(/does not start with GITHUB_/);
    expect(secretNameProblem('')).toBe('a secret name is not empty');
  });
});
