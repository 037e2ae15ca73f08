import { describe, expect, it } from 'vitest';
import { ApiRequestError, throwUnlessOk } from '../../src/cli/api-error-answer.js';
import {
  keyedListFlag,
  listFlag,
  onceFlag,
  pairFlag,
  secretFlags,
  typedFlag,
} from '../../src/cli/field-flags.js';
import { startTestServer } from '../server/helpers.js';

/** The server's refusal of `body` to POST /api/v1/runs, read as the CLI reads it, told with `flags`. */
async function refusedRun(body: object, flags: Readonly<Record<string, string>>): Promise<ApiRequestError> {
  const live = await startTestServer();
  const answer = await live.request('POST', '/api/v1/runs', { body });
  const response = new Response(answer.text, { status: answer.status });
  const error = await throwUnlessOk(response, { fieldFlags: flags }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ApiRequestError))
    throw new Error(`expected an ApiRequestError, got ${String(error)}`);
  return error;
}

const workflow = 'jobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: make }]\n';

describe('field flags', () => {
  it('tell each field a repeated flag filled as the flag and the value typed, a shell word', () => {
    expect(keyedListFlag('body.matrix', '--matrix', { os: ['linux', 'mac os'] })).toEqual({
      'body.matrix': '--matrix',
      'body.matrix.os': '--matrix os=…',
      'body.matrix.os.0': '--matrix os=linux',
      'body.matrix.os.1': "--matrix 'os=mac os'",
    });
    expect(listFlag('body.jobs', '--job', ['build'])).toEqual({
      'body.jobs': '--job',
      'body.jobs.0': '--job build',
    });
    // Not the record: a refusal of it is about what the flags did not give.
    expect(pairFlag('body.env', '--env', { A: '1', 'B\tC': 'x' })).toEqual({
      'body.env.A': '--env A=1',
      'body.env."B\\tC"': "--env $'B\\tC=x'",
    });
    expect(onceFlag('body.event', '--event', 'push')).toEqual({ 'body.event': '--event push' });
    expect(onceFlag('body.event', '--event', undefined)).toEqual({});
    expect(listFlag('body.jobs', '--job', undefined)).toEqual({});
  });

  it('cut a long value, saying its length, and never repeat a secret', () => {
    expect(typedFlag('--job', 'j'.repeat(101))).toBe(`--job ${'j'.repeat(60)}… (101 characters)`);
    expect(typedFlag('--var', 'v'.repeat(61), 'N')).toBe(`--var N=${'v'.repeat(60)}… (61 characters)`);
    expect(
      secretFlags(
        { TOKEN: 'from-flag', KEY: 'from-file' },
        { secret: { TOKEN: 'from-flag' }, secretsFile: '.env' },
      ),
    ).toEqual({
      'body.secrets.TOKEN': '--secret TOKEN=…',
      'body.secrets.KEY': 'KEY=… of --secrets-file .env',
    });
  });

  it("name the flag for the server's own path of a nested field, a quoted key's too, and the value", async () => {
    const flags = {
      ...keyedListFlag('body.matrix', '--matrix', { os: ['linux', 'x'.repeat(1001)] }),
      ...pairFlag('body.env', '--env', { 'A\tB': 'x\0y' }),
    };
    const matrix = await refusedRun({ workflow, matrix: { os: ['linux', 'x'.repeat(1001)] } }, flags);
    expect(matrix.message).toBe(
      `VK_INVALID_REQUEST: --matrix os=${'x'.repeat(60)}… (1001 characters): must be at most 1000 characters long`,
    );
    expect(matrix.body.path).toBe(`--matrix os=${'x'.repeat(60)}… (1001 characters)`);
    const env = await refusedRun({ workflow, env: { 'A\tB': 'x\0y' } }, flags);
    expect(env.message).toBe(
      "VK_INVALID_REQUEST: --env $'A\\tB=x\\x00y': no NUL byte: a process environment cannot hold one",
    );
    // A field no flag filled keeps the API's path.
    const bundle = await refusedRun({ workflow, bundle: 'nope' }, flags);
    expect(bundle.message).toBe('VK_INVALID_REQUEST: body.bundle: a sha256: 64 lowercase hex digits');
  });
});
