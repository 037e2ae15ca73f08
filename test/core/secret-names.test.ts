import { describe, expect, it } from 'vitest';
import { secretNameProblem, variableNameProblem } from '../../src/core/secret-names.js';

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

describe('variableNameProblem: GitHub’s rules for variable names', () => {
  it('takes what a secret name takes, GITHUB_TOKEN aside', () => {
    for (const name of ['REGION', 'api_url2', '_X', 'GITHUBX'])
      expect(variableNameProblem(name), name).toBeUndefined();
    expect(variableNameProblem('GITHUB_TOKEN')).toBe(
      "a variable name does not start with GITHUB_, GitHub's own prefix",
    );
  });

  it('refuses what a secret name refuses, naming a variable', () => {
    expect(variableNameProblem('my-var')).toBe(
      'a variable name holds only letters (A-Z, a-z), digits and _, as on GitHub',
    );
    expect(variableNameProblem('1X')).toBe('a variable name does not start with a digit, as on GitHub');
    expect(variableNameProblem('')).toBe('a variable name is not empty');
  });
});
