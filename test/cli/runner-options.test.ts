import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { defaultMaxLogBytes, hostRunnerName, resolveRunnerSettings } from '../../src/cli/runner-options.js';

const server = { server: 'http://127.0.0.1:7070' };

describe('valkyrie runner --max-log-size', () => {
  it('limits each job to 100 MiB of output by default, and names the limit and the flag in its notice', () => {
    const { logLimit } = resolveRunnerSettings(server, {}, '/tmp');
    expect(logLimit.bytes).toBe(defaultMaxLogBytes);
    expect(logLimit.notice).toContain('limit of 100 MiB');
    expect(logLimit.notice).toContain('--max-log-size');
  });

  it('takes a size as --max-bundle-size does, and refuses what is not one', () => {
    expect(resolveRunnerSettings({ ...server, maxLogSize: '1GiB' }, {}, '/tmp').logLimit.bytes).toBe(
      1024 ** 3,
    );
    for (const bad of ['lots', '0', '10'])
      expect(() => resolveRunnerSettings({ ...server, maxLogSize: bad }, {}, '/tmp')).toThrow(UsageError);
  });
});

describe('valkyrie runner --ephemeral and --idle-timeout', () => {
  it('are off unless given', () => {
    expect(resolveRunnerSettings(server, {}, '/tmp')).toMatchObject({
      ephemeral: false,
      idleTimeoutMs: undefined,
    });
  });

  it('takes --ephemeral with the default capacity or --capacity 1, and an idle timeout of 1s or more', () => {
    expect(resolveRunnerSettings({ ...server, ephemeral: true, capacity: '1' }, {}, '/tmp')).toMatchObject({
      ephemeral: true,
      capacity: 1,
    });
    expect(resolveRunnerSettings({ ...server, idleTimeout: '10m' }, {}, '/tmp').idleTimeoutMs).toBe(600_000);
    expect(resolveRunnerSettings({ ...server, idleTimeout: '1' }, {}, '/tmp').idleTimeoutMs).toBe(1_000);
  });

  it('refuses --ephemeral with a capacity above 1, and an idle timeout that is not a duration of 1s or more', () => {
    expect(() => resolveRunnerSettings({ ...server, ephemeral: true, capacity: '4' }, {}, '/tmp')).toThrow(
      /--ephemeral runs one job and then stops: leave out --capacity, received "4"/,
    );
    for (const bad of ['999ms', '0', 'soon', '-5s'])
      expect(() => resolveRunnerSettings({ ...server, idleTimeout: bad }, {}, '/tmp')).toThrow(
        new RegExp(`--idle-timeout must be .* of at least 1s, received "${bad}"`),
      );
  });
});

describe('valkyrie runner --job-started-hook and --job-completed-hook', () => {
  it('resolve a flag from the directory the runner starts in, and fall back to the VALKYRIE_RUNNER_HOOK_* variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vk-hooks-'));
    try {
      writeFileSync(join(dir, 'a.sh'), 'true\n');
      writeFileSync(join(dir, 'b.sh'), 'true\n');
      const env = {
        VALKYRIE_RUNNER_HOOK_JOB_STARTED: join(dir, 'b.sh'),
        VALKYRIE_RUNNER_HOOK_JOB_COMPLETED: join(dir, 'b.sh'),
      };
      expect(resolveRunnerSettings({ ...server, jobStartedHook: 'a.sh' }, env, dir).hooks).toEqual({
        started: join(dir, 'a.sh'),
        completed: join(dir, 'b.sh'),
      });
      expect(resolveRunnerSettings(server, {}, dir).hooks).toEqual({});
      expect(() => resolveRunnerSettings({ ...server, jobCompletedHook: 'c.sh' }, {}, dir)).toThrow(
        /^--job-completed-hook: cannot read .*c\.sh: /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('valkyrie runner --capacity', () => {
  it('takes a whole number from 1 to 1024 written in digits', () => {
    expect(resolveRunnerSettings({ ...server, capacity: '16' }, {}, '/tmp').capacity).toBe(16);
    expect(resolveRunnerSettings({ ...server, capacity: '1024' }, {}, '/tmp').capacity).toBe(1024);
  });

  it('refuses what Number() would read as another number: hex, an exponent, spaces', () => {
    for (const bad of ['0x10', '1e2', ' 2', '2 ', '+3', '0', '1.5', '', '1025'])
      expect(() => resolveRunnerSettings({ ...server, capacity: bad }, {}, '/tmp')).toThrow(
        `--capacity must be a whole number from 1 to 1024, received ${JSON.stringify(bad)}`,
      );
  });
});

describe('valkyrie runner --name and --labels', () => {
  it('take a name of up to 100 characters and labels of up to 200, as the server registers them', () => {
    const settings = resolveRunnerSettings(
      { ...server, name: `build ${'x'.repeat(94)}`, labels: ['gpu', 'zone=eu', 'y'.repeat(200)] },
      {},
      '/tmp',
    );
    expect(settings.name).toHaveLength(100);
    expect(settings.labels).toEqual(['gpu', 'zone=eu', 'y'.repeat(200)]);
  });

  it('refuse a blank name, one with control characters or over 100 characters, naming --name', () => {
    const refused = (name: string) => () => resolveRunnerSettings({ ...server, name }, {}, '/tmp');
    expect(refused('')).toThrow('--name must not be empty or blank, received ""');
    expect(refused('  ')).toThrow('--name must not be empty or blank, received "  "');
    expect(refused('a\nb')).toThrow('--name: no control characters (newline, tab, ESC, …), received "a\\nb"');
    expect(refused('a\u001b[2Jb')).toThrow('received "a\\u001b[2Jb"');
    expect(refused('x'.repeat(101))).toThrow(
      `--name must be at most 100 characters, received 101: "${'x'.repeat(20)}…"`,
    );
  });

  it('refuse a label with a control character or over 200 characters, naming --labels', () => {
    const refused = (label: string) => () =>
      resolveRunnerSettings({ ...server, labels: [label] }, {}, '/tmp');
    expect(refused('a\u0001b')).toThrow(
      '--labels: a label has no spaces, commas or control characters, received "a\\u0001b"',
    );
    expect(refused('a b')).toThrow('received "a b"');
    expect(refused('y'.repeat(201))).toThrow('--labels: a label has at most 200 characters, received 201');
  });
});

describe("valkyrie runner without --name: this machine's host name", () => {
  it('is the name as it is when it fits, and its first 100 characters when longer, said once', () => {
    const said: string[] = [];
    expect(hostRunnerName('build-01.ci.example.com', (line) => said.push(line))).toBe(
      'build-01.ci.example.com',
    );
    expect(said).toEqual([]);
    // macOS and Windows allow host names of 255 characters; a runner's name is at most 100.
    const long = `mac-mini-7.${'x'.repeat(240)}.local`;
    expect(hostRunnerName(long, (line) => said.push(line))).toBe(long.slice(0, 100));
    expect(said).toEqual([
      `this machine's host name has 257 characters, more than a runner's name may (100): it registers as ${JSON.stringify(long.slice(0, 100))}; give it another name with --name`,
    ]);
    // Not half an emoji: 99 characters, then what follows left out whole.
    expect(hostRunnerName(`${'h'.repeat(99)}😀tail`, () => {})).toBe('h'.repeat(99));
  });

  it('refuses a blank host name, or one with a control character, naming --name', () => {
    expect(() => hostRunnerName(' ', () => {})).toThrow(
      new UsageError(`this machine's host name " " cannot name a runner (blank); give it a name with --name`),
    );
    expect(() => hostRunnerName('build\n01', () => {})).toThrow(
      /"build\\n01" cannot name a runner \(control character\).*--name/,
    );
  });
});

describe('valkyrie runner --server', () => {
  it('names VALKYRIE_SERVER in the error when the URL came from it', () => {
    expect(() =>
      resolveRunnerSettings({}, { VALKYRIE_SERVER: 'http://127.0.0.1:7070/api/v1' }, '/tmp'),
    ).toThrow(
      'VALKYRIE_SERVER is the server\'s address, which the API\'s paths are added to: drop "/api/v1"',
    );
    expect(() => resolveRunnerSettings({ server: 'ci:7070' }, {}, '/tmp')).toThrow(
      '--server must be an http:// or https:// URL, received "ci:7070"',
    );
  });
});

describe('valkyrie runner --token, VALKYRIE_TOKEN and --token-file', () => {
  it('takes a token from each, white space around it dropped', () => {
    expect(resolveRunnerSettings({ ...server, token: ' vkr.abc ' }, {}, '/tmp').token).toBe('vkr.abc');
    expect(resolveRunnerSettings(server, { VALKYRIE_TOKEN: 'vkr.env' }, '/tmp').token).toBe('vkr.env');
  });

  it('refuses one no Authorization header could carry, naming where it came from, before any request', () => {
    const refused = (options: object, env: NodeJS.ProcessEnv) => {
      try {
        resolveRunnerSettings({ ...server, ...options }, env, '/tmp');
      } catch (error) {
        if (error instanceof UsageError) return error.message;
        throw error;
      }
      return undefined;
    };
    expect(refused({ token: 'vkr.abc extra' }, {})).toMatch(
      /^--token has a space or other white space at character 8/,
    );
    expect(refused({}, { VALKYRIE_TOKEN: 'vkr.é' })).toMatch(
      /^VALKYRIE_TOKEN has a character that is not visible ASCII/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'vk-token-file-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'vkr.é\n');
      expect(refused({ tokenFile: file }, {})).toBe(
        `--token-file: the token in ${file} has a character that is not visible ASCII at character 5: a token must be one word of visible ASCII characters (! to ~), as it is sent in "Authorization: Bearer <token>"`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('valkyrie runner --work-dir', () => {
  it('refuses an empty or blank one, which made the current directory (or a folder named " ") the work dir', () => {
    for (const blank of ['', ' '])
      expect(() => resolveRunnerSettings({ ...server, workDir: blank }, {}, '/tmp')).toThrow(
        `--work-dir must name a directory, received ${JSON.stringify(blank)}`,
      );
    expect(resolveRunnerSettings({ ...server, workDir: '.' }, {}, '/tmp').workDir).toBe('/tmp');
  });
});

describe('valkyrie runner --labels', () => {
  it('takes comma-separated labels from every --labels given, in order', () => {
    expect(
      resolveRunnerSettings({ ...server, labels: ['gpu,team=ml', 'zone=eu'] }, {}, '/tmp').labels,
    ).toEqual(['gpu', 'team=ml', 'zone=eu']);
  });

  it('refuses more labels than the server registers (200, the derived ones included), at the start, naming --labels', () => {
    const labels = (count: number) => Array.from({ length: count }, (_, i) => `l${i}`).join(',');
    // On Linux: self-hosted, linux, the arch and four hosted labels are added to the given ones.
    const derived = 7;
    expect(
      resolveRunnerSettings({ ...server, labels: [labels(200 - derived)] }, {}, '/tmp').labels,
    ).toHaveLength(200 - derived);
    expect(() =>
      resolveRunnerSettings({ ...server, labels: [labels(200 - derived + 1)] }, {}, '/tmp'),
    ).toThrow(
      new RegExp(
        `^--labels: a runner has at most 200 labels, the ${derived} it is given \\(self-hosted, linux, \\w+, …\\) included; received ${200 - derived + 1}$`,
      ),
    );
    // Without the hosted labels, room for four more; a label given twice (any case) counts once.
    const roomier = { ...server, hostedLabels: false, labels: [labels(200 - 3), 'L0,Linux'] };
    expect(resolveRunnerSettings(roomier, {}, '/tmp').labels).toHaveLength(200 - 3 + 2);
  });

  it('refuses an empty label, which was dropped without a word: an unset $LABELS gave a runner without its labels', () => {
    for (const given of ['', 'gpu,,team=ml', 'gpu,'])
      expect(() => resolveRunnerSettings({ ...server, labels: [given] }, {}, '/tmp')).toThrow(
        `--labels: an empty label (nothing between two commas, or before or after one, or an empty --labels), received ${JSON.stringify(given)}`,
      );
  });
});

describe('VALKYRIE_CAPABILITY_REFRESH', () => {
  it('is 5 minutes unless set, takes a duration, and refuses what is none, naming the variable', () => {
    const refresh = (value?: string) =>
      resolveRunnerSettings(server, value === undefined ? {} : { VALKYRIE_CAPABILITY_REFRESH: value }, '/tmp')
        .capabilityRefreshMs;
    expect(refresh()).toBe(5 * 60_000);
    expect(refresh('300ms')).toBe(300);
    expect(refresh('1m')).toBe(60_000);
    for (const bad of ['soon', '0', '10ms'])
      expect(() => refresh(bad)).toThrow(`VALKYRIE_CAPABILITY_REFRESH: expected`);
  });
});
