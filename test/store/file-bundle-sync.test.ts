import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './factories.js';

const execFileAsync = promisify(execFile);

/** strace shows the system calls in the order they ran; without it this file cannot look. */
const straceMissing = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'strace is not installed (apt-get install strace)';
  }
})();
if (straceMissing !== undefined) console.warn(`skipping the file bundle sync checks: ${straceMissing}`);

/** The built store (dist/: `npm run build` after editing it), as the server process runs it. */
const builtStore = pathToFileURL(join(process.cwd(), 'dist', 'store', 'files', 'bundle-store.js')).href;

/**
 * A power loss must not leave a bundle's name on a file whose bytes never reached the disk (the
 * damage a read then finds): the upload's file is synced before it is linked under its name, and the
 * directory after, for a new bundle and for one that replaces a damaged copy. A child process puts
 * the bundle under strace (-y names each descriptor's file), and the order of its calls is read back.
 */
describe.skipIf(straceMissing !== undefined)('file bundles reach the disk before their name', () => {
  it('syncs the upload before linking or renaming it into place, and the directory after', async () => {
    const { dir, remove } = await tempDir();
    try {
      const bytes = Buffer.alloc(200_000, 'synced ');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const final = join(dir, `${sha256}.tar.gz`);
      const script = `
        import { truncate } from 'node:fs/promises';
        const { FileBundleStore } = await import(${JSON.stringify(builtStore)});
        const store = new FileBundleStore(${JSON.stringify(dir)});
        const bytes = Buffer.alloc(200_000, 'synced ');
        const put = () => store.put(${JSON.stringify(sha256)}, [bytes], 1 << 20, () => 1_000);
        console.log(await put());
        await truncate(${JSON.stringify(final)}, 1_000);
        console.log(await put());`;
      const trace = join(dir, 'strace.log');
      const { stdout } = await execFileAsync('strace', [
        ...['-f', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2'],
        ...[process.execPath, '--input-type=module', '-e', script],
      ]);
      expect(stdout).toBe('created\ncreated\n');
      const lines = (await readFile(trace, 'utf8')).split('\n');
      const at = (pattern: RegExp, from = 0) =>
        lines.findIndex((line, index) => index >= from && pattern.test(line));
      const escaped = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const syncedUpload = new RegExp(`(fsync|fdatasync)\\(\\d+<${escaped(dir)}/\\.upload-[0-9a-f]+>`);
      const placed = new RegExp(
        `(link|rename)(at2?)?\\(.*"${escaped(dir)}/\\.upload-[0-9a-f]+", .*"${escaped(final)}"`,
      );
      const syncedDir = new RegExp(`(fsync|fdatasync)\\(\\d+<${escaped(dir)}>`);
      let from = 0;
      for (const placement of ['the new bundle', 'the copy replacing the damaged one']) {
        const upload = at(syncedUpload, from);
        const named = at(placed, from);
        const directory = at(syncedDir, Math.max(named, 0));
        expect(
          upload,
          `${placement}: the upload is synced before it is named\n${lines.join('\n')}`,
        ).toBeGreaterThanOrEqual(0);
        expect(named, `${placement}: named after its sync`).toBeGreaterThan(upload);
        expect(directory, `${placement}: the directory synced after the name`).toBeGreaterThan(named);
        from = directory + 1;
      }
    } finally {
      await remove();
    }
  });
});
