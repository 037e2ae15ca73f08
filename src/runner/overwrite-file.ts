import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/**
 * Replaces a file's content without truncating it to zero first. On ext4, truncating a file that has
 * data and closing it forces the data to disk (the auto_da_alloc heuristic): ~0.5 ms per step script
 * measured here, against ~0.03 ms for writing in place and cutting the file to its new length. The
 * cut is made only when the file was longer: a slot's step scripts are mostly rewritten with a text
 * of the same length, and right after a write ftruncate() took 5–14 µs here, the fstat() 2–6 µs.
 */
export function overwriteFile(path: string, content: string): void {
  const data = Buffer.from(content);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written, written);
    if (fstatSync(fd).size > data.length) ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}
