import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, realpath, stat, statfs, symlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { list, Parser, type ReadEntry } from 'tar';
import { ValkyrieError } from '../core/errors.js';
import { sha256File } from '../platform/sha256-file.js';
import { checkEntries, fileTypes, type ListedEntry, permissionBits, relativePath } from './entry-checks.js';
import { formatBytes } from './size.js';

export interface UnpackOptions {
  /** The downloaded bundle file. */
  readonly archive: string;
  /** The hex sha256 the bundle was asked for by; checked before anything is unpacked. */
  readonly sha256: string;
  /** Created when missing; must be empty. */
  readonly target: string;
  /** Refuse a bundle whose files add up to more (default: none but the free space of the target's disk). */
  readonly maxBytes?: number;
}

/**
 * Unpacks a workspace bundle into an empty directory, in three steps so that a hostile archive
 * writes nothing at all: check its sha256 (VK_BUNDLE_HASH_MISMATCH); read every entry and refuse the
 * archive (VK_BUNDLE_UNSAFE, naming the entry) if one has an absolute path or a `..` part, is a
 * symbolic link to outside the directory or an absolute one, lies under another entry that is a
 * symbolic link, repeats a path, or is a hard link, device or FIFO; then write the entries, with
 * their read, write and execute bits exactly (the umask does not narrow them; setuid, setgid and
 * sticky bits are dropped: permissionBits) and the time of unpacking. A bundle
 * whose files add up to more than `maxBytes` or than the disk has free (a few KiB of gzip can claim
 * gigabytes) is refused as VK_BUNDLE_TOO_LARGE before anything is written. Returns the number of entries.
 */
export async function unpackBundle(options: UnpackOptions): Promise<number> {
  const actual = await sha256File(options.archive);
  if (actual !== options.sha256.toLowerCase())
    throw new ValkyrieError(
      'VK_BUNDLE_HASH_MISMATCH',
      `the workspace bundle's sha256 is ${actual}, expected ${options.sha256}; it was not unpacked`,
    );
  await mkdir(options.target, { recursive: true });
  if ((await readdir(options.target)).length > 0)
    throw new ValkyrieError(
      'VK_WORKSPACE_NOT_EMPTY',
      `cannot unpack the workspace bundle into ${options.target}: the directory is not empty`,
    );
  // A workspace with no files packs to end-of-archive blocks alone, which tar's strict reader refuses.
  const entries = await listEntries(options.archive).catch(async (error: unknown) => {
    if (await holdsNoEntries(options.archive)) return undefined;
    throw error;
  });
  if (entries === undefined) return 0;
  checkEntries(entries);
  const release = await reserveSpace(entries, options);
  try {
    await writeEntries(options.archive, await realpath(options.target));
  } finally {
    release();
  }
  return entries.filter((entry) => entry.type !== 'Directory').length;
}

/**
 * Bytes promised to unpacks still writing, by device: the disk's free space does not count them
 * yet, so two runner slots unpacking at once would each see all of it.
 */
const reservedByDevice = new Map<number, number>();

/** Past this many bytes unpacked, an archive is not the few zero blocks of an empty one. */
const emptyArchiveBytes = 64 * 1024;

/** Whether the gzipped tar `archive` is zero blocks only (no entry), as one of an empty workspace is. */
async function holdsNoEntries(archive: string): Promise<boolean> {
  let bytes = 0;
  let zeros = true;
  try {
    await pipeline(createReadStream(archive), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) {
        bytes += chunk.length;
        if (bytes > emptyArchiveBytes || chunk.some((byte) => byte !== 0)) {
          zeros = false;
          return;
        }
      }
    });
  } catch {
    // Not gzip, cut short, or left early: the tar reader says what is wrong with it.
    return false;
  }
  return zeros && bytes > 0;
}

async function listEntries(archive: string): Promise<ListedEntry[]> {
  const entries: ListedEntry[] = [];
  await list({
    file: archive,
    strict: true,
    onReadEntry: (entry) => {
      entries.push(listed(entry));
    },
  });
  return entries;
}

function listed(entry: ReadEntry): ListedEntry {
  return {
    path: entry.path,
    type: entry.type,
    linkpath: entry.linkpath ?? '',
    mode: entry.mode ?? 0o644,
    size: entry.size ?? 0,
  };
}

/** Refuses the bundle when its files do not fit; otherwise reserves their size until the returned release. */
async function reserveSpace(entries: readonly ListedEntry[], options: UnpackOptions): Promise<() => void> {
  const total = entries.reduce((sum, entry) => sum + (fileTypes.has(entry.type) ? entry.size : 0), 0);
  const [disk, { dev }] = await Promise.all([statfs(options.target), stat(options.target)]);
  const reserved = reservedByDevice.get(dev) ?? 0;
  const free = Math.max(0, disk.bavail * disk.bsize - reserved);
  const limit = Math.min(options.maxBytes ?? Number.POSITIVE_INFINITY, free);
  if (total <= limit) {
    reservedByDevice.set(dev, reserved + total);
    return () => {
      const left = (reservedByDevice.get(dev) ?? total) - total;
      if (left > 0) reservedByDevice.set(dev, left);
      else reservedByDevice.delete(dev);
    };
  }
  const others =
    reserved > 0 ? ` (after ${formatBytes(reserved)} promised to other bundles being unpacked)` : '';
  const why =
    limit === free
      ? `the disk of ${options.target} has ${formatBytes(free)} free${others}`
      : `the limit is ${formatBytes(limit)}`;
  throw new ValkyrieError(
    'VK_BUNDLE_TOO_LARGE',
    `the workspace bundle's files add up to ${formatBytes(total)} and ${why}; it was not unpacked`,
  );
}

/**
 * Our own writer rather than tar's extract: entries are already checked, and tar refuses a link to
 * another link (`libx.so -> libx.so.1 -> libx.so.1.2`), which real trees have. Still defensive:
 * files are created exclusively (never through an existing link), and every parent directory must
 * resolve inside the target.
 */
function writeEntries(archive: string, root: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const writes: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        // Caught at once: a rejection left for Promise.all at the end would count as unhandled.
        const write = writeEntry(root, entry).catch((error: unknown) => {
          failure ??= { error };
        });
        writes.push(write);
      },
    });
    const fail = (error: unknown) => {
      input.destroy();
      reject(error);
    };
    const input = createReadStream(archive);
    input.on('error', fail);
    parser.on('error', fail);
    parser.on('end', () => {
      void Promise.all(writes).then(() => (failure ? reject(failure.error) : resolve()));
    });
    input.pipe(parser);
  });
}

async function writeEntry(root: string, entry: ReadEntry): Promise<void> {
  try {
    await writeEntryData(root, entry);
  } catch (error) {
    // The parser waits for each entry's data to be read: drain it, or the whole unpack stalls.
    entry.resume();
    throw error;
  }
}

async function writeEntryData(root: string, entry: ReadEntry): Promise<void> {
  const info = listed(entry);
  const path = relativePath(info);
  const absolute = join(root, path);
  if (info.type === 'Directory') {
    entry.resume();
    if (path !== '') await mkdir(absolute, { recursive: true });
    return;
  }
  if (info.type === 'SymbolicLink') {
    entry.resume();
    await makeParent(root, absolute);
    await symlink(info.linkpath, absolute);
    return;
  }
  if (!fileTypes.has(info.type)) {
    entry.resume();
    return;
  }
  await makeParent(root, absolute);
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(absolute, { flags: 'wx', mode: 0o600 });
    out.on('error', (error) => {
      entry.unpipe(out);
      reject(error);
    });
    out.on('close', resolve);
    entry.pipe(out);
  });
  // Not the archive's setuid, setgid or sticky bits, which a bundle of an older client still carries.
  await chmod(absolute, info.mode & permissionBits);
}

async function makeParent(root: string, absolute: string): Promise<void> {
  const parent = dirname(absolute);
  await mkdir(parent, { recursive: true });
  const real = await realpath(parent);
  if (real !== root && !real.startsWith(root + sep))
    throw new ValkyrieError(
      'VK_BUNDLE_UNSAFE',
      `the workspace bundle entry ${absolute} resolves outside ${root}`,
    );
}
