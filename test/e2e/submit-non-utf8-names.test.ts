import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workspaces: Workspace[] = [];
afterEach(() => {
  for (const ws of workspaces.splice(0)) ws.dispose();
});

describe('submit of a workspace holding a file whose name is not UTF-8', () => {
  it('names it in one line, exit 2, rather than say three times that it vanished', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    ws.write('ci.yml', 'jobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: echo hi }]\n');
    // Latin-1 "café.txt": Node reads the name with U+FFFD for the byte, a name no file has.
    writeFileSync(
      Buffer.concat([Buffer.from(`${join(ws.dir, 'caf')}`), Buffer.from([0xe9]), Buffer.from('.txt')]),
      'x',
    );
    // Asked before packing whether it takes bundles.
    const server = await new FakeApiServer().start();
    const result = await ws.run(['submit', 'ci.yml', '--server', server.url, '--token', 'tok']);
    await server.close();
    expect(result.stderr).toBe(
      'valkyrie: cannot bundle caf\uFFFD.txt: its name is not valid UTF-8 (\uFFFD stands for the bytes that are not), ' +
        'which the paths of a bundle must be; rename it, or leave it out with .valkyrieignore (nothing was uploaded)\n',
    );
    expect(result.code).toBe(2);
  });
});
