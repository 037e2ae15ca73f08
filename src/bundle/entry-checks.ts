import { isAbsolute, sep } from 'node:path';
import { ValkyrieError } from '../core/errors.js';

/** What unpacking needs to know of an archive entry, read before anything is written. */
export interface ListedEntry {
  readonly path: string;
  readonly type: string;
  readonly linkpath: string;
  readonly mode: number;
  /** Bytes of content the entry will write. */
  readonly size: number;
}

export const fileTypes: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * The bits of a file's mode a bundle carries and an unpack sets: read, write and execute. Not
 * setuid, setgid or sticky: a runner unpacks as its own user, so a setuid file there would run as
 * that user for anyone on the machine allowed to execute it (git keeps less still: 644 or 755).
 */
export const permissionBits = 0o777;

/**
 * Throws VK_BUNDLE_UNSAFE for the first entry that could write outside the target, or is refused.
 * Entries are written concurrently afterwards, so no entry may depend on another being written
 * first: none lies under a link or a file of the archive, and no path repeats.
 */
export function checkEntries(entries: readonly ListedEntry[]): void {
  const symlinks = new Set<string>();
  const files = new Set<string>();
  for (const entry of entries) {
    if (entry.type === 'SymbolicLink') symlinks.add(linkKey(relativePath(entry)));
    else if (entry.type !== 'Directory') files.add(linkKey(relativePath(entry)));
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const path = relativePath(entry);
    if (path === '' && entry.type === 'Directory') continue;
    if (path === '') throw unsafe(entry, 'the path is empty');
    if (seen.has(path.normalize('NFC'))) throw unsafe(entry, 'the path appears twice');
    seen.add(path.normalize('NFC'));
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (symlinks.has(linkKey(parent))) throw unsafe(entry, `it lies under the symbolic link ${parent}`);
      if (files.has(linkKey(parent))) throw unsafe(entry, `it lies under ${parent}, which is a file`);
    }
    if (entry.type === 'SymbolicLink') checkLink(entry, path, symlinks);
    else if (!fileTypes.has(entry.type) && entry.type !== 'Directory')
      throw unsafe(entry, `a ${entry.type} entry is not allowed in a workspace bundle`);
  }
}

/**
 * For a packer: refuses, before anything is written, an entry that every runner would refuse to
 * unpack (checkEntries), such as a link out of the workspace: uploaded, it would fail each job of
 * the run. The message is the packer's: which entry, why, and how to leave it out.
 */
export function checkPackable(entries: readonly ListedEntry[]): void {
  try {
    checkEntries(entries);
  } catch (error) {
    if (!(error instanceof UnsafeEntryError)) throw error;
    const fix =
      error.entry.type === 'SymbolicLink'
        ? 'point it inside the workspace with a relative path, or leave it out'
        : 'leave it out';
    throw new ValkyrieError(
      'VK_BUNDLE_UNSAFE',
      `cannot bundle ${error.entry.path}: ${error.why}, which runners refuse to unpack (nothing was uploaded); ${fix} with .valkyrieignore`,
    );
  }
}

/**
 * What splits a path into names where the bundle is unpacked: on Windows a backslash too; elsewhere
 * it is part of a name (`fixtures/C:\Users\me.txt`, a test's Windows path), which `..` inside
 * cannot climb out of.
 */
const separators = sep === '\\' ? /[/\\]/ : /\//;

/** Paths compared as a case-insensitive file system (macOS, Windows) would see them. */
const linkKey = (path: string) => path.normalize('NFC').toLowerCase();

/** The entry's path without `.` parts or a trailing slash; refuses absolute paths and `..`. */
export function relativePath(entry: ListedEntry): string {
  const path = entry.path;
  if (path.includes('\0')) throw unsafe(entry, 'the path holds a NUL byte');
  if (path.startsWith('/') || isAbsolute(path) || /^[a-zA-Z]:/.test(path))
    throw unsafe(entry, 'the path is absolute');
  const parts = path.split(separators).filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw unsafe(entry, 'the path has a ".." part');
  return parts.join('/');
}

/**
 * A link's target is resolved from the link's directory, a part at a time: it may not leave the
 * workspace, and may not pass through another symbolic link of the archive, whose own target would
 * make a later `..` mean something other than it reads.
 */
function checkLink(entry: ListedEntry, path: string, symlinks: ReadonlySet<string>): void {
  const target = entry.linkpath;
  if (target === '' || target.startsWith('/') || isAbsolute(target))
    throw unsafe(entry, `the symbolic link points to ${JSON.stringify(target)}, an absolute path`);
  const stack = path.split('/').slice(0, -1);
  for (const part of target.split(separators)) {
    if (part === '' || part === '.') continue;
    const here = stack.join('/');
    if (stack.length > 0 && symlinks.has(linkKey(here)))
      throw unsafe(
        entry,
        `the symbolic link's target ${JSON.stringify(target)} goes through the link ${here}`,
      );
    if (part !== '..') stack.push(part);
    else if (stack.pop() === undefined)
      throw unsafe(entry, `the symbolic link points to ${JSON.stringify(target)}, outside the workspace`);
  }
}

/** VK_BUNDLE_UNSAFE with the refused entry and why, for checkPackable to tell in a packer's words. */
class UnsafeEntryError extends ValkyrieError {
  constructor(
    readonly entry: ListedEntry,
    readonly why: string,
  ) {
    super(
      'VK_BUNDLE_UNSAFE',
      `the workspace bundle was refused at entry ${JSON.stringify(entry.path)}: ${why}; nothing was unpacked`,
    );
  }
}

function unsafe(entry: ListedEntry, why: string): ValkyrieError {
  return new UnsafeEntryError(entry, why);
}
