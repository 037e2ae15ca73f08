import { afterAll, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer } from './fleet-processes.js';

const admin = 'too-large-bodies-admin-token';
const workspace = new Workspace();
const processes: StartedProcess[] = [];
afterAll(async () => {
  await killAll(processes);
  workspace.dispose();
});

/** What a client that sends the whole body before it reads gets: the status and code, or its error. */
async function post(url: string, bytes: number): Promise<string> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: Buffer.alloc(bytes, 0x20),
    });
    const body = (await response.json()) as { code?: string };
    return `${response.status} ${body.code}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return `failed: ${cause?.code ?? String(error)}`;
  }
}

it('answers a body over the limit with its 413, which a client still sending the body gets to read', async () => {
  const server = await startServer(workspace, [], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  const answers: string[] = [];
  for (let round = 0; round < 5; round++) answers.push(await post(`${server.url}/api/v1/runs`, 16 << 20));
  expect(answers).toEqual(Array(5).fill('413 VK_BODY_TOO_LARGE'));
  // `valkyrie submit` of a workflow over the limit says so, rather than that the server is unreachable.
  const comment = `# ${'x'.repeat(78)}\n`;
  workspace.write(
    'big.yml',
    `jobs:\n  a:\n    runs-on: linux\n    steps:\n      - run: echo\n${comment.repeat(40_000)}`,
  );
  for (let round = 0; round < 2; round++) {
    const submitted = await workspace.run(['submit', 'big.yml', '--no-bundle'], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: admin,
    });
    expect(submitted.stderr).toContain('VK_BODY_TOO_LARGE');
  }
}, 60_000);
