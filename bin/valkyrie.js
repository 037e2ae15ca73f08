#!/usr/bin/env node
import { main } from '../dist/valkyrie.js';

// A reader that closes the pipe early (`valkyrie runs | head`, EPIPE), or a terminal that closes (EIO
// from then on: `valkyrie runner` drains on the SIGHUP that comes with it), is not an error worth a
// stack trace.
// A command that drives or follows a run (it listens for SIGTERM) carries on to the run's end and
// exits with its code, its output dropped: stopping there would abandon the run half-way, its steps
// killed, and exit 0. Any other command stops at once. (`submit`, which listens while it packs and
// uploads, stops itself there, before any run exists: src/cli/submit-interrupt.ts.)
let outputClosed = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (outputClosed) return;
    if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
    if (process.listenerCount('SIGTERM') === 0) process.exit(process.exitCode ?? 0);
    outputClosed = true;
  });
}

process.exitCode = await main(process.argv.slice(2));
// The command is done: exit once stdout and stderr have taken what was written, not when the event
// loop drains, after which Node frees its heap a page at a time (40–80 ms of munmap() after a run of
// 200 jobs on a 2-core VM; at exit the kernel drops the address space at once). What a full pipe
// could not take yet waits in the stream, and an empty write's callback comes after it.
const flushed = (stream) =>
  stream.writableLength === 0 || stream.destroyed ? undefined : new Promise((done) => stream.write('', done));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit();
