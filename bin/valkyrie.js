#!/usr/bin/env node
import { lostOutputExitCode, lostOutputLine, main, outputLoss } from '../dist/valkyrie.js';

// A reader that closes the pipe early (`valkyrie runs | head`, EPIPE), or a terminal that closes (EIO
// from then on: `valkyrie runner` drains on the SIGHUP that comes with it), is not an error worth a
// stack trace, nor a reason to stop here: a command stopped at the write that found it would leave
// its work half-done (a run's steps killed, a request sent without its answer read) and could not
// say whether it had failed. Each command goes on to an end of its own, its output dropped — one that
// drives a run cancels it, as Ctrl-C does (src/cli/run-signals.ts); `submit` stops packing or
// uploading (src/cli/submit-interrupt.ts) — and exits with its own code if it failed, else 141
// (src/cli/closed-output.ts), as git and gh end by SIGPIPE. A write that fails otherwise (ENOSPC:
// `> /dev/full` or a full disk; EBADF: `1<file`) is no bug of ours either: one line on stderr says it,
// as coreutils' `write error: No space left on device` does, and the command ends the same way, with
// 74 (EX_IOERR) in place of 141. No 'error' of these streams is thrown: nothing else emits one.
let lost;
for (const name of ['stdout', 'stderr']) {
  process[name].on('error', (error) => {
    if (lost !== undefined) return;
    lost = outputLoss(name, error);
    const line = lostOutputLine(lost);
    if (line !== undefined) process.stderr.write(line);
  });
}

const code = await main(process.argv.slice(2));
// The command is done: exit once stdout and stderr have taken what was written, not when the event
// loop drains, after which Node frees its heap a page at a time (40–80 ms of munmap() after a run of
// 200 jobs on a 2-core VM; at exit the kernel drops the address space at once). What a full pipe
// could not take yet waits in the stream, and an empty write's callback comes after it.
const flushed = (stream) =>
  stream.writableLength === 0 || stream.destroyed ? undefined : new Promise((done) => stream.write('', done));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// A closed pipe is told on the tick after the write that found it, which may be the command's last,
// or one that waited in the stream until its reader left: the code is decided after both.
await new Promise((resolve) => setImmediate(resolve));
process.exitCode = lost === undefined ? code : lostOutputExitCode(lost, code);
process.exit();
