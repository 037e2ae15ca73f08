import { closeSync, constants, fchmodSync, openSync, writeSync } from 'node:fs';

/**
 * Writes a file only its owner can read (0600): a step script holds the job's interpolated
 * `${{ secrets.* }}`. The fchmod covers a file that already existed with a wider mode (open's mode
 * applies only to a file it creates). Scripts are removed after their step, so the file is normally
 * new: no truncation of a file holding data, which on ext4 forces the data to disk on close.
 */
export function writePrivateFile(path: string, content: string): void {
  const data = Buffer.from(content);
  const fd = openPrivateFile(path);
  try {
    fchmodSync(fd, 0o600);
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written, written);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates an empty file only its owner can read, or empties one (a step's command file, which the
 * step then appends to): no fchmod, as there is nothing in it to keep from others, and no write.
 */
export function createEmptyPrivateFile(path: string): void {
  closeSync(openPrivateFile(path));
}

function openPrivateFile(path: string): number {
  // O_NOFOLLOW: a link a step left at the name is not followed into a file elsewhere.
  return openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o600,
  );
}
