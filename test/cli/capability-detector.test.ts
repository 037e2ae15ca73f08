import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CapabilityDetector } from '../../src/cli/capability-detector.js';

describe('CapabilityDetector', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives nothing to send from a detection that ends after a later one: what it found is no longer so', async () => {
    dir = mkdtempSync(join(tmpdir(), 'valkyrie-detector-'));
    // The first probe answers 1.0 once released; every later one answers 2.0 at once.
    const script = `if mkdir "${dir}/first" 2>/dev/null; then
  while [ ! -e "${dir}/release" ]; do sleep 0.01; done; echo 1.0
else echo 2.0; fi`;
    const detector = new CapabilityDetector(
      {
        workDir: dir,
        env: { PATH: process.env.PATH ?? '', DOCKER_HOST: 'tcp://127.0.0.1:1' },
        timeoutMs: 20_000,
        tools: [{ name: 'tool', command: 'sh', args: ['-c', script] }],
      },
      () => {},
    );
    const earlier = detector.detect();
    while (!existsSync(join(dir, 'first'))) await new Promise((resolve) => setTimeout(resolve, 5));
    const later = await detector.detect();
    expect(later?.tools).toEqual({ tool: '2.0' });
    writeFileSync(join(dir, 'release'), '');
    expect(await earlier).toBeUndefined();
    // A refresh after both is current again.
    expect((await detector.detect())?.tools).toEqual({ tool: '2.0' });
  });
});
