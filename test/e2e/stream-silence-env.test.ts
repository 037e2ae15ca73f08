import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../server/helpers.js';
import { Workspace } from './cli.js';

// No runner has the label: a run that were created would stay queued.
const workflow = `name: ci
jobs:
  build:
    runs-on: [self-hosted, gpu]
    steps: [{ run: "true" }]
`;

describe('a wrong VALKYRIE_EVENT_STREAM_SILENCE with --follow', () => {
  const ws = new Workspace();
  ws.write('ci.yml', workflow);
  afterAll(() => ws.dispose());

  it('is refused (exit 2) before submit creates a run it could not follow, or rerun re-runs one', async () => {
    const server = await startTestServer();
    const env = {
      VALKYRIE_SERVER: server.server.url,
      VALKYRIE_TOKEN: await server.token('admin'),
      VALKYRIE_EVENT_STREAM_SILENCE: 'soon',
    };
    const refused = /^valkyrie: VALKYRIE_EVENT_STREAM_SILENCE: expected .*, above 0, received "soon"$/m;
    const submitted = await ws.run(['submit', 'ci.yml', '--no-bundle', '--follow'], env);
    expect(submitted.code, submitted.stderr).toBe(2);
    expect(submitted.stderr).toMatch(refused);
    const listed = await server.request('GET', '/api/v1/runs');
    expect((listed.body as { runs: unknown[] }).runs).toEqual([]);
    // Checked before the request: its answer (no such run) is never asked for.
    const rerun = await ws.run(['rerun', 'no-such-run', '--follow'], env);
    expect(rerun.code, rerun.stderr).toBe(2);
    expect(rerun.stderr).toMatch(refused);
  });
});
