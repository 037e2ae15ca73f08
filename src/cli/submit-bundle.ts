import { fstatSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { FileIdentity, ListedWorkspace, PackedBundle } from '../bundle/pack.js';
import { packSettledWorkspace } from '../bundle/pack-settled.js';
import { formatBytes } from '../bundle/size.js';
import type { FileSource } from '../bundle/workspace-files.js';
import { formatDelay } from '../core/retry-delay.js';
import type { LoadedLocalAction } from './local-action-check.js';
import type { ProgressLine } from './progress-line.js';
import type { ServerClient } from './server-client.js';

/** What `submit --json` reports of the bundle. */
export interface BundleReport {
  readonly sha256: string;
  readonly bytes: number;
  readonly files: number;
  readonly uploaded: boolean;
  /** The commit whose `.git` the bundle holds. */
  readonly gitCommit?: string;
}

/** How `submit` packs and uploads its workspace. */
export interface UploadOptions {
  readonly maxBytes: number;
  readonly gitDir: boolean;
  /** The workflow's local actions, whose action.yml the bundle must hold for their steps to run. */
  readonly localActions?: readonly LoadedLocalAction[];
}

/**
 * A workspace this large (its files' sizes, or their number) takes seconds to pack and upload, so
 * its steps are announced in lines of their own; a smaller one gets only the summary line.
 */
export const announcedBytes = 8 * 1024 ** 2;
export const announcedFiles = 5_000;

/**
 * Packs the workspace (after the bundle check of a bundle that none is, so a wrong server or token
 * is told before the packing), uploads it unless the server has it, and tells the user on stderr
 * through `progress`: `Workspace: … bundle … : uploaded` (or `already on the server`); for a large
 * workspace also when packing and uploading start and how long they took, and how far each has got
 * (ProgressLine: a live line on a terminal, a plain line now and then otherwise).
 */
export async function uploadWorkspace(
  client: ServerClient,
  root: string,
  options: UploadOptions & {
    /** Stops the packing or the upload (interruptibleUpload); the temporary bundle is removed. */
    readonly signal?: AbortSignal;
  },
  progress: ProgressLine,
): Promise<BundleReport> {
  await client.checkBundleAccess(options.signal);
  let listed: ListedWorkspace | undefined;
  const packStart = Date.now();
  let readStart = packStart;
  const bundle = await packSettledWorkspace(root, {
    maxBytes: options.maxBytes,
    gitDir: options.gitDir,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    skipFiles: ownOutputFiles(),
    onListed: (workspace) => {
      listed = workspace;
      readStart = Date.now();
      if (isLarge(workspace)) progress.say(`Packing ${contentOf(workspace)}…`);
      progress.begin();
    },
    onRead: (bytesRead) => {
      const total = listed?.contentBytes ?? 0;
      progress.update(
        () =>
          `Packing ${contentOf(listed)}: ${share(bytesRead, total)} read` +
          rate(Math.min(bytesRead, total), Date.now() - readStart),
        total === 0 ? 1 : bytesRead / total,
      );
    },
    onRetry: (change) =>
      progress.say(`valkyrie: ${change.message.replace(/try again$/, 'packing the workspace again')}`),
  });
  try {
    const packedIn = formatDelay(Date.now() - packStart);
    const large = isLarge(bundle);
    const git = bundle.git;
    const withGit =
      git !== undefined && 'commit' in git
        ? ` and .git at ${git.commit.slice(0, 12)} (${formatBytes(git.bytes)})`
        : '';
    for (const dir of bundle.runnerWorkDirs) progress.say(runnerWorkDirNote(dir));
    for (const dir of bundle.nestedRepositories)
      progress.say(
        `valkyrie: note: left ${JSON.stringify(dir)} out of the bundle: it is a git repository of its own ` +
          "(not a submodule), whose files git does not list, so they are not sent, as a submodule's are " +
          'not; add it to .valkyrieignore to leave it out without this note',
      );
    for (const path of bundle.skipped)
      progress.say(
        `valkyrie: note: left ${JSON.stringify(path)} out of the bundle: it is where this command's output goes`,
      );
    for (const action of options.localActions ?? [])
      if (!bundle.paths.has(packedPathOf(root, action.file)))
        progress.say(leftOutActionWarning(action, bundle.source));
    if (git !== undefined && 'problem' in git)
      progress.say(
        `valkyrie: warning: the bundle has no .git, so its jobs cannot run git on it (${git.problem})`,
      );
    const summary =
      `Workspace: ${contentOf(bundle)}${withGit}, ` +
      `bundle ${bundle.sha256.slice(0, 12)} of ${formatBytes(bundle.bytes)}`;
    const present = await client.hasBundle(bundle.sha256, options.signal);
    if (present) {
      progress.say(
        `${summary}: already on the server${large ? `, not uploaded again (packed in ${packedIn})` : ''}`,
      );
    } else {
      const uploadedIn = await upload(client, bundle, large ? packedIn : undefined, progress, options.signal);
      progress.say(`${summary}: uploaded${large ? ` in ${uploadedIn}` : ''}`);
    }
    return {
      sha256: bundle.sha256,
      bytes: bundle.bytes,
      files: bundle.fileCount,
      uploaded: !present,
      ...(git !== undefined && 'commit' in git ? { gitCommit: git.commit } : {}),
    };
  } finally {
    progress.clear();
    await bundle.dispose();
  }
}

/** `packedIn` is given for a large bundle, whose upload is announced with it. Resolves with how long it took. */
async function upload(
  client: ServerClient,
  bundle: PackedBundle,
  packedIn: string | undefined,
  progress: ProgressLine,
  signal: AbortSignal | undefined,
): Promise<string> {
  const size = formatBytes(bundle.bytes);
  if (packedIn !== undefined)
    progress.say(`Packed in ${packedIn}; uploading the bundle (${size}) to ${client.origin}…`);
  let start = Date.now();
  await client.uploadBundle(
    bundle.sha256,
    bundle.path,
    bundle.bytes,
    (sent) => {
      if (sent === 0) {
        start = Date.now();
        progress.begin();
      }
      progress.update(
        () =>
          sent < bundle.bytes
            ? `Uploading the bundle: ${share(sent, bundle.bytes)}${rate(sent, Date.now() - start)}`
            : `Uploaded the bundle (${size}); waiting for the server to store it`,
        bundle.bytes === 0 ? 1 : sent / bundle.bytes,
      );
    },
    signal,
  );
  return formatDelay(Date.now() - start);
}

/**
 * This process's stdout and stderr when they are files (`submit > submit.log 2>&1`, as CI scripts
 * keep a step's output): one in the workspace would be packed half-written, or, as it grows while it
 * is read, spoil every try (VK_BUNDLE_CHANGED).
 */
function ownOutputFiles(): FileIdentity[] {
  const files: FileIdentity[] = [];
  for (const fd of [1, 2]) {
    try {
      const stat = fstatSync(fd);
      if (stat.isFile()) files.push({ dev: stat.dev, ino: stat.ino });
    } catch {
      // A closed descriptor is no file of the workspace.
    }
  }
  return files;
}

function isLarge(workspace: ListedWorkspace): boolean {
  return workspace.contentBytes >= announcedBytes || workspace.fileCount >= announcedFiles;
}

/** `214 files (3.1 MiB, git-tracked and new unignored)`. */
function contentOf(workspace: ListedWorkspace | undefined): string {
  if (workspace === undefined) return 'the workspace';
  const files = `${workspace.fileCount} ${workspace.fileCount === 1 ? 'file' : 'files'}`;
  const from = workspace.source === 'git' ? ', git-tracked and new unignored' : '';
  return `${files} (${formatBytes(workspace.contentBytes)}${from})`;
}

/** `34 MiB of 90 MiB (38%)`; the `.git`, read after the files, keeps it at 100%. */
function share(done: number, total: number): string {
  const percent = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
  return `${formatBytes(Math.min(done, total))} of ${formatBytes(total)} (${percent}%)`;
}

function rate(bytes: number, ms: number): string {
  return ms < 1000 ? '' : `, ${formatBytes(Math.round(bytes / (ms / 1000)))}/s`;
}

/**
 * Where the bundle holds the workspace's file `path` when it holds it: through the links on the way
 * (`actions/x -> ../shared/x`, kept as links), the path of the file they lead to.
 */
function packedPathOf(root: string, path: string): string {
  try {
    return relative(realpathSync(root), realpathSync(join(root, path)))
      .split(sep)
      .join('/');
  } catch {
    return path;
  }
}

/**
 * A local action that `valkyrie run` finds on disk, but the bundle leaves out: its steps would fail
 * on every runner, minutes into the run. Why, for the cases a user meets.
 */
function leftOutActionWarning(action: LoadedLocalAction, source: FileSource): string {
  const state = action.file.startsWith('.valkyrie/');
  const why =
    state && source === 'folder'
      ? 'outside git, .valkyrie/ is left out as local state'
      : state
        ? 'untracked files under .valkyrie/ are left out as local state: git add it'
        : 'an ignore file (.gitignore, .valkyrieignore) leaves it out';
  return (
    `valkyrie: warning: the bundle leaves out ${action.file}, of the local action ${action.uses} that ` +
    `the workflow uses, so its steps will fail on the runners: ${why} (docs/submit.md, "What goes into a bundle")`
  );
}

/** A runner's work dir left out of the bundle (bundle/runner-work-dirs.ts): `''` is the workspace itself. */
function runnerWorkDirNote(dir: string): string {
  if (dir === '')
    return (
      "valkyrie: note: the workspace is a valkyrie runner's work dir: its runner.json (the runner's " +
      'credential) and runner.lock are left out of the bundle'
    );
  return (
    `valkyrie: note: left ${JSON.stringify(`${dir}/`)} out of the bundle: it is a valkyrie runner's work dir ` +
    '(its credential and job directories); give the runner a --work-dir outside the workspace, or add it to .gitignore'
  );
}
