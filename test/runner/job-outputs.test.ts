import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-job-outputs-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe("a job's outputs", () => {
  it("leave out one that holds a secret or an ::add-mask:: value, with GitHub's warning", async () => {
    const run = await runFirstJob(
      `jobs:
  p:
    runs-on: x
    outputs:
      url: \${{ steps.a.outputs.url }}
      masked: \${{ steps.a.outputs.masked }}
      plain: \${{ steps.a.outputs.plain }}
    steps:
      - id: a
        run: |
          echo "::add-mask::hidden-value"
          echo "url=https://user:\${{ secrets.PW }}@host/x" >> "$GITHUB_OUTPUT"
          echo "masked=a hidden-value" >> "$GITHUB_OUTPUT"
          echo "plain=https://host/x" >> "$GITHUB_OUTPUT"
`,
      workspace,
      { secrets: { PW: 'pa55w0rd' } },
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.outputs).toEqual({ plain: 'https://host/x' });
    expect(run.lines(-1)).toEqual([
      "warning: Skip output 'url' since it may contain secret.",
      "warning: Skip output 'masked' since it may contain secret.",
    ]);
  });

  it("of a retried step are its final attempt's: a failed attempt's outputs, env and path are dropped", async () => {
    const run = await runFirstJob(
      `jobs:
  p:
    runs-on: x
    outputs:
      early: \${{ steps.t.outputs.early }}
      late: \${{ steps.t.outputs.late }}
    steps:
      - id: t
        retry: { max-attempts: 2, delay: 1ms }
        run: |
          echo "seen=[\${LEAK:-}]"
          if [ ! -f first-done ]; then
            touch first-done
            echo "early=from-the-failed-attempt" >> "$GITHUB_OUTPUT"
            echo "LEAK=1" >> "$GITHUB_ENV"
            echo "/leaked/dir" >> "$GITHUB_PATH"
            exit 1
          fi
          echo "late=ok" >> "$GITHUB_OUTPUT"
      - run: echo "early=[\${{ steps.t.outputs.early }}] late=[\${{ steps.t.outputs.late }}] leak=[\${LEAK:-}] path=[$PATH]"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.outputs).toEqual({ early: '', late: 'ok' });
    expect(run.lines(0).filter((line) => line.startsWith('seen='))).toEqual(['seen=[]', 'seen=[]']);
    const [after] = run.lines(1);
    expect(after).toMatch(/^early=\[\] late=\[ok\] leak=\[\] path=\[/);
    expect(after).not.toContain('/leaked/dir');
  });
});
