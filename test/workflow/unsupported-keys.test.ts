import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';

const job = (extra: string) => `jobs:
  deploy:
    runs-on: ubuntu-latest
${extra}    steps:
      - run: ./deploy.sh
`;

describe('GitHub keys Valkyrie does not support', () => {
  it('accepts environment: (a name or {name, url}) with one warning saying what does not apply', () => {
    for (const environment of [
      '    environment: production\n',
      '    environment:\n      name: production\n      url: https://example.com\n',
      '    environment:\n      name: production\n      deployment: false\n',
    ]) {
      const { workflow, diagnostics } = parseWorkflow(job(environment), 'ci.yml');
      expect(workflow?.jobs.get('deploy')).toBeDefined();
      expect(diagnostics).toEqual([
        expect.objectContaining({
          severity: 'warning',
          line: 4,
          col: 5,
          message: expect.stringMatching(
            /^"environment" is accepted but has no effect: its protection rules/,
          ),
        }),
      ]);
    }
  });

  it('refuses an environment: of another shape, as the schema does', () => {
    const { workflow, diagnostics } = parseWorkflow(job('    environment: {url: x}\n'), 'ci.yml');
    expect(workflow).toBeUndefined();
    expect(diagnostics.map((d) => d.message)).toEqual([
      'jobs.deploy.environment is missing the required key "name"',
    ]);
  });

  it('says once that a job calling a reusable workflow is not supported, and nothing else about it', () => {
    const source = `jobs:
  call:
    uses: ./.github/workflows/b.yml
    with:
      target: staging
    secrets: inherit
  after:
    needs: [call]
    runs-on: ubuntu-latest
    steps:
      - run: echo done
`;
    const { workflow, diagnostics } = parseWorkflow(source, 'ci.yml');
    expect(workflow).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        line: 3,
        col: 5,
        message:
          'job "call" calls the reusable workflow "./.github/workflows/b.yml": a GitHub feature Valkyrie does not support yet; copy that workflow\u2019s jobs into this one (its with: inputs and secrets: with them)',
      },
    ]);
  });

  it('reports container: and services: as unsupported, next to the schema\u2019s other findings', () => {
    const { diagnostics } = parseWorkflow(
      job('    container: node:20\n    services: {db: {image: postgres}}\n    timeout-minutes: soon\n'),
      'ci.yml',
    );
    expect(diagnostics.map((d) => [d.line, d.message.split(':')[0]])).toEqual([
      [4, '"container" is a GitHub key Valkyrie does not support yet'],
      [5, '"services" is a GitHub key Valkyrie does not support yet'],
      [
        6,
        'jobs.deploy.timeout-minutes must be a number, or an expression ${{ … }} that yields one, received "soon"',
      ],
    ]);
  });

  it('reports snapshot: as unsupported, and accepts cancel-timeout-minutes: with a warning', () => {
    const { workflow, diagnostics } = parseWorkflow(
      job('    snapshot: my-image\n    cancel-timeout-minutes: 2\n'),
      'ci.yml',
    );
    expect(workflow).toBeUndefined();
    expect(diagnostics.map((d) => [d.line, d.severity, d.message.split(':')[0]])).toEqual([
      [4, 'error', '"snapshot" is a GitHub key Valkyrie does not support yet'],
      [5, 'warning', '"cancel-timeout-minutes" is accepted but has no effect yet'],
    ]);
  });
});
