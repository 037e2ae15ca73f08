import { describe, expect, it } from 'vitest';
import { lexYaml, maxFlowErrorEnds } from '../../src/workflow/nesting.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { maxYamlDiagnostics } from '../../src/workflow/yaml-diagnostics.js';

/** 1 MiB of flow sequences whose lines are indented too little: each one ends the lexer's flow. */
const badlyIndentedFlows = `a:\n${'  [\n['.repeat((1024 * 1024) / 5)}`;

describe('a file of many YAML errors', () => {
  it('is lexed only up to the flow collection past the limit that ends without its bracket', () => {
    const lexed = lexYaml(badlyIndentedFlows);
    if (!('tokens' in lexed)) throw new Error('expected tokens');
    // Five tokens a line, nothing after the stop: the parser sees a few hundred tokens, not a million.
    expect(lexed.tokens.length).toBeLessThan(6 * (maxFlowErrorEnds + 2));
    // At the start of line 53: `a:`, then a `  [` line whose flow the next line ends, 51 times.
    expect(lexed.stoppedAt).toBe('a:\n'.length + 5 * (maxFlowErrorEnds + 1) - 1);
  });

  it('gets at most the first errors, and a diagnostic where the reading stopped', () => {
    const { diagnostics, workflow } = parseWorkflow(badlyIndentedFlows, 'hostile.yml');
    expect(workflow).toBeUndefined();
    expect(diagnostics.length).toBeLessThanOrEqual(maxYamlDiagnostics + 2);
    expect(diagnostics[0]).toMatchObject({ severity: 'error', line: 3, col: 1 });
    expect(diagnostics.at(-1)).toEqual({
      severity: 'error',
      message: `YAML: the reading stopped here, after ${maxFlowErrorEnds} flow collections ([…] or {…}) that end without their bracket on a line indented too little; fix those first`,
      line: maxFlowErrorEnds + 3,
      col: 1,
    });
  });

  it('reports the first errors and counts the rest in one more diagnostic at the first not shown', () => {
    const { diagnostics } = parseWorkflow(`a: 1\n${']\n'.repeat(200)}`, 'closers.yml');
    expect(diagnostics).toHaveLength(maxYamlDiagnostics + 1);
    expect(diagnostics[0]).toMatchObject({ message: expect.stringMatching(/^YAML: Unexpected/), line: 2 });
    expect(diagnostics.at(-1)).toEqual({
      severity: 'error',
      message: 'YAML: 150 more errors from here on, not shown; fix the ones above first',
      line: maxYamlDiagnostics + 2,
      col: 1,
    });
  });

  it('reports an error the library repeats at the same place once (two flow mappings left open)', () => {
    const { diagnostics } = parseWorkflow(
      'jobs: {a: {runs-on: self-hosted, steps: [{run: echo hi}]\n',
      'f.yml',
    );
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        message: 'YAML: Flow map in block collection must be sufficiently indented and end with a }',
        line: 2,
        col: 1,
      },
    ]);
  });

  it('is not parsed a second time for repeated keys: they are reported once the other errors are fixed', () => {
    const broken = parseWorkflow('jobs: 1\njobs: 2\nb: ]\n', 'broken.yml').diagnostics;
    expect(broken.map((d) => d.message)).not.toContainEqual(expect.stringMatching(/duplicate key/));
    expect(broken.length).toBeGreaterThan(0);
    const fixed = parseWorkflow('jobs: 1\njobs: 2\nb: 1\n', 'fixed.yml').diagnostics;
    expect(fixed[0]).toMatchObject({
      message: 'YAML: duplicate key "jobs" (first defined on line 1)',
      line: 2,
    });
  });
});

describe('a file of many unknown keys', () => {
  it('places each diagnostic without searching every key of its map (60,000 keys took 20 s, now well under 1)', () => {
    const keys = Array.from({ length: 60_000 }, (_, i) => `k${i}: v\n`).join('');
    const started = process.cpuUsage();
    const { diagnostics } = parseWorkflow(`jobs: {}\n${keys}`, 'keys.yml');
    // CPU time, not wall time, which other processes stretch (6.3 s once in a loaded CI run): the
    // search took ~20 s here, the index ~0.5 s.
    const { user, system } = process.cpuUsage(started);
    expect((user + system) / 1_000).toBeLessThan(6_000);
    expect(diagnostics).toHaveLength(60_001);
    expect(diagnostics[59_999]).toEqual({
      severity: 'error',
      message: 'unknown key "k59999"',
      line: 60_001,
      col: 1,
    });
  });

  it('refuses a second YAML document in words about the file, at its start', () => {
    const { diagnostics, workflow } = parseWorkflow(
      'jobs:\n  a: { runs-on: x, steps: [{ run: "true" }] }\n---\non: push\n',
      'two.yml',
    );
    expect(workflow).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        severity: 'error',
        message: 'YAML: a workflow file holds one YAML document; a second one starts here',
        line: 3,
        col: 1,
      },
    ]);
  });
});
