import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs';

/**
 * Replaces a file's content without truncating it to zero first. On ext4, truncating a file that has
 * data and closing it forces the data to disk (the auto_da_alloc heuristic): ~0.5 ms per step script
 * measured here, against ~0.03 ms for writing in place and cutting the file to its new length.
 */
export function overwriteFile(path: string, content: string): void {
  const data = Buffer.from(content);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written, written);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}
