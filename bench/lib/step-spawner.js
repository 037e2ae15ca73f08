// Which process starts Valkyrie's steps on this machine, as measured: the launcher (`auto` unless
// VALKYRIE_LAUNCHER says otherwise) picks a spawner by what is installed and starts the first steps
// itself while that spawner starts, so the throughput figures depend on it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from './child.js';

const jobs = 20;

/** The process each step's parent was, told apart by its command line. */
const parents = [
  ['valkyrie-spawner.py', 'the Python spawner (vfork)'],
  ['valkyrie-spawner', 'the Perl spawner (fork)'],
  ['spawner-main.js', 'the Node spawner (fork)'],
  ['valkyrie.js', 'the engine itself (fork)'],
];

/**
 * Runs a chain of `jobs` one-step jobs whose steps record their parent's command line, and says
 * which process started how many of them: e.g. "the Python spawner (vfork) 19, the engine itself
 * (fork) 1, of a chain of 20 steps".
 */
export async function measureStepSpawner({ repoRoot, workDir, freshStateDir }) {
  const marker = join(workDir, 'step-parents.txt');
  writeFileSync(marker, '');
  const lines = ['name: step-parents', 'jobs:'];
  for (let i = 1; i <= jobs; i++) {
    lines.push(`  job_${i}:`, ...(i > 1 ? [`    needs: job_${i - 1}`] : []), '    runs-on: ubuntu-latest');
    lines.push(
      '    steps:',
      `      - run: tr '\\0' ' ' < /proc/$PPID/cmdline >> "$MARKER"; echo >> "$MARKER"`,
    );
  }
  const file = join(workDir, 'step-parents.yml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const result = await runChild(
    process.execPath,
    [join(repoRoot, 'bin/valkyrie.js'), 'run', file, '--json', '--state-dir', freshStateDir()],
    { cwd: workDir, env: { ...process.env, MARKER: marker } },
  );
  assertExitedCleanly(result, 'valkyrie run step-parents');
  const counts = new Map();
  for (const line of readFileSync(marker, 'utf8').split('\n').filter(Boolean)) {
    const name = parents.find(([needle]) => line.includes(needle))?.[1] ?? `another process (${line.trim()})`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const launcher = process.env.VALKYRIE_LAUNCHER || 'auto';
  const tally = [...counts].map(([name, count]) => `${name} ${count}`).join(', ');
  return `${tally}, of a chain of ${jobs} steps (launcher \`${launcher}\`)`;
}
