// Makes `npx valkyrie` in this checkout run this checkout's CLI. npm links the bins of dependencies
// into node_modules/.bin but never the project's own, and without a local bin npx would fetch an
// unrelated registry package of the same name.
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const binDir = join('node_modules', '.bin');
const link = join(binDir, 'valkyrie');
mkdirSync(binDir, { recursive: true });
rmSync(link, { force: true });
symlinkSync(join('..', '..', 'bin', 'valkyrie.js'), link);
