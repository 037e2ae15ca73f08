import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Workspace } from './cli.js';

/**
 * The stdout lines of `valkyrie runner ARGS --work-dir WORKDIR --idle-timeout 2s`, for a server it
 * cannot use: it retries, tells each round, and stops itself once idle for 2 s, exit 0. Each line
 * begins `valkyrie runner: `; there are at least two (a round, and `stopped`).
 */
export async function runnerRetryLines(
  ws: Workspace,
  args: readonly string[],
  workDir: string,
  env: Record<string, string> = {},
): Promise<string[]> {
  const result = await ws.run(['runner', ...args, '--work-dir', workDir, '--idle-timeout', '2s'], env);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines) expect(line).toMatch(/^valkyrie runner: /);
  return lines;
}

/**
 * Makes `workDir` with a runner.json for `server`, as if the runner had registered there before: it
 * goes straight to connecting with this credential (never accepted: the tests stop before).
 */
export function storedCredentialDir(workDir: string, server: string): string {
  mkdirSync(workDir, { recursive: true });
  const credentials = { server, runnerId: '0123456789ab', credential: 'rnr-unused' };
  writeFileSync(join(workDir, 'runner.json'), JSON.stringify(credentials), { mode: 0o600 });
  return workDir;
}
