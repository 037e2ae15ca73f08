// The real `valkyrie server` (a child process: `node bin/valkyrie.js server`, SQLite in a new data
// dir) with `runners` simulated runners connected over WebSocket from another child process
// (sim-runners.js: each registers through POST /api/v1/runners/register, connects with its own
// credential and sends `register`; one in `specialEvery` carries the label `bench-special`).
// Measured: the server's VmRSS and VmHWM from /proc/<pid>/status once every runner is registered,
// and selection: one-job runs that `runs-on: bench-special` are submitted one at a time through
// POST /api/v1/runs, each timed from just before the request to the offer's arrival at a simulated
// runner (both processes' wall clocks, lib/wall-clock.js, the runner's offset taken off). The
// runner accepts and completes the job at once; the next run is submitted once the previous one is
// stored as succeeded.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { wallNow } from '../lib/wall-clock.js';
import { startSimulatedRunners } from './sim-client.js';

const selectionWorkflow = [
  'name: fleet-selection',
  'jobs:',
  '  pick:',
  '    runs-on: bench-special',
  '    steps:',
  '      - run: "true"',
  '',
].join('\n');

export async function measureServerMemory({ repoRoot, workDir, runners, specialEvery, samples, warmUp }) {
  const dataDir = mkdtempSync(join(workDir, 'fleet-server-'));
  const adminToken = randomBytes(24).toString('hex');
  const server = await startServer(repoRoot, dataDir, adminToken);
  let simulated;
  try {
    const api = apiClient(server.url, adminToken);
    const registration = await api.post('/api/v1/tokens', { role: 'runner' });
    const submit = await api.post('/api/v1/tokens', { role: 'submit' });
    const connectStarted = performance.now();
    simulated = startSimulatedRunners({
      wsUrl: `${server.url.replace(/^http/, 'ws')}/api/v1/runner/ws`,
      apiUrl: server.url,
      registrationToken: registration.token,
      count: runners,
      capacity: 1,
      specialEvery,
      reportOffers: true,
    });
    const ready = await simulated.ready;
    const connectMs = performance.now() - connectStarted;
    // Lets the last registrations' garbage and socket buffers settle before reading memory.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const connected = memoryOf(server.pid);
    const offers = [];
    let offerArrived;
    simulated.onOffer((offer) => {
      offers.push(offer);
      offerArrived?.();
    });
    const submitter = apiClient(server.url, submit.token);
    const latenciesUs = [];
    for (let i = 0; i < warmUp + samples; i++) {
      const arrived = new Promise((resolve) => {
        offerArrived = resolve;
      });
      const before = offers.length;
      const sentAt = wallNow();
      const { run } = await submitter.post('/api/v1/runs', { workflow: selectionWorkflow });
      await Promise.race([arrived, simulated.failed, timeout(10_000, `no offer for run ${run.id}`)]);
      const offer = offers[before];
      if (i >= warmUp) latenciesUs.push((offer.at - sentAt) * 1000);
      await waitForRun(submitter, run.id);
    }
    if (offers.length !== warmUp + samples)
      throw new Error(`${offers.length} offers for ${warmUp + samples} one-job runs`);
    const special = new Set(offers.map((offer) => offer.runner));
    for (const runner of special)
      if (runner % specialEvery !== 0) throw new Error(`runner ${runner} without the label got an offer`);
    const after = memoryOf(server.pid);
    const sorted = [...latenciesUs].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    return {
      wallMs: performance.now() - connectStarted,
      runners,
      connectMs,
      registerMs: ready.registeredMs,
      rssMiB: connected.rssMiB,
      hwmMiB: connected.hwmMiB,
      rssAfterMiB: after.rssMiB,
      hwmAfterMiB: after.hwmMiB,
      selectionN: sorted.length,
      selectionP50Us: at(0.5),
      selectionP99Us: at(0.99),
    };
  } finally {
    await simulated?.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

async function startServer(repoRoot, dataDir, adminToken) {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin/valkyrie.js'),
      'server',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--drain-timeout',
      '0s',
    ],
    { env: { ...process.env, VALKYRIE_ADMIN_TOKEN: adminToken }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (\S+)\n/.exec(stdout);
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 20);
    exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`valkyrie server exited ${code}: ${stderr}`));
    });
  });
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function apiClient(url, token) {
  const request = async (method, path, body) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await response.json();
    if (response.status >= 300)
      throw new Error(`${method} ${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { post: (path, body) => request('POST', path, body), get: (path) => request('GET', path) };
}

async function waitForRun(api, runId) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const { run } = await api.get(`/api/v1/runs/${runId}`);
    if (run.status === 'succeeded') return;
    if (run.status !== 'running' && run.status !== 'queued')
      throw new Error(`run ${runId} ended ${run.status}`);
    if (performance.now() > deadline) throw new Error(`run ${runId} still ${run.status} after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function timeout(ms, message) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}
