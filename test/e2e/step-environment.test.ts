import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/** `valkyrie run` gives steps what a fleet runner gives them: none of Valkyrie's own settings. */
describe('the environment of a local run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it("has no VALKYRIE_* variable of the shell that started it, only the workflow's own", async () => {
    const file = ws.write(
      'env.yml',
      `env: { VALKYRIE_MINE: set-by-the-workflow }
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: env | grep '^VALKYRIE_' | sort > "${ws.dir}/valkyrie-env"
`,
    );
    const result = await ws.run(['run', file], {
      VALKYRIE_TOKEN: 'vkt.submit.secret',
      VALKYRIE_ADMIN_TOKEN: 'vkt.admin.secret',
      VALKYRIE_DB: join(ws.dir, 'local.db'),
      VALKYRIE_STATE_DIR: join(ws.dir, 'state'),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'valkyrie-env'), 'utf8')).toBe('VALKYRIE_MINE=set-by-the-workflow\n');
  }, 60_000);
});
