import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';
import {
  callApi,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServer,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * `valkyrie submit` from a git checkout to a real `valkyrie server` and `valkyrie runner`: the steps
 * see the checkout's git context and push payload exactly as a `valkyrie run` in the checkout does, and
 * run git in a `.git` of its HEAD.
 */
const admin = 'vkt-e2e-admin-token-submit-git-0123';
const fleet = new Workspace();
const checkout = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let submitToken = '';

const workflow = `on: push
jobs:
  show:
    runs-on: [self-hosted, submit-git]
    steps:
      - run: |
          echo "$GITHUB_SHA \${{ github.ref }} \${{ github.event.head_commit.message }}"
          echo "$GITHUB_REF_NAME $GITHUB_REF_TYPE $GITHUB_REPOSITORY $GITHUB_REPOSITORY_OWNER $GITHUB_SERVER_URL"
          echo "before=\${{ github.event.before }} repo=\${{ github.event.repository.full_name }}"
          echo "file=$(cat "$GITHUB_EVENT_PATH")"
          echo "git=$(git rev-parse HEAD) $(git rev-parse --abbrev-ref HEAD) $(git log -1 --format=%s)"
`;

/** What the show job's step printed (not the runner's own system lines). */
function stepLines(stdout: string): string[] {
  return events(stdout)
    .filter((event) => event.type === 'log' && event.job === 'show' && event.stream !== 'system')
    .map((event) => String(event.text));
}

async function token(role: string): Promise<string> {
  const response = await callApi(server.url, admin, 'POST', '/api/v1/tokens', { role });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

beforeAll(async () => {
  server = await startServer(fleet, [], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  const registration = await token('runner');
  submitToken = await token('submit');
  const runner = startProcess(fleet, [
    'runner',
    '--server',
    server.url,
    '--token',
    registration,
    '--name',
    'git-runner',
    '--labels',
    'submit-git',
    '--work-dir',
    join(fleet.dir, '.valkyrie', 'work'),
  ]);
  processes.push(runner);
  await waitFor(
    () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
    20_000,
    'the runner',
  );
  expect(runner.child.exitCode, runner.stderr()).toBeNull();
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  fleet.dispose();
  checkout.dispose();
});

describe('valkyrie submit from a git checkout', () => {
  it("gives the server's steps GITHUB_SHA, github.ref and the push payload as valkyrie run gives them", async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ada L', '-c', 'user.email=ada@e', ...args], { cwd: checkout.dir })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('remote', 'add', 'origin', 'git@github.com:acme/widgets.git');
    checkout.write('ci.yml', workflow);
    git('add', 'ci.yml');
    git('commit', '-q', '-m', 'first');
    git('commit', '-q', '--allow-empty', '-m', 'Ship it from the fleet');
    const [sha, parent] = [git('rev-parse', 'HEAD'), git('rev-parse', 'HEAD~1')];

    const submitted = await checkout.run(['submit', 'ci.yml', '--follow', '--json'], {
      VALKYRIE_SERVER: server.url,
      VALKYRIE_TOKEN: submitToken,
    });
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stderr).toContain(` and .git at ${sha.slice(0, 12)} (`);
    const lines = stepLines(submitted.stdout);
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 3)).toEqual([
      `${sha} refs/heads/main Ship it from the fleet`,
      'main branch acme/widgets acme https://github.com',
      `before=${parent} repo=acme/widgets`,
    ]);
    expect(JSON.parse((lines[3] ?? '').slice('file='.length))).toMatchObject({
      ref: 'refs/heads/main',
      after: sha,
      before: parent,
      head_commit: { id: sha, message: 'Ship it from the fleet', author: { name: 'Ada L', email: 'ada@e' } },
      repository: { full_name: 'acme/widgets', owner: { login: 'acme' } },
    });
    // The runner's copy is a checkout git knows, at the same commit and branch.
    expect(lines[4]).toBe(`git=${sha} main Ship it from the fleet`);

    // The same workflow run here, in the checkout, sees the same.
    const local = await checkout.run(['run', 'ci.yml', '--json', '--label', 'submit-git']);
    expect(local.code, local.stderr).toBe(0);
    expect(stepLines(local.stdout)).toEqual(lines);
  }, 60_000);

  it('says so when the workspace it sends is a folder inside the repository, not the whole of it', async () => {
    checkout.write('docs/readme.txt', 'docs\n');
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: submitToken };
    const inside = await checkout.run(
      ['submit', '../ci.yml', '--follow', '--json'],
      env,
      join(checkout.dir, 'docs'),
    );
    expect(inside.code, inside.stderr).toBe(0);
    const gitOutput = (...args: string[]) =>
      execFileSync('git', args, { cwd: checkout.dir }).toString().trim();
    const top = gitOutput('rev-parse', '--show-toplevel');
    expect(inside.stderr).toContain(
      `valkyrie: note: the workspace sent is ${join(checkout.dir, 'docs')}, a folder inside the git repository ${top}; its jobs see only that folder, with no .git (github.sha and github.ref are still the repository's). To send the whole repository, run submit from ${top} or pass --workspace ${top}\n`,
    );
    // The folder goes without a .git, but with the repository's git context, as `valkyrie run` there has it.
    expect(inside.stderr).not.toContain(' and .git at ');
    expect(stepLines(inside.stdout).slice(0, 3)).toEqual([
      `${gitOutput('rev-parse', 'HEAD')} refs/heads/main Ship it from the fleet`,
      'main branch acme/widgets acme https://github.com',
      `before=${gitOutput('rev-parse', 'HEAD~1')} repo=acme/widgets`,
    ]);
    // From the top, or with --workspace given, nothing is said.
    const atTop = await checkout.run(['submit', 'ci.yml'], env);
    expect(atTop.code, atTop.stderr).toBe(0);
    expect(atTop.stderr).not.toContain('note:');
    const given = await checkout.run(
      ['submit', '../ci.yml', '--workspace', '.'],
      env,
      join(checkout.dir, 'docs'),
    );
    expect(given.stderr).not.toContain('note:');
  }, 60_000);
});
