// The peer for the throughput suite: a lean Node process that only spawns. It runs in its own
// process because spawn cost grows with the spawning process's memory, and the bench runner
// should not lend its heap to the baseline.
//
//   node bench/spawn-baseline.js COUNT CONCURRENCY COMMAND [ARG...]
//
// Each child gets stdout/stderr pipes, as a step runner needs to capture output, and counts as
// done when it has exited and its pipes have closed. Prints one JSON line: {"loopMs":…,"failed":…}.
import { spawn } from 'node:child_process';

const [countArg, concurrencyArg, command, ...args] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
if (!Number.isInteger(count) || !Number.isInteger(concurrency) || concurrency < 1 || !command) {
  process.stderr.write('usage: node bench/spawn-baseline.js COUNT CONCURRENCY COMMAND [ARG...]\n');
  process.exit(2);
}

function spawnOnce() {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

let started = 0;
let failed = 0;
async function lane() {
  while (started < count) {
    started++;
    if (!(await spawnOnce())) failed++;
  }
}

const begin = process.hrtime.bigint();
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
const loopMs = Number(process.hrtime.bigint() - begin) / 1e6;
process.stdout.write(`${JSON.stringify({ loopMs, failed })}\n`);
