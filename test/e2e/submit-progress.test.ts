import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, events, valkyrieBin, Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workflow = `name: ci
jobs:
  build:
    runs-on: [self-hosted]
    steps:
      - run: ./build.sh
`;

/** Text that gzip shrinks well but not to nothing, so the packing is quick and the bundle not tiny. */
function data(megabytes: number, seed: number): string {
  const lines: string[] = [];
  for (let i = 0; lines.length * 64 < megabytes * 1024 ** 2; i++)
    lines.push(`${seed} line ${i} ${(i * 2654435761) % 4294967296}`.padEnd(63, '.'));
  return `${lines.join('\n')}\n`;
}

let ws: Workspace;
let server: FakeApiServer;
beforeEach(async () => {
  ws = new Workspace();
  ws.write('ci.yml', workflow);
  // Just over 8 MiB (submit-bundle.ts announcedBytes), from which packing and uploading are announced.
  for (const n of [1, 2, 3]) ws.write(`data/part${n}.txt`, data(2.77, n));
  server = await new FakeApiServer().start();
});
afterEach(async () => {
  await server.close();
  ws.dispose();
});

const submit = (...args: string[]) =>
  ws.run(['submit', 'ci.yml', ...args], { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: 'tok' });

describe('valkyrie submit of a large workspace, not on a terminal', () => {
  it('says when packing and uploading start, then the summary, in plain lines; stdout is as before', async () => {
    const first = await submit();
    expect(first.code, first.stderr).toBe(0);
    // Piped, the live progress line is never drawn: no carriage returns, no escape sequences.
    expect(first.stderr).not.toContain('\r');
    expect(first.stderr).not.toContain('\u001b');
    expect(first.stderr.split('\n')).toEqual([
      'Packing 4 files (8.3 MiB)…',
      expect.stringMatching(
        new RegExp(`^Packed in [\\d.]+m?s; uploading the bundle \\([\\d.]+ (KiB|MiB)\\) to ${server.url}…$`),
      ),
      expect.stringMatching(
        /^Workspace: 4 files \(8\.3 MiB\), bundle [0-9a-f]{12} of [\d.]+ (KiB|MiB): uploaded in [\d.]+m?s$/,
      ),
      '',
    ]);
    expect(first.stdout).toBe(
      `Submitted run run-1 of ci (#1) to ${server.url}\nFollow it with: valkyrie logs run-1 -f\n`,
    );
    expect(server.bundles.size).toBe(1);

    // The same workspace again: packed, not uploaded, and the summary says why.
    const again = await submit('--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.split('\n')).toEqual([
      'Packing 4 files (8.3 MiB)…',
      expect.stringMatching(
        /^Workspace: 4 files \(8\.3 MiB\), bundle [0-9a-f]{12} of [\d.]+ (KiB|MiB): already on the server, not uploaded again \(packed in [\d.]+m?s\)$/,
      ),
      '',
    ]);
    expect(events(again.stdout)).toEqual([
      {
        type: 'run.submitted',
        runId: 'run-2',
        runNumber: 2,
        workflow: 'ci',
        status: 'queued',
        bundle: {
          sha256: [...server.bundles.keys()][0],
          bytes: server.bundles.values().next().value?.length,
          files: 4,
          uploaded: false,
        },
      },
    ]);
    expect(server.calls().filter((call) => call.startsWith('PUT '))).toHaveLength(1);
  });
});

describe('valkyrie submit with its output redirected into the workspace', () => {
  it('leaves that file out of the bundle, saying so, rather than packing it as it grows', async () => {
    // As a CI script keeps a step's output: `valkyrie submit ci.yml > submit.log 2>&1`.
    const log = join(ws.dir, 'submit.log');
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [valkyrieBin, 'submit', 'ci.yml'], {
      cwd: ws.dir,
      env: { ...process.env, NO_COLOR: '1', VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: 'tok' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const { code } = await collect(child);
    const written = readFileSync(log, 'utf8');
    expect(code, written).toBe(0);
    expect(written).toContain(
      `valkyrie: note: left "submit.log" out of the bundle: it is where this command's output goes`,
    );
    expect(written).toMatch(/^Workspace: 4 files \(8\.3 MiB\), bundle /m);
    const [bundle] = [...server.bundles.values()];
    expect(bundle).toBeDefined();
    expect(gunzipSync(bundle ?? Buffer.alloc(0)).includes('submit.log')).toBe(false);
  });
});
