import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer } from '../server/helpers.js';
import { Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workflow = `jobs:
  build:
    runs-on: self-hosted
    steps: [{ run: make }]
`;

describe('client commands refused by the server, or before asking it', () => {
  const ws = new Workspace();
  let server: FakeApiServer;
  let flags: string[];
  beforeAll(async () => {
    ws.write('ci.yml', workflow);
    server = await new FakeApiServer().start();
    flags = ['--server', server.url, '--token', 'tok'];
  });
  afterAll(async () => {
    await server.close();
    ws.dispose();
  });

  it('submit exits 2 for a run the queue can never hold (422), and 75 only for a full queue (429)', async () => {
    server.runAnswer = {
      status: 422,
      body: {
        code: 'VK_QUEUE_FULL',
        message:
          'this run alone has 3 jobs, more than the queue capacity of 2 (--queue-capacity), so it can never be queued; nothing was submitted',
      },
    };
    const never = await ws.run(['submit', 'ci.yml', '--no-bundle', ...flags]);
    expect(never.stderr).toContain('so it can never be queued');
    expect(never.code).toBe(2);
    server.runAnswer = {
      status: 429,
      body: { code: 'VK_QUEUE_FULL', message: 'the queue is full; nothing was submitted, try again later' },
    };
    const full = await ws.run(['submit', 'ci.yml', '--no-bundle', ...flags]);
    expect(full.code).toBe(75);
  });

  it('token create says the shortest ttl for one under it, sending nothing', async () => {
    const before = server.requests.length;
    const short = await ws.run(['token', 'create', '--role', 'submit', '--ttl', '10s', ...flags]);
    expect(short.stderr).toBe('valkyrie: --ttl: a token lives at least 1m (60 seconds), received "10s"\n');
    expect(short.code).toBe(2);
    const long = await ws.run(['token', 'create', '--role', 'submit', '--ttl', '87601h', ...flags]);
    expect(long.stderr).toBe('valkyrie: --ttl: a token lives at most 10 years (3650d), received "87601h"\n');
    const typo = await ws.run(['token', 'create', '--role', 'submit', '--ttl', '1 week', ...flags]);
    expect(typo.stderr).toMatch(/^valkyrie: --ttl: expected a number with a unit, .*"1 week"\n$/);
    // Years are no unit: the message lists those there are, and the longest lifetime in one of them.
    const years = await ws.run(['token', 'create', '--role', 'submit', '--ttl', '11y', ...flags]);
    expect(years.stderr).toBe(
      'valkyrie: --ttl: expected a number with a unit, ms, s, m, h or d (such as 30m, 12h or 30d), or a plain number of seconds; a token lives at least 1m and at most 10 years (3650d), received "11y"\n',
    );
    expect(years.code).toBe(2);
    expect(server.requests.length).toBe(before);
  });

  it("token create names the flag, not the API's field, for a value the server refuses", async () => {
    const { server: real } = await startTestServer();
    const refused = await ws.run([
      ...['token', 'create', '--role', 'read', '--name', 'a\tb'],
      ...['--server', real.url, '--token', adminToken],
    ]);
    expect(refused.stderr).toBe(
      'valkyrie: the server refused (HTTP 400): VK_INVALID_REQUEST: --name: no control characters (newline, NUL, ESC, …)\n',
    );
    expect(refused.code).toBe(2);
  });

  it("submit names the flag and the value typed, not the API's nested field, for a value the server refuses", async () => {
    // Computed at run time: submit cannot check the --matrix values before sending them, the server can.
    ws.write(
      'computed.yml',
      `jobs:
  ${'j'.repeat(101)}:
    strategy:
      matrix:
        os: \${{ fromJSON('["linux", "macos"]') }}
    runs-on: self-hosted
    steps: [{ run: make }]
`,
    );
    const { server: real } = await startTestServer();
    const submit = (...args: string[]) =>
      ws.run(['submit', 'computed.yml', '--no-bundle', ...args, '--server', real.url, '--token', adminToken]);
    const refused = 'valkyrie: the server refused (HTTP 400): VK_INVALID_REQUEST: ';

    const long = await submit('--matrix', 'os=linux', '--matrix', `os=${'x'.repeat(1001)}`);
    expect(long.stderr).toBe(
      `${refused}--matrix os=${'x'.repeat(60)}… (1001 characters): must be at most 1000 characters long\n`,
    );
    expect(long.code).toBe(2);
    const many = await submit(...Array.from({ length: 257 }, (_, at) => ['--matrix', `os=v${at}`]).flat());
    expect(many.stderr).toBe(`${refused}--matrix os=…: must have at most 256 items\n`);
    const job = await submit('--job', 'j'.repeat(101));
    expect(job.stderr).toBe(
      `${refused}--job ${'j'.repeat(60)}… (101 characters): must be at most 100 characters long\n`,
    );
    // The server's bound is submit's own (the stores' rule): refused before asking, as run does.
    const key = await submit('--idempotency-key', 'k'.repeat(1025));
    expect(key.stderr).toBe(
      'valkyrie: --idempotency-key must be at most 1024 bytes (UTF-8), received 1025\n',
    );
    // A header carries printable ASCII: 日 was told as an unreachable server, é sent as a Latin-1 byte.
    const wide = await submit('--idempotency-key', 'run-日本');
    expect(wide.stderr).toBe(
      'valkyrie: --idempotency-key must be printable ASCII (it is sent as an HTTP header), received "run-日本", whose character 5 is "日"\n',
    );
    const accented = await submit('--idempotency-key', 'dépôt');
    expect(accented.stderr).toMatch(/^valkyrie: --idempotency-key must be printable ASCII .*"é"\n$/);
    for (const result of [many, job, key, wide, accented]) {
      expect(result.stderr).not.toMatch(/body\.|headers\./);
      expect(result.code).toBe(2);
    }
  });

  // rerun --server checks its secrets' names before sending them, as submit does (secret-names.test.ts).
  it("runs --server names the flag, not the API's field, for a value the server refuses", async () => {
    const { server: real } = await startTestServer();
    const flags = ['--server', real.url, '--token', adminToken];
    const runs = await ws.run(['runs', '--workflow', 'w'.repeat(1001), ...flags]);
    expect(runs.stderr).toBe(
      `valkyrie: the server refused (HTTP 400): VK_INVALID_REQUEST: --workflow ${'w'.repeat(60)}… (1001 characters): must be at most 1000 characters long\n`,
    );
    expect(runs.code).toBe(2);
  });

  it('a token with white space inside is refused as usage, naming --token or VALKYRIE_TOKEN, and sends nothing; white space around it is dropped', async () => {
    // It was sent, and the server's 401 spoke of an Authorization header the user never wrote (or,
    // for a newline or a non-ASCII character, fetch refused it: "cannot reach the server", exit 69).
    const before = server.requests.length;
    const tail =
      'a token must be one word of visible ASCII characters (! to ~), as it is sent in "Authorization: Bearer <token>"';
    const pasted = await ws.run(['runs', '--server', server.url, '--token', 'tok extra']);
    expect(pasted.stderr).toBe(
      `valkyrie: --token has a space or other white space at character 4: ${tail}\n`,
    );
    expect(pasted.code).toBe(2);
    const twoLines = await ws.run(['submit', 'ci.yml', '--server', server.url], {
      VALKYRIE_TOKEN: 'tok\nold',
    });
    expect(twoLines.stderr).toBe(
      `valkyrie: VALKYRIE_TOKEN has a space or other white space at character 4: ${tail}\n`,
    );
    expect(twoLines.code).toBe(2);
    const accented = await ws.run(['token', 'list', '--server', server.url, '--token', 'tök']);
    expect(accented.stderr).toBe(
      `valkyrie: --token has a character that is not visible ASCII at character 2: ${tail}\n`,
    );
    expect(accented.code).toBe(2);
    expect(server.requests.length).toBe(before);
    // Around it, as `valkyrie runner --token-file` drops a file's: the token alone is sent.
    server.runAnswer = undefined;
    const padded = await ws.run(['submit', 'ci.yml', '--no-bundle', '--server', server.url], {
      VALKYRIE_TOKEN: ' tok\n',
    });
    expect(padded.code, padded.stderr).toBe(0);
    expect(server.requests.at(-1)?.headers.authorization).toBe('Bearer tok');
  });

  it('a --server with a user name and password is refused as usage, naming no password, and sends nothing', async () => {
    // fetch refuses such a URL: it was told as an unreachable server (exit 69, the password in the
    // line), and the runner retried it for ever.
    const before = server.requests.length;
    const url = server.url.replace('http://', 'http://ci:s3cret@');
    const expected = `valkyrie: --server takes no user name or password (authenticate with --token), received "${server.url.replace('http://', 'http://ci:***@')}"\n`;
    const runs = await ws.run(['runs', '--server', url, '--token', 'tok']);
    expect(runs.stderr).toBe(expected);
    expect(runs.code).toBe(2);
    const runner = await ws.run([
      'runner',
      '--server',
      url,
      '--token',
      'tok',
      '--work-dir',
      'runner-userinfo',
    ]);
    expect(runner.stderr).toBe(expected);
    expect(runner.code).toBe(2);
    expect(server.requests.length).toBe(before);
  }, 20_000);
});
