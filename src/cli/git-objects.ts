import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

/** Pack entry types (gitformat-pack): the ones a commit can be stored as. */
const commitType = 1;
const offsetDeltaType = 6;
const refDeltaType = 7;
/** A chain of deltas longer than git's own default depth limit (50) by far: a corrupt pack. */
const maxDeltaDepth = 1000;
/**
 * The largest object read (bytes, inflated): a commit is a few KiB, and the API takes a 64 Ki message;
 * a hostile object of a few KiB could otherwise inflate to gigabytes.
 */
export const maxObjectBytes = 16 * 1024 * 1024;

/**
 * The content of a git object of a SHA-1 repository, read from the files under `objects/` (no `git`
 * process: a run reads one commit at start): loose (`objects/ab/cdef…`) or in a pack with a version 2
 * index, deltas resolved. undefined when it is in neither (an alternate, a SHA-256 repository, a
 * partial clone) or a file is not as expected: the caller goes without it.
 */
export function readGitObject(commonDir: string, sha: string): { type: number; data: Buffer } | undefined {
  if (!/^[0-9a-f]{40}$/.test(sha)) return undefined;
  const objects = join(commonDir, 'objects');
  try {
    return readLoose(objects, sha) ?? readPacked(objects, sha, 0);
  } catch {
    return undefined;
  }
}

/** The commit object `sha` as text, when it can be read and is a commit. */
export function readCommitObject(commonDir: string, sha: string): string | undefined {
  const object = readGitObject(commonDir, sha);
  return object?.type === commitType ? object.data.toString('utf8') : undefined;
}

function readLoose(objects: string, sha: string): { type: number; data: Buffer } | undefined {
  let raw: Buffer;
  try {
    const file = readRegularFile(join(objects, sha.slice(0, 2), sha.slice(2)));
    if (file === undefined) return undefined;
    // `commit 1234\0` and the content: a header of at most 32 bytes.
    raw = inflateSync(file, { maxOutputLength: maxObjectBytes + 32 });
  } catch {
    return undefined;
  }
  const nul = raw.indexOf(0);
  if (nul === -1) return undefined;
  const [kind, declared] = raw.subarray(0, nul).toString('latin1').split(' ');
  const types: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };
  const type = kind === undefined ? undefined : types[kind];
  const data = raw.subarray(nul + 1);
  return type === undefined || declared !== String(data.length) ? undefined : { type, data };
}

/**
 * A file's content when it is a regular file (after symlinks), else undefined: a FIFO in place of an
 * object, HEAD or ref would block the read forever. Opened without blocking, then checked, then read.
 */
export function readRegularFile(path: string): Buffer | undefined {
  const fd = openRegularFile(path);
  if (fd === undefined) return undefined;
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function openRegularFile(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  if (fstatSync(fd).isFile()) return fd;
  closeSync(fd);
  return undefined;
}

function readPacked(objects: string, sha: string, depth: number): { type: number; data: Buffer } | undefined {
  const packDir = join(objects, 'pack');
  let names: string[];
  try {
    names = readdirSync(packDir).filter((name) => name.endsWith('.idx'));
  } catch {
    return undefined;
  }
  for (const name of names) {
    const index = join(packDir, name);
    try {
      const offset = offsetInIndex(index, sha);
      const entry =
        offset === undefined
          ? undefined
          : readPackEntry(objects, `${index.slice(0, -4)}.pack`, offset, depth);
      if (entry !== undefined) return entry;
    } catch {
      // A corrupt or odd pack: the object may be in another one (git keeps a pack per fetch).
    }
  }
  return undefined;
}

/** The object's offset in the pack, by a binary search of a version 2 `.idx` read in small pieces. */
function offsetInIndex(path: string, sha: string): number | undefined {
  const fd = openRegularFile(path);
  if (fd === undefined) return undefined;
  try {
    const header = readAt(fd, 0, 8 + 256 * 4);
    if (header.readUInt32BE(0) !== 0xff744f63 || header.readUInt32BE(4) !== 2) return undefined;
    const first = Number.parseInt(sha.slice(0, 2), 16);
    const count = header.readUInt32BE(8 + 255 * 4);
    let low = first === 0 ? 0 : header.readUInt32BE(8 + (first - 1) * 4);
    let high = header.readUInt32BE(8 + first * 4);
    const wanted = Buffer.from(sha, 'hex');
    const names = readAt(fd, 8 + 1024 + low * 20, (high - low) * 20);
    const base = low;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = names.subarray((middle - base) * 20, (middle - base + 1) * 20).compare(wanted);
      if (order === 0) {
        const offsets = 8 + 1024 + count * 24;
        const small = readAt(fd, offsets + middle * 4, 4).readUInt32BE(0);
        if ((small & 0x80000000) === 0) return small;
        const large = readAt(fd, offsets + count * 4 + (small & 0x7fffffff) * 8, 8).readBigUInt64BE(0);
        return Number(large);
      }
      if (order < 0) low = middle + 1;
      else high = middle;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function readPackEntry(
  objects: string,
  pack: string,
  offset: number,
  depth: number,
): { type: number; data: Buffer } | undefined {
  if (depth > maxDeltaDepth) return undefined;
  const fd = openRegularFile(pack);
  if (fd === undefined) return undefined;
  let type: number;
  let body: Buffer;
  let baseOffset: number | undefined;
  let baseSha: string | undefined;
  try {
    const head = readAt(fd, offset, 32);
    let at = 0;
    let byte = head[at++] ?? 0;
    type = (byte >> 4) & 7;
    let size = byte & 15;
    for (let shift = 4; byte & 0x80; shift += 7) {
      byte = head[at++] ?? 0;
      size += (byte & 0x7f) * 2 ** shift;
    }
    if (type === offsetDeltaType) {
      byte = head[at++] ?? 0;
      let back = byte & 0x7f;
      while (byte & 0x80) {
        byte = head[at++] ?? 0;
        back = (back + 1) * 128 + (byte & 0x7f);
      }
      baseOffset = offset - back;
    } else if (type === refDeltaType) {
      baseSha = readAt(fd, offset + at, 20).toString('hex');
      at += 20;
    }
    if (size > maxObjectBytes) return undefined;
    // Deflate never grows its input by more than a few bytes per 16 KiB block: this holds the entry.
    body = inflateSync(readAt(fd, offset + at, size + 1024), { maxOutputLength: Math.max(size, 1) });
    if (body.length !== size) return undefined;
  } finally {
    closeSync(fd);
  }
  if (baseOffset === undefined && baseSha === undefined) return { type, data: body };
  const base =
    baseOffset !== undefined
      ? readPackEntry(objects, pack, baseOffset, depth + 1)
      : (readLoose(objects, baseSha ?? '') ?? readPacked(objects, baseSha ?? '', depth + 1));
  return base === undefined ? undefined : { type: base.type, data: applyDelta(base.data, body) };
}

/** A git delta (gitformat-pack, "Deltified representation") applied to its base. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let byte: number;
    let shift = 0;
    do {
      byte = delta[at++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  if (varint() !== base.length) throw new Error('a delta for another base');
  const size = varint();
  if (size > maxObjectBytes) throw new Error('a delta result larger than any object read');
  const out = Buffer.alloc(size);
  let written = 0;
  while (at < delta.length) {
    const op = delta[at++] ?? 0;
    if (op & 0x80) {
      let from = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) from += (delta[at++] ?? 0) * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (16 << bit)) length += (delta[at++] ?? 0) << (8 * bit);
      if (length === 0) length = 0x10000;
      written += base.copy(out, written, from, from + length);
    } else if (op !== 0) {
      written += delta.copy(out, written, at, at + op);
      at += op;
    } else throw new Error('a delta with a reserved instruction');
  }
  if (written !== out.length) throw new Error('a delta of the wrong length');
  return out;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}
