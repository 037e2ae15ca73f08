import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-step-names-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe("a step's name", () => {
  it('is the first line of what its expressions evaluate to, as on GitHub', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: echo '\${{ toJSON(fromJSON('{"a":1}')) }}' > /dev/null
      - name: \${{ format('{0}two', fromJSON('"one\\n"')) }}
        run: "true"
      - name: deploy \${{ 'prod' }}
        run: "true"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.started).toEqual(["Run echo '{", 'one', 'deploy prod']);
    expect(run.steps.map((step) => step.name)).toEqual(run.started);
  });
});
