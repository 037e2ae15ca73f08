import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';

export interface RawEntry {
  readonly path: string;
  readonly type: 'File' | 'SymbolicLink' | 'Link' | 'Directory' | 'FIFO';
  readonly content?: string;
  readonly linkpath?: string;
  /** The header's mode as written (default 0o755 for a directory, 0o644 for the rest). */
  readonly mode?: number;
}

/** Writes a gzipped tar with exactly these entries, none of them cleaned up; returns its sha256. */
export function writeRawArchive(file: string, entries: readonly RawEntry[]): string {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.content ?? '');
    const header = new Header({
      path: entry.path,
      type: entry.type,
      mode: entry.mode ?? (entry.type === 'Directory' ? 0o755 : 0o644),
      size: body.length,
      linkpath: entry.linkpath ?? '',
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    if (header.encode(block)) blocks.push(new Pax({ path: entry.path, linkpath: entry.linkpath }).encode());
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const bytes = gzipSync(Buffer.concat(blocks));
  writeFileSync(file, bytes);
  return createHash('sha256').update(bytes).digest('hex');
}
