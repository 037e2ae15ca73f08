// Suite 2 — start-up: from launching `valkyrie run` to its first step's process running. The step
// writes bash's $EPOCHREALTIME to $MARKER; the launch time is Date.now() taken just before spawn()
// (so a figure may read up to 1 ms long). Floors measured alongside: `node -e 0` launch → exit,
// and the same probe script run by `bash -e` spawned directly (launch → marker).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertExitedCleanly, runChild } from '../lib/child.js';
import { groupByCase, summarize } from '../lib/stats.js';
import { startupProbeScript, startupProbeWorkflow } from '../lib/workflows.js';

export const targetMs = 300;

export function startupSuite({ repoRoot, workDir, freshStateDir, reps }) {
  const workflowPath = join(workDir, 'start-up.yml');
  writeFileSync(workflowPath, startupProbeWorkflow());
  const scriptPath = join(workDir, 'probe.sh');
  writeFileSync(scriptPath, `${startupProbeScript}\n`);
  const marker = join(workDir, 'start-up.marker');
  const env = { ...process.env, MARKER: marker };
  // One state dir reused by every repetition: the usual case of running again in the same checkout.
  const reusedStateDir = freshStateDir();

  const probed = async (what, command, args) => {
    rmSync(marker, { force: true });
    const result = await runChild(command, args, { cwd: workDir, env });
    assertExitedCleanly(result, what);
    return { wallMs: result.wallMs, startMs: markerMs(marker, what) - result.launchedAtMs };
  };
  const valkyrie = (stateDir) => [
    join(repoRoot, 'bin/valkyrie.js'),
    'run',
    workflowPath,
    '--json',
    '--state-dir',
    stateDir,
  ];

  const cases = [
    {
      id: 'node-e-0',
      label: '`node -e 0`, launch → exit',
      measure: async () => {
        const result = await runChild(process.execPath, ['-e', '0']);
        assertExitedCleanly(result, 'node -e 0');
        return { wallMs: result.wallMs, startMs: result.wallMs };
      },
    },
    {
      id: 'bash-probe',
      label: '`bash -e probe.sh` spawned directly, launch → marker',
      measure: () => probed('bash -e probe.sh', 'bash', ['-e', scriptPath]),
    },
    {
      id: 'valkyrie-reused-state',
      label: 'Valkyrie, existing state dir, launch → first step',
      measure: () => probed('valkyrie run (existing state dir)', process.execPath, valkyrie(reusedStateDir)),
    },
    {
      id: 'valkyrie-fresh-state',
      label: 'Valkyrie, new state dir (creates the database), launch → first step',
      measure: () => probed('valkyrie run (new state dir)', process.execPath, valkyrie(freshStateDir())),
    },
  ];
  return { id: 'startup', title: 'Start-up', reps, cases };
}

export function analyzeStartup(samples) {
  return [...groupByCase(samples)].map(([id, list]) => ({
    id,
    label: list[0].label,
    startMs: summarize(list.map((s) => s.startMs)),
    wallMs: summarize(list.map((s) => s.wallMs)),
  }));
}

function markerMs(path, what) {
  let text;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    throw new Error(`${what}: the step did not write its start marker ${path}`);
  }
  const seconds = Number(text);
  if (!Number.isFinite(seconds)) throw new Error(`${what}: unreadable start marker ${JSON.stringify(text)}`);
  return seconds * 1000;
}
