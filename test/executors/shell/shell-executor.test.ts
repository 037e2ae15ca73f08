import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../../src/core/errors.js';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { maxLineLength } from '../../../src/executors/shell/line-splitter.js';
import { bashStep, launchers, pathOnly, runCollecting, testKillPolicy, textOf } from './helpers.js';

describe.each(launchers)('ShellExecutor (%s): processes and output', (launcher) => {
  const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
  let workdir = '';

  beforeAll(async () => {
    workdir = await realpath(await mkdtemp(join(tmpdir(), 'valkyrie-shell-')));
    await executor.prepare();
  });

  afterAll(async () => {
    await executor.cleanup();
    await rm(workdir, { recursive: true, force: true });
  });

  it('reports exit code 0 and the lines printed', async () => {
    const { outcome, lines } = await runCollecting(executor, bashStep('echo hello; echo world'));
    expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
    expect(textOf(lines, 'stdout')).toEqual(['hello', 'world']);
  });

  it('reports a non-zero exit code', async () => {
    const { outcome } = await runCollecting(executor, bashStep('exit 3'));
    expect(outcome).toEqual({ kind: 'exited', exitCode: 3 });
  });

  it('reports 128 + the signal number for a process killed by a signal it got from elsewhere', async () => {
    const { outcome } = await runCollecting(executor, bashStep('kill -TERM $$'));
    expect(outcome).toEqual({ kind: 'exited', exitCode: 143 });
  });

  it('keeps each stream in order and stamps every line with the time it was read', async () => {
    const before = Date.now();
    const { lines } = await runCollecting(
      executor,
      bashStep('for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf "a\\r\\nno newline"'),
    );
    const after = Date.now();
    expect(textOf(lines, 'stdout')).toEqual(['out1', 'out2', 'out3', 'a', 'no newline']);
    expect(textOf(lines, 'stderr')).toEqual(['err1', 'err2', 'err3']);
    for (const stream of ['stdout', 'stderr'] as const) {
      const stamps = lines.filter((line) => line.stream === stream).map((line) => line.at);
      expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    }
    expect(lines.every((line) => line.at >= before && line.at <= after)).toBe(true);
  });

  it('decodes multi-byte UTF-8 split across pipe reads and cuts over-long lines', async () => {
    const unit = '😀é中';
    const { outcome, lines } = await runCollecting(
      executor,
      // One 900 KB line of 9-byte units: pipe reads end mid-character many times over.
      bashStep(
        `printf '${unit}%.0s' $(seq 1 100000); printf '\\n'; for i in $(seq 1 200); do echo "$i ${unit}"; done`,
      ),
    );
    expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
    const stdout = textOf(lines, 'stdout');
    const longPieces = stdout.slice(0, -200);
    expect(longPieces.length).toBeGreaterThan(1);
    expect(longPieces.every((piece) => piece.length <= maxLineLength)).toBe(true);
    expect(longPieces.join('')).toBe(unit.repeat(100_000));
    expect(stdout.slice(-200)).toEqual(Array.from({ length: 200 }, (_, i) => `${i + 1} ${unit}`));
    expect(stdout.some((line) => line.includes('\uFFFD'))).toBe(false);
  });

  it('gives the process exactly the environment of the step, nothing inherited', async () => {
    process.env.VALKYRIE_SHELL_TEST_LEAK = 'should not be seen';
    try {
      const { outcome, lines } = await runCollecting(executor, {
        command: 'env',
        args: [],
        cwd: workdir,
        env: { ...pathOnly, GREETING: 'hi there' },
        timeoutMs: 0,
      });
      expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
      expect(textOf(lines, 'stdout').sort()).toEqual([`PATH=${pathOnly.PATH}`, 'GREETING=hi there'].sort());
    } finally {
      delete process.env.VALKYRIE_SHELL_TEST_LEAK;
    }
  });

  it('runs in the working directory of the step', async () => {
    const { lines } = await runCollecting(executor, bashStep('pwd', { cwd: workdir }));
    expect(textOf(lines, 'stdout')).toEqual([workdir]);
  });

  it('resolves failed_to_start naming a command that does not exist', async () => {
    const { outcome } = await runCollecting(executor, {
      ...bashStep(''),
      command: 'valkyrie-no-such-command',
      args: [],
    });
    expect(outcome.kind).toBe('failed_to_start');
    expect(outcome.kind === 'failed_to_start' && outcome.message).toContain('valkyrie-no-such-command');
  });

  // A workflow can make one (fromJSON('"\u0000"')); the value may be a secret's, so it is never shown.
  it('resolves failed_to_start naming a variable whose value holds a NUL byte, not the value', async () => {
    const { outcome } = await runCollecting(
      executor,
      bashStep('true', { env: { ...pathOnly, TOKEN: 'hunter2\0tail' } }),
    );
    expect(outcome.kind).toBe('failed_to_start');
    const message = outcome.kind === 'failed_to_start' ? outcome.message : '';
    expect(message).toContain('"TOKEN" holds a NUL byte');
    expect(message).not.toContain('hunter2');
  });

  it('resolves failed_to_start naming a working directory that does not exist', async () => {
    const missing = join(workdir, 'missing', 'dir');
    const { outcome } = await runCollecting(executor, bashStep('true', { cwd: missing }));
    expect(outcome.kind).toBe('failed_to_start');
    expect(outcome.kind === 'failed_to_start' && outcome.message).toContain(missing);
  });

  it('does not start a step whose signal is already aborted', async () => {
    const marker = join(workdir, 'should-not-exist');
    const controller = new AbortController();
    controller.abort('stopped before start');
    const { outcome } = await runCollecting(executor, bashStep(`touch ${marker}`), {
      signal: controller.signal,
    });
    expect(outcome).toEqual({ kind: 'cancelled', reason: 'stopped before start' });
    await expect(realpath(marker)).rejects.toThrow();
  });

  it('runs steps one after another quickly', async () => {
    const started = Date.now();
    for (let i = 0; i < 20; i += 1) {
      const { outcome } = await runCollecting(executor, bashStep(`exit ${i % 2}`));
      expect(outcome).toEqual({ kind: 'exited', exitCode: i % 2 });
    }
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe.each(launchers)('ShellExecutor (%s): lifecycle', (launcher) => {
  const executors: ShellExecutor[] = [];
  const make = (): ShellExecutor => {
    const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
    executors.push(executor);
    return executor;
  };

  afterEach(async () => {
    await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
  });

  it('cleans up without prepare(), and a second cleanup() is a no-op', async () => {
    const executor = make();
    const first = executor.cleanup();
    expect(executor.cleanup()).toBe(first);
    await first;
    await executor.cleanup();
  });

  it('runs a step without prepare() and refuses to start one after cleanup()', async () => {
    const executor = make();
    expect((await runCollecting(executor, bashStep('true'))).outcome).toEqual({
      kind: 'exited',
      exitCode: 0,
    });
    await executor.cleanup();
    const { outcome } = await runCollecting(executor, bashStep('true'));
    expect(outcome.kind).toBe('failed_to_start');
    const late = await executor.prepare().catch((error: unknown) => error);
    expect(isValkyrieError(late) && late.code).toBe('VK_EXECUTOR');
  });

  it('works with await using', async () => {
    let outcomeKind = '';
    {
      await using executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
      outcomeKind = (await runCollecting(executor, bashStep('true'))).outcome.kind;
    }
    expect(outcomeKind).toBe('exited');
  });
});
