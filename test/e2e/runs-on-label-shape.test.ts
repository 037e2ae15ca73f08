import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/**
 * `runs-on` labels no runner can have (`valkyrie runner --labels` refuses a space, a comma or a control
 * character), and labels that differ only in case, through the built CLI.
 */
describe('runs-on: label shape and case', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const job = (runsOn: string) => `jobs:\n  a:\n    runs-on: ${runsOn}\n    steps: [{ run: echo hi }]\n`;

  it('refuses a literal label with a comma or a space at the label, with the list it was meant as', async () => {
    const comma = await ws.run(['validate', ws.write('comma.yml', job('"self-hosted, linux"'))]);
    expect(comma).toMatchObject({ code: 2, stdout: '' });
    expect(comma.stderr).toContain(
      'comma.yml:3:14: error: job "a": runs-on label "self-hosted, linux" has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them), so no runner could take the job; for several labels, list them: runs-on: [self-hosted, linux]',
    );
    // Leading and trailing spaces are refused too, as --labels refuses them rather than trimming.
    const spaced = await ws.run(['validate', ws.write('spaced.yml', job('[self-hosted, " gpu "]'))]);
    expect(spaced).toMatchObject({ code: 2, stdout: '' });
    expect(spaced.stderr).toContain(
      'spaced.yml:3:28: error: job "a": runs-on label " gpu " has a space, comma or control character, which no runner label has (valkyrie runner --labels refuses them), so no runner could take the job; write it as runs-on: [self-hosted, gpu]',
    );
    // Said once: not also as a label this machine lacks.
    expect(spaced.stderr).not.toContain('which this runner does not have');
    const labels = await ws.run(['validate', ws.write('labels.yml', job('{ labels: [local, "a,b"] }'))]);
    expect(labels.stderr).toContain('labels.yml:3:32: error: job "a": runs-on label "a,b"');
    expect(labels.stderr).toContain('list them: labels: [local, a, b]');
    expect(await ws.run(['validate', ws.write('fine.yml', job('[self-hosted, local]'))])).toMatchObject({
      code: 0,
      stderr: '',
    });
  });

  it("refuses such a label in run's and validate's --label as a usage error naming the flag", async () => {
    const file = ws.write('plain.yml', job('local'));
    for (const [label, shown] of [
      ['a b', '"a b"'],
      ['gpu, linux', '" linux"'],
      ['x\ty', '"x\\ty"'],
    ] as const)
      for (const verb of ['validate', 'run']) {
        const refused = await ws.run([verb, file, '--label', label]);
        expect(refused).toMatchObject({ code: 2, stdout: '' });
        expect(refused.stderr).toContain(
          `--label: a runner label has no spaces, commas or control characters (as valkyrie runner --labels refuses them), received ${shown}`,
        );
      }
    expect(await ws.run(['validate', file, '--label', 'gpu,linux', '--label', 'big'])).toMatchObject({
      code: 0,
      stderr: '',
    });
  });

  it('fails the job, naming the label, when an expression gives such a label', async () => {
    const file = ws.write(
      'input.yml',
      `on:\n  workflow_dispatch:\n    inputs:\n      where: { type: string, default: "self-hosted, local" }\n${job('${{ inputs.where }}')}`,
    );
    expect(await ws.run(['validate', file])).toMatchObject({ code: 0 });
    const run = await ws.run(['run', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'input.yml:7:14: job "a": runs-on: runner label "self-hosted, local" has a space, comma or control character',
    );
    expect(run.stdout).not.toContain('hi\n');
  });

  it('lists a label this machine lacks once ignoring case, first spelling kept', async () => {
    const result = await ws.run(['validate', ws.write('case.yml', job('[gpu, self-hosted, GPU, Gpu]'))]);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain(
      'case.yml:3:14: error: job "a" runs on "gpu", which this runner does not have',
    );
  });
});
