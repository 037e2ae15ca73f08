import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

// What a user who knows `act` types first, and what Valkyrie answers.
describe('the habits of an act user', () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = new Workspace();
    ws.write(
      '.github/workflows/ci.yml',
      'name: ci\non: [push, workflow_dispatch]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo hi }]\n',
    );
  });
  afterAll(() => ws.dispose());

  it('validate without a file checks the workflow run would run', async () => {
    const result = await ws.run(['validate']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')[0]).toBe('.github/workflows/ci.yml: workflow "ci" is valid, 1 job');
  });

});
