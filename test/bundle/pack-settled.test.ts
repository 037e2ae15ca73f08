import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packSettledWorkspace } from '../../src/bundle/pack-settled.js';
import { ValkyrieError } from '../../src/core/errors.js';

const scratch: string[] = [];
const writers: ChildProcess[] = [];
afterEach(() => {
  for (const writer of writers.splice(0)) writer.kill('SIGKILL');
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A workspace with one file that a child process appends to until it is killed. */
async function workspaceBeingWritten(): Promise<{ dir: string; writer: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-pack-settled-'));
  scratch.push(dir);
  writeFileSync(join(dir, 'README.md'), 'steady\n');
  // Large enough that reading and compressing it takes milliseconds: on a loaded machine the writer
  // may be off the CPU for a while, and a pack that starts and ends between its writes sees no change.
  // 16 MiB since bundles are gzipped at level 1, which packs 4 MiB of it about 3.5 times as fast as 6.
  const initialBytes = 16 * 1024 * 1024;
  writeFileSync(join(dir, 'build.log'), Buffer.alloc(initialBytes, 'x'));
  const writer = spawn('sh', ['-c', 'while :; do echo line; done >> build.log'], {
    cwd: dir,
    stdio: 'ignore',
  });
  writers.push(writer);
  // Packing must start while the file is growing, not before the first write.
  while (statSync(join(dir, 'build.log')).size === initialBytes)
    await new Promise((resolve) => setTimeout(resolve, 5));
  return { dir, writer };
}

describe('packSettledWorkspace', () => {
  it('packs again once a file that changed while it was read has settled', async () => {
    const { dir, writer } = await workspaceBeingWritten();
    const retries: string[] = [];
    const bundle = await packSettledWorkspace(dir, {
      backoffMs: 1,
      onRetry: async (change) => {
        retries.push(change.message);
        writer.kill('SIGKILL');
        await once(writer, 'exit');
      },
    });
    try {
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatch(/cannot bundle build\.log: /);
      expect(bundle.fileCount).toBe(2);
    } finally {
      await bundle.dispose();
    }
  });

  it('gives up with VK_BUNDLE_CHANGED, naming the file, after its attempts', async () => {
    const { dir } = await workspaceBeingWritten();
    let retries = 0;
    const error = await packSettledWorkspace(dir, {
      attempts: 3,
      backoffMs: 1,
      onRetry: () => void retries++,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValkyrieError);
    expect((error as ValkyrieError).code).toBe('VK_BUNDLE_CHANGED');
    expect((error as ValkyrieError).message).toMatch(/build\.log/);
    expect(retries).toBe(2);
  });

  it('does not retry other errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-pack-settled-'));
    scratch.push(dir);
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(10_000));
    let retries = 0;
    const error = await packSettledWorkspace(dir, { maxBytes: 1_000, onRetry: () => void retries++ }).catch(
      (e: unknown) => e,
    );
    expect((error as ValkyrieError).code).toBe('VK_BUNDLE_TOO_LARGE');
    expect(retries).toBe(0);
  });
});
