import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, logLines, statuses, Workspace } from './cli.js';
import { waitFor } from './process-state.js';

const workflow = `name: deploy
on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:
    inputs:
      target:
        default: staging
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: echo "event=\${{ github.event_name }} env=$GITHUB_EVENT_NAME inputs=\${{ toJSON(github.event.inputs) }}"
  deploy:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps: [{ run: echo deploying }]
`;

const pushNote =
  'valkyrie: the run starts as push, which has no inputs on GitHub: inputs.target is empty, not its default; --event workflow_dispatch gives it\n';

describe('valkyrie run: the event a run starts as', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is push by default when on: lists it, workflow_dispatch with --input, or --event', async () => {
    const file = ws.write('deploy.yml', workflow);
    const cases: [string[], string, string][] = [
      [[], 'event=push env=push inputs=null', 'succeeded'],
      [['--input', 'target=prod'], 'event=workflow_dispatch env=workflow_dispatch inputs={', 'skipped'],
      [['--event', 'workflow_dispatch'], 'event=workflow_dispatch env=workflow_dispatch inputs={', 'skipped'],
      [['--event', 'pull_request'], 'event=pull_request env=pull_request inputs=null', 'skipped'],
    ];
    for (const [args, line, deploy] of cases) {
      const result = await ws.run(['run', file, '--json', ...args]);
      expect(result.code).toBe(0);
      // Only the event chosen by default is told that it leaves the declared inputs empty.
      expect(result.stderr).toBe(args.length === 0 ? pushNote : '');
      expect(logLines(result.stdout, 'show')[0]).toContain(line);
      expect(statuses(result.stdout).deploy).toBe(deploy);
    }
  });

  it('is said by validate as one line of the graph, with no warning about triggers', async () => {
    const file = ws.write('deploy.yml', workflow);
    const result = await ws.run(['validate', file]);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[1]).toBe(
      '  event: push by default (on: push, pull_request, workflow_dispatch; --event picks another)',
    );
    expect(result.code).toBe(0);
  });

  it('refuses an event on: does not list with one line and exit 2, starting nothing', async () => {
    const file = ws.write('deploy.yml', workflow);
    const result = await ws.run(['run', file, '--event', 'schedule']);
    expect(result.stderr).toMatch(
      /valkyrie: event "schedule" is not one of the workflow's on: triggers \(push, pull_request, workflow_dispatch\)\n$/,
    );
    expect(result.code).toBe(2);
  });
});

describe('valkyrie run in a git checkout: the repository and the event payload', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('gives steps the repository of the origin remote, the ref type, the event file and a tool cache', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { cwd: ws.dir });
    git('init', '-q', '-b', 'main');
    git('remote', 'add', 'origin', 'git@github.com:acme/widgets.git');
    git('commit', '-q', '--allow-empty', '-m', 'first');
    const sha = git('rev-parse', 'HEAD').toString().trim();
    const file = ws.write(
      'show.yml',
      `on:
  workflow_dispatch:
    inputs:
      target: { default: staging }
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "ctx=\${{ github.repository }} \${{ github.repository_owner }} \${{ github.server_url }} \${{ github.ref_type }}"
          for name in GITHUB_REPOSITORY GITHUB_REPOSITORY_OWNER GITHUB_SERVER_URL GITHUB_EVENT_NAME GITHUB_REF GITHUB_REF_NAME GITHUB_REF_TYPE GITHUB_SHA; do
            echo "$name=$(printenv $name)"
          done
          echo "event=$(cat "$GITHUB_EVENT_PATH")"
          test -d "$RUNNER_TOOL_CACHE" && echo "tool cache is a directory"
`,
    );
    const result = await ws.run(['run', file, '--json', '--input', 'target=prod']);
    expect(result.code).toBe(0);
    expect(logLines(result.stdout, 'show')).toEqual([
      'ctx=acme/widgets acme https://github.com branch',
      'GITHUB_REPOSITORY=acme/widgets',
      'GITHUB_REPOSITORY_OWNER=acme',
      'GITHUB_SERVER_URL=https://github.com',
      'GITHUB_EVENT_NAME=workflow_dispatch',
      'GITHUB_REF=refs/heads/main',
      'GITHUB_REF_NAME=main',
      'GITHUB_REF_TYPE=branch',
      `GITHUB_SHA=${sha}`,
      'event={"inputs":{"target":"prod"}}',
      'tool cache is a directory',
    ]);

    // Started in a folder of the checkout, as git would be: the same repository, ref and commit.
    ws.write('src/lib/.keep', '');
    const inFolder = await ws.run(['run', file, '--json'], {}, join(ws.dir, 'src', 'lib'));
    expect(inFolder.code, inFolder.stderr).toBe(0);
    expect(
      logLines(inFolder.stdout, 'show').filter((line) => /^GITHUB_(REPOSITORY|REF|SHA)=/.test(line)),
    ).toEqual(['GITHUB_REPOSITORY=acme/widgets', 'GITHUB_REF=refs/heads/main', `GITHUB_SHA=${sha}`]);
  });
});

describe('valkyrie run of a push in a git checkout: github.event', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is the push payload made from git, in the context and in the GITHUB_EVENT_PATH file alike', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Ada L', '-c', 'user.email=ada@e', ...args], {
        cwd: ws.dir,
        env: { ...process.env, GIT_COMMITTER_DATE: '1700000000 +0200', GIT_AUTHOR_DATE: '1700000000 +0200' },
      })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git');
    git('commit', '-q', '--allow-empty', '-m', 'first');
    git('commit', '-q', '--allow-empty', '-m', 'Ship it', '-m', 'the body');
    const [sha, parent] = [git('rev-parse', 'HEAD'), git('rev-parse', 'HEAD~1')];
    const file = ws.write(
      'push.yml',
      `on: push
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "before=\${{ github.event.before }} after=\${{ github.event.after }} repo=\${{ github.event.repository.full_name }} at=\${{ github.event.head_commit.timestamp }} by=\${{ github.event.head_commit.author.name }}"
          echo "file=$(cat "$GITHUB_EVENT_PATH")"
          echo "context=$(printf '%s' "$EVENT" | tr -d '\\n')"
        env:
          EVENT: \${{ toJSON(github.event) }}
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const [summary, fileLine = '', contextLine = ''] = logLines(result.stdout, 'show');
    expect(summary).toBe(
      `before=${parent} after=${sha} repo=acme/widgets at=2023-11-15T00:13:20+02:00 by=Ada L`,
    );
    const payload = JSON.parse(fileLine.slice('file='.length)) as Record<string, unknown>;
    expect(payload).toMatchObject({
      ref: 'refs/heads/main',
      after: sha,
      before: parent,
      head_commit: { id: sha, message: 'Ship it\n\nthe body', author: { name: 'Ada L', email: 'ada@e' } },
      repository: { name: 'widgets', full_name: 'acme/widgets', html_url: 'https://github.com/acme/widgets' },
    });
    expect(JSON.parse(contextLine.slice('context='.length))).toEqual(payload);
  });
});

describe('valkyrie rerun of a push run in a git checkout', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('gives the jobs the commit and payload the run started with, though HEAD has moved on', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: ws.dir })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('commit', '-q', '--allow-empty', '-m', 'the run starts here');
    const sha = git('rev-parse', 'HEAD');
    const file = ws.write(
      'push.yml',
      `on: push
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "$GITHUB_SHA \${{ github.event.after }} \${{ github.event.head_commit.message }}"
          test -f fixed
`,
    );
    expect((await ws.run(['run', file])).code).toBe(1);
    git('commit', '-q', '--allow-empty', '-m', 'a later commit');
    ws.write('fixed', '');
    const rerun = await ws.run(['rerun', '1', '--json']);
    expect(rerun.code).toBe(0);
    expect(logLines(rerun.stdout, 'show')).toEqual([`${sha} ${sha} the run starts here`]);
  });
});

describe('the concurrency group of a push run in a git checkout', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is evaluated with the push payload, as the run sees it', async () => {
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: ws.dir });
    execFileSync(
      'git',
      ['-c', 'user.name=A', '-c', 'user.email=a@e', 'commit', '-q', '--allow-empty', '-m', 'one'],
      {
        cwd: ws.dir,
      },
    );
    const file = ws.write(
      'grouped.yml',
      `on: push
concurrency: deploy-\${{ github.event.head_commit.message }}
jobs:
  hold:
    runs-on: ubuntu-latest
    steps:
      - run: touch started; while [ ! -f open ]; do sleep 0.05; done
`,
    );
    const first = ws.start(['run', file]);
    const firstDone = collect(first);
    await waitFor(() => existsSync(join(ws.dir, 'started')), 15_000, 'the first run to start');
    const second = ws.start(['run', file, '--json']);
    let output = '';
    second.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const secondDone = collect(second);
    await waitFor(() => output.includes('"type":"concurrency"'), 15_000, 'the second run to wait');
    writeFileSync(join(ws.dir, 'open'), '');
    const [one, two] = await Promise.all([firstDone, secondDone]);
    expect([one.code, two.code]).toEqual([0, 0]);
    const waiting = events(two.stdout).find((event) => event.type === 'concurrency');
    expect(waiting).toMatchObject({ group: 'deploy-one', state: 'waiting' });
  });
});
