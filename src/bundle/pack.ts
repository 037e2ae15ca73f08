import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, open, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';
import { ValkyrieError } from '../core/errors.js';
import { checkPackable, permissionBits } from './entry-checks.js';
import { changed, entryReadError } from './entry-read-errors.js';
import { type SnapshotFile, snapshotGitHead } from './git-snapshot.js';
import { defaultMaxBundleBytes, formatBytes } from './size.js';
import { type FileSource, listWorkspaceFiles } from './workspace-files.js';

export interface PackOptions {
  /** Refuse workspaces whose files add up to more than this many bytes (default 1 GiB). */
  readonly maxBytes?: number;
  /** Where the bundle file goes (default: a new directory under the OS temp directory). */
  readonly tempDir?: string;
  /**
   * Whether a workspace at the top of a git work tree takes a `.git` of HEAD's commit along
   * (snapshotGitHead; default true), so that its jobs can run git as in a checkout.
   */
  readonly gitDir?: boolean;
  /** Told once the workspace's files are listed and sized, before any is read or anything written. */
  readonly onListed?: (listed: ListedWorkspace) => void;
  /**
   * Told as file contents are read into the bundle, with the bytes read so far: the workspace's
   * files (up to ListedWorkspace.contentBytes), then the `.git`'s.
   */
  readonly onRead?: (bytesRead: number) => void;
  /** Stops the packing: packWorkspace rejects with its AbortError, and the bundle file is removed. */
  readonly signal?: AbortSignal;
  /**
   * Files not to pack, by identity: where the packing command's own output goes when it is
   * redirected into the workspace (`submit > submit.log`), which it writes to while it packs.
   */
  readonly skipFiles?: readonly FileIdentity[];
}

/** A file as fstat names it, whatever path leads to it. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** What a pack is about to read (PackOptions.onListed). */
export interface ListedWorkspace {
  readonly fileCount: number;
  /** Sum of the files' sizes, before compression. */
  readonly contentBytes: number;
  readonly source: FileSource;
}

/** A bundle on disk. `dispose` removes it; it is idempotent. */
export interface PackedBundle {
  readonly path: string;
  /** Hex sha256 of the gzipped bytes: the bundle's name on the server. */
  readonly sha256: string;
  /** Size of the gzipped file. */
  readonly bytes: number;
  readonly fileCount: number;
  /** The workspace's paths packed (files and links, `/`-separated; not the `.git` made for the jobs). */
  readonly paths: ReadonlySet<string>;
  /** Sum of the packed files' sizes, before compression. */
  readonly contentBytes: number;
  readonly source: FileSource;
  /** Runner work dirs inside the workspace whose files were left out (WorkspaceFiles.runnerWorkDirs). */
  readonly runnerWorkDirs: readonly string[];
  /** Git repositories in the workspace that are no submodules, whose files were left out (WorkspaceFiles). */
  readonly nestedRepositories: readonly string[];
  /** The workspace's paths of PackOptions.skipFiles, which were left out. */
  readonly skipped: readonly string[];
  /**
   * The commit whose `.git` the bundle holds and that folder's size (not in fileCount and
   * contentBytes), or why git could not make one (a note for the user).
   */
  readonly git:
    | { readonly commit: string; readonly bytes: number }
    | { readonly problem: string }
    | undefined;
  dispose(): Promise<void>;
}

interface Entry {
  readonly path: string;
  /** Where its content is read: in the workspace, or for `.git`, where the snapshot was made. */
  readonly absolute: string;
  readonly kind: 'file' | 'symlink' | 'directory';
  /** A symbolic link's target, read with its lstat. */
  readonly linkpath?: string;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
}

const block = 512;
const readChunk = 256 * 1024;
/** Entries carry no time: the same tree must give the same bytes whenever it is packed. */
const epoch = new Date(0);

/**
 * Packs the workspace at `root` (files chosen by listWorkspaceFiles) into a gzipped POSIX tar that
 * depends only on the tree: the workspace's entries sorted by path, then the `.git` snapshot's and
 * the submodules' empty folders; mtime, uid and gid zeroed, no user or group names, the read, write
 * and execute bits kept (permissionBits: not setuid, setgid or sticky), symbolic links stored as
 * links, the workspace's directories implied by paths (its empty ones are not kept). The archive
 * streams to a temp file; memory stays flat for large workspaces.
 *
 * Throws VK_BUNDLE_TOO_LARGE (before writing anything) when the workspace's files add up to more
 * than `maxBytes`, VK_BUNDLE_UNSAFE (before writing anything) for an entry runners refuse to unpack,
 * VK_BUNDLE_CHANGED when a file vanishes or changes while it is read, and VK_BUNDLE_UNREADABLE when
 * this user may not read one (entryReadError). A `.git` that would take the bundle past `maxBytes`
 * is left out, and `git` says so.
 */
export async function packWorkspace(root: string, options: PackOptions = {}): Promise<PackedBundle> {
  const maxBytes = options.maxBytes ?? defaultMaxBundleBytes;
  const listed = await listWorkspaceFiles(root);
  const skipped: string[] = [];
  const workspaceEntries = await statEntries(root, listed.paths, options.skipFiles ?? [], skipped);
  const types = { file: 'File', symlink: 'SymbolicLink', directory: 'Directory' } as const;
  checkPackable(
    workspaceEntries.map((entry) => ({ ...entry, type: types[entry.kind], linkpath: entry.linkpath ?? '' })),
  );
  const contentBytes = sizeOf(workspaceEntries);
  if (contentBytes > maxBytes) throw tooLarge(workspaceEntries, contentBytes, maxBytes);
  options.onListed?.({ fileCount: workspaceEntries.length, contentBytes, source: listed.source });
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'valkyrie-bundle-'));
  const path = join(dir, 'bundle.tar.gz');
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    let snapshot =
      listed.source === 'git' && options.gitDir !== false
        ? await snapshotGitHead(root, join(dir, 'snapshot'))
        : undefined;
    let gitEntries = [
      ...(await snapshotEntries(snapshot?.files ?? [])),
      ...submoduleFolders(snapshot?.commit === undefined ? [] : snapshot.submodules, workspaceEntries),
    ];
    if (contentBytes + sizeOf(gitEntries) > maxBytes) {
      const over = `it would take the bundle over its limit of ${formatBytes(maxBytes)}`;
      snapshot = { files: [], problem: over };
      gitEntries = [];
    }
    const entries = [...workspaceEntries, ...gitEntries];
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(
      Readable.from(tarStream(entries, options.onRead)),
      // Level and strategy fixed so the compressed bytes depend only on the tar (for one zlib); the
      // fastest level, as gzip is nearly all of the packing time (docs/submit.md has the measurement).
      createGzip({ level: 1 }),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(path),
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const sha256 = hash.digest('hex');
    const git =
      snapshot === undefined
        ? undefined
        : snapshot.commit !== undefined
          ? { commit: snapshot.commit, bytes: sizeOf(gitEntries) }
          : snapshot.problem === undefined
            ? undefined
            : { problem: snapshot.problem };
    return {
      path,
      sha256,
      bytes,
      fileCount: workspaceEntries.length,
      paths: new Set(workspaceEntries.map((entry) => entry.path)),
      contentBytes,
      source: listed.source,
      runnerWorkDirs: listed.runnerWorkDirs,
      nestedRepositories: listed.nestedRepositories,
      skipped,
      git,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** `skipped` gets the paths of the files of `skip`, which are left out. */
async function statEntries(
  root: string,
  paths: readonly string[],
  skip: readonly FileIdentity[],
  skipped: string[],
): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const path of paths) {
    const absolute = join(root, path);
    const stat = await lstat(absolute).catch((error: unknown) => {
      throw entryReadError(path, error, 'it vanished after the file list was made');
    });
    if (stat.isFile() && skip.some(({ dev, ino }) => stat.dev === dev && stat.ino === ino)) {
      skipped.push(path);
      continue;
    }
    const mode = stat.mode & permissionBits;
    const { size, mtimeMs } = stat;
    if (stat.isFile()) entries.push({ path, absolute, kind: 'file', mode, size, mtimeMs });
    else if (stat.isSymbolicLink()) {
      const linkpath = await readlink(absolute).catch((error: unknown) => {
        throw entryReadError(path, error, 'the symbolic link vanished while the bundle was made');
      });
      entries.push({ path, absolute, kind: 'symlink', linkpath, mode, size: 0, mtimeMs });
    }
    // Anything else (a git submodule's directory, a socket, a FIFO) has no place in a workspace.
  }
  return entries;
}

/**
 * The `.git` snapshot's entries, with fixed modes rather than the ones this umask gave them, so that
 * the same commit makes the same bundle for everyone: packs read-only, as git leaves them.
 */
async function snapshotEntries(files: readonly SnapshotFile[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const { path, absolute, kind } of files) {
    const stat = await lstat(absolute);
    const size = kind === 'file' ? stat.size : 0;
    const mode = kind === 'directory' ? 0o755 : path.startsWith('.git/objects/') ? 0o444 : 0o644;
    entries.push({ path, absolute, kind, mode, size, mtimeMs: stat.mtimeMs });
  }
  return entries;
}

/**
 * An empty folder at each submodule's path, unless the work tree has something else there now (a
 * file, or files under it): those are bundled as they are, and git shows the change.
 */
function submoduleFolders(paths: readonly string[], workspace: readonly Entry[]): Entry[] {
  const taken = (path: string) =>
    workspace.some(
      (entry) =>
        entry.path === path || entry.path.startsWith(`${path}/`) || path.startsWith(`${entry.path}/`),
    );
  return paths
    .filter((path) => !taken(path))
    .map((path) => ({ path, absolute: '', kind: 'directory', mode: 0o755, size: 0, mtimeMs: 0 }));
}

async function* tarStream(
  entries: readonly Entry[],
  onRead: (bytesRead: number) => void = () => {},
): AsyncGenerator<Buffer> {
  let bytesRead = 0;
  for (const entry of entries) {
    if (entry.kind === 'symlink') {
      const linkpath = entry.linkpath ?? '';
      yield* headerBlocks({ path: entry.path, type: 'SymbolicLink', mode: entry.mode, size: 0, linkpath });
      continue;
    }
    if (entry.kind === 'directory') {
      yield* headerBlocks({ path: `${entry.path}/`, type: 'Directory', mode: entry.mode, size: 0 });
      continue;
    }
    yield* headerBlocks({ path: entry.path, type: 'File', mode: entry.mode, size: entry.size });
    yield* fileBlocks(entry, (bytes) => {
      bytesRead += bytes;
      onRead(bytesRead);
    });
  }
  yield Buffer.alloc(block * 2);
}

function* headerBlocks(data: {
  path: string;
  type: 'File' | 'SymbolicLink' | 'Directory';
  mode: number;
  size: number;
  linkpath?: string;
}): Generator<Buffer> {
  const header = new Header({ ...data, uid: 0, gid: 0, uname: '', gname: '', mtime: epoch });
  const out = Buffer.alloc(block);
  // encode() reports that a field (a long path or link) does not fit ustar: a pax header carries it.
  if (header.encode(out)) yield new Pax({ path: data.path, linkpath: data.linkpath, mtime: epoch }).encode();
  yield out;
}

/** The file's bytes padded to whole blocks; a size or mtime that moved means it changed meanwhile. */
async function* fileBlocks(entry: Entry, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  const handle = await open(entry.absolute, 'r').catch((error: unknown) => {
    throw entryReadError(entry.path, error, 'it vanished while the bundle was made');
  });
  try {
    let left = entry.size;
    while (left > 0) {
      const buffer = Buffer.alloc(Math.min(readChunk, left));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, entry.size - left);
      if (bytesRead === 0) throw changed(entry.path, 'it shrank while the bundle was made');
      left -= bytesRead;
      onRead(bytesRead);
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
    const after = await handle.stat();
    if (after.size !== entry.size || after.mtimeMs !== entry.mtimeMs)
      throw changed(entry.path, 'it was written to while the bundle was made');
  } finally {
    await handle.close();
  }
  const padding = (block - (entry.size % block)) % block;
  if (padding > 0) yield Buffer.alloc(padding);
}

function sizeOf(entries: readonly Entry[]): number {
  return entries.reduce((sum, entry) => sum + entry.size, 0);
}

function tooLarge(entries: readonly Entry[], total: number, max: number): ValkyrieError {
  const byTop = new Map<string, number>();
  for (const entry of entries) {
    const slash = entry.path.indexOf('/');
    const top = slash < 0 ? entry.path : `${entry.path.slice(0, slash)}/`;
    byTop.set(top, (byTop.get(top) ?? 0) + entry.size);
  }
  const largest = [...byTop]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([top, size]) => `${top} ${formatBytes(size)}`)
    .join(', ');
  return new ValkyrieError(
    'VK_BUNDLE_TOO_LARGE',
    `the workspace is ${formatBytes(total)} in ${entries.length} files, over the bundle limit of ` +
      `${formatBytes(max)} (largest: ${largest}); nothing was uploaded. Leave paths out with ` +
      '.valkyrieignore, or raise the limit with --max-bundle-size',
  );
}
