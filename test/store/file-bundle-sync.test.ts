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

/** Where a traced script's store and bundle are, for the script and the checks of its trace. */
interface TracedStore {
  readonly dir: string;
  readonly sha256: string;
  /** The bundle's file under its name. */
  readonly final: string;
}

/**
 * Runs `script` in node under strace (-y names each descriptor's file), with `store` (a
 * FileBundleStore in a new directory), `bytes` (a bundle of `size` bytes of `fill`) and `sha256`
 * (theirs) defined before it; returns its output, its calls in order, and `at` to find one.
 */
async function traced(size: number, fill: string, script: (where: TracedStore) => string) {
  const { dir, remove } = await tempDir();
  try {
    const sha256 = createHash('sha256').update(Buffer.alloc(size, fill)).digest('hex');
    const where = { dir, sha256, final: join(dir, `${sha256}.tar.gz`) };
    const prelude = `
      const { FileBundleStore } = await import(${JSON.stringify(builtStore)});
      const store = new FileBundleStore(${JSON.stringify(dir)});
      const bytes = Buffer.alloc(${size}, ${JSON.stringify(fill)});
      const sha256 = ${JSON.stringify(sha256)};`;
    const trace = join(dir, 'strace.log');
    const { stdout } = await execFileAsync('strace', [
      ...['-f', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2'],
      ...[process.execPath, '--input-type=module', '-e', prelude + script(where)],
    ]);
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const at = (pattern: RegExp, from = 0) =>
      lines.findIndex((line, index) => index >= from && pattern.test(line));
    return { ...where, stdout, lines, at };
  } finally {
    await remove();
  }
}

const escaped = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A power loss must not leave a bundle's name on a file whose bytes never reached the disk (the
 * damage a read then finds): the upload's file is synced before it is linked under its name, and the
 * directory after, for a new bundle and for one that replaces a damaged copy. A child process puts
 * the bundle under strace, and the order of its calls is read back.
 */
describe.skipIf(straceMissing !== undefined)('file bundles reach the disk before their name', () => {
  it('syncs the upload before linking or renaming it into place, and the directory after', async () => {
    const { dir, final, stdout, lines, at } = await traced(
      200_000,
      'synced ',
      ({ final }) => `
        import { truncate } from 'node:fs/promises';
        const put = () => store.put(sha256, [bytes], 1 << 20, () => 1_000);
        console.log(await put());
        await truncate(${JSON.stringify(final)}, 1_000);
        console.log(await put());`,
    );
    expect(stdout).toBe('created\ncreated\n');
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
  });

  // A sweep takes a bundle out of its name before it deletes it; one used meanwhile goes back. Its
  // user was told it is stored (touch answered true), so the name it gets back must survive a power
  // loss as an upload's does: were it lost with the directory unsynced, the file would be left only
  // under its .removing- name, where no read finds it (and a later sweep deletes it). A removal needs
  // no sync: one a power loss undoes brings back the whole file, synced before it was named, and the
  // next sweep removes it again.
  it('syncs the directory after a sweep puts back a bundle used as it was taken out', async () => {
    // The use lands between the sweep's look at the bundle and its rename, by a hook on rename
    // (syncBuiltinESMExports carries it to the store's import): the one moment that puts it back.
    const { dir, final, stdout, lines, at } = await traced(
      1_000,
      'kept ',
      () => `
        import fsp from 'node:fs/promises';
        import { syncBuiltinESMExports } from 'node:module';
        console.log(await store.put(sha256, [bytes], 1 << 20, () => 1_000));
        const rename = fsp.rename;
        fsp.rename = async (from, to) => {
          if (String(to).includes('/.removing-')) console.log('touched', await store.touch(sha256, 5_000));
          return rename(from, to);
        };
        syncBuiltinESMExports();
        console.log(JSON.stringify(await store.removeUnused(2_000, new Set())), await store.has(sha256));`,
    );
    expect(stdout).toBe('created\ntouched true\n{"count":0,"bytes":0} true\n');
    const putBack = at(
      new RegExp(`link(at)?\\(.*"${escaped(dir)}/\\.removing-[^"]+", .*"${escaped(final)}"`),
    );
    expect(putBack, `the bundle is linked back under its name\n${lines.join('\n')}`).toBeGreaterThanOrEqual(
      0,
    );
    const directory = at(new RegExp(`(fsync|fdatasync)\\(\\d+<${escaped(dir)}>`), putBack);
    expect(directory, `the directory synced after the link\n${lines.join('\n')}`).toBeGreaterThan(putBack);
  });
});
