import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Fleet, registrationRoute, startFleet, until } from '../runner/fleet-harness.js';
import { collect, Workspace } from './cli.js';
import { isAlive, killGroup } from './process-state.js';

/**
 * `valkyrie runner` detects its capabilities again every VALKYRIE_CAPABILITY_REFRESH (5 minutes by
 * default). A refresh still probing when the runner stops must not outlive it: each probe is a process
 * group of its own, which only the runner kills (at its timeout, or when the runner stops).
 */
describe('valkyrie runner capability refresh', () => {
  const ws = new Workspace();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function fleet(): Promise<Fleet> {
    const started = await startFleet({ leaseTtlMs: 5_000 }, registrationRoute);
    cleanups.push(() => started.close());
    return started;
  }

  it("kills a hung tool's probe of a refresh when the runner stops", async () => {
    const f = await fleet();
    const bin = join(ws.dir, 'bin');
    const hang = join(ws.dir, 'hang');
    const pids = join(ws.dir, 'hung.pids');
    mkdirSync(bin, { recursive: true });
    // A `git` that answers the first detection, then hangs in a child of its own, as a wrapper whose
    // tool waits on a network drive does.
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\nif [ -f ${hang} ]; then sleep 60 & echo $! >> ${pids}; wait; fi\necho "git version 2.0.0"\n`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    const hungPids = () =>
      existsSync(pids) ? readFileSync(pids, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
    cleanups.push(() => {
      for (const pid of hungPids()) killGroup(pid);
    });
    let stdout = '';
    const child = ws.start(
      ['runner', '--server', f.url, '--token', 'reg-ok', '--work-dir', join(ws.dir, 'work')],
      { PATH: `${bin}:${process.env.PATH ?? ''}`, VALKYRIE_CAPABILITY_REFRESH: '300ms' },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const done = collect(child);
    await until(() => stdout.includes('connected to'), 'the runner to connect');
    expect(f.plane.runners()[0]?.capabilities?.tools.git).toBe('2.0.0');
    writeFileSync(hang, '');
    await until(() => hungPids().length > 0, 'a refresh to probe the hung git');
    // Well within the probe's 3 s timeout: only the stop can end it.
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    const left = hungPids().filter((pid) => isAlive(pid));
    expect(left, 'hung probes left running after the runner exited').toEqual([]);
  });

  it('warns once that Docker is left out for TLS files DOCKER_CERT_PATH lacks, again only when that changes', async () => {
    const f = await fleet();
    const certs = join(ws.dir, 'docker-certs');
    mkdirSync(certs, { recursive: true });
    // No daemon listens there: the ping fails, as it does against a daemon that wants the missing files.
    const endpoint = 'tcp://127.0.0.1:1';
    const child = ws.start(
      ['runner', '--server', f.url, '--token', 'reg-ok', '--work-dir', join(ws.dir, 'docker-tls')],
      {
        ...{ DOCKER_HOST: endpoint, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs },
        VALKYRIE_CAPABILITY_REFRESH: '100ms',
        // No tools to probe: quick detections.
        PATH: join(ws.dir, 'no-tools'),
      },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const done = collect(child);
    /** Resolves once the control plane has `count` more detections of the runner than now. */
    const detections = async (count: number) => {
      const seen = new Set<number>();
      await until(() => {
        const at = f.plane.runners()[0]?.capabilities?.detectedAt;
        if (at !== undefined) seen.add(at);
        return seen.size > count;
      }, `${count} more capability detections`);
    };
    await detections(2);
    const lead = `Docker is left out of the capabilities: ${endpoint} gave no answer over TLS (DOCKER_TLS_VERIFY is set)`;
    const warnings = () => stderr.split('\n').filter((line) => line.includes('Docker is left out'));
    expect(warnings()).toEqual([
      `valkyrie runner: ${lead}, and DOCKER_CERT_PATH (${certs}) has no ca.pem, cert.pem or key.pem`,
    ]);
    expect(f.plane.runners()[0]?.capabilities?.docker).toBeUndefined();
    writeFileSync(join(certs, 'ca.pem'), 'not a certificate\n');
    await detections(2);
    expect(warnings()).toEqual([
      `valkyrie runner: ${lead}, and DOCKER_CERT_PATH (${certs}) has no ca.pem, cert.pem or key.pem`,
      `valkyrie runner: ${lead}, and DOCKER_CERT_PATH (${certs}) has no cert.pem or key.pem`,
    ]);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});
