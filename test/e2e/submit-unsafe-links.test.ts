import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workflow = 'jobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: echo hi }]\n';
const workspaces: Workspace[] = [];
afterEach(() => {
  for (const ws of workspaces.splice(0)) ws.dispose();
});

/** Asked before packing whether it takes bundles (and, for the last submit, sent the run). */
let server: FakeApiServer;
let submitArgs: string[];
beforeAll(async () => {
  server = await new FakeApiServer().start();
  submitArgs = ['submit', 'ci.yml', '--server', server.url, '--token', 'tok'];
});
afterAll(() => server.close());

describe('submit of a workspace holding a link runners refuse to unpack', () => {
  it('refuses an absolute link before uploading, naming it, rather than fail every job on the runners', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    ws.write('ci.yml', workflow);
    symlinkSync('/etc/hostname', join(ws.dir, 'host'));
    const result = await ws.run(submitArgs);
    expect(result.stderr).toBe(
      'valkyrie: cannot bundle host: the symbolic link points to "/etc/hostname", an absolute path, which runners refuse to unpack (nothing was uploaded); point it inside the workspace with a relative path, or leave it out with .valkyrieignore\n',
    );
    expect(result.code).toBe(2);
  });

  it('refuses a relative link out of the workspace, and packs one that stays inside', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    ws.write('ci.yml', workflow);
    ws.write('docs/guide.md', '# guide\n');
    ws.write('src/main.sh', 'echo main\n');
    symlinkSync('../docs/guide.md', join(ws.dir, 'src/guide.md'));
    symlinkSync('../../outside', join(ws.dir, 'src/out'));
    const refused = await ws.run(submitArgs);
    expect(refused.stderr).toContain(
      'valkyrie: cannot bundle src/out: the symbolic link points to "../../outside", outside the workspace, which runners refuse to unpack',
    );
    expect(refused.code).toBe(2);
    ws.write('.valkyrieignore', 'src/out\n');
    const packed = await ws.run(submitArgs);
    expect(packed.stderr).toMatch(/^Workspace: 5 files .*: uploaded$/m);
    expect(packed.code, packed.stderr).toBe(0);
  });
});
