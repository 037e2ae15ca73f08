import type { ErrorCode } from '../core/errors.js';

/** The process exit codes `valkyrie` promises (documented in README and --help). */
export const ExitCode = {
  succeeded: 0,
  jobFailed: 1,
  invalid: 2,
  /**
   * The server could not be reached (for a client command, also when its TLS certificate failed
   * verification), failed (5xx) or broke off: EX_UNAVAILABLE from sysexits.h.
   */
  unavailable: 69,
  /**
   * `valkyrie runner`: the server's TLS certificate failed verification (VK_TLS_CERTIFICATE). A
   * configuration error, not a network blip, so the runner stops rather than retrying: EX_CONFIG
   * from sysexits.h.
   */
  runnerTlsCertificate: 78,
  /**
   * Any command: a write to its stdout or stderr failed, other than by its reader leaving (ENOSPC: a
   * full disk or /dev/full; EBADF: `1<file`), and it did not fail otherwise (closed-output.ts).
   * EX_IOERR from sysexits.h; not coreutils' 1, which is a failed job here.
   */
  outputFailed: 74,
  /** VK_QUEUE_FULL: the run was refused whole; EX_TEMPFAIL from sysexits.h, "try again later". */
  queueFull: 75,
  /**
   * VK_STORE_UNREACHABLE, VK_STORE_LOCKED, VK_STORE_FULL: the store did not answer, stayed locked, or
   * its disk was full; nothing was written, and the same command may succeed later. VK_STORE_IN_USE: another server serves the
   * SQLite file, or keeps bundles in the data directory. EX_UNAVAILABLE from sysexits.h.
   */
  storeUnavailable: 69,
  /**
   * VK_STORE_CORRUPT, VK_STORE_NEWER_SCHEMA: the store holds data this Valkyrie cannot use; it was
   * left untouched, and trying again will not help. EX_DATAERR from sysexits.h.
   */
  storeUnusable: 65,
  /**
   * `valkyrie runner`: another live runner holds the work dir (its runner.lock); nothing in the dir
   * was touched. EX_CANTCREAT from sysexits.h: the lock file could not be created.
   */
  workDirInUse: 73,
  /** The server refused the token (401) or its role (403): EX_NOPERM from sysexits.h. */
  noPermission: 77,
  /** SIGHUP (a closed terminal): `valkyrie runner` or `valkyrie server` stopped by signals; 128 + 1. */
  hungUp: 129,
  interrupted: 130,
  /** SIGTERM: cancelled gracefully like Ctrl-C, with the shell's code for a TERM. */
  terminated: 143,
  /**
   * Any command: a write to its stdout or stderr found the reader gone (a pipe whose reader exited, as
   * `| head -1` does; a closed terminal), and it did not fail otherwise (closed-output.ts). 128 +
   * SIGPIPE's 13: what the shell reports for git, or a Go CLI such as gh, that such a write ended.
   */
  brokenPipe: 141,
} as const;

/** A failure the user can fix; printed as one line, never with a stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.invalid,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code for a catalog error that ends the command; most are the user's to fix (2). */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'VK_QUEUE_FULL':
      return ExitCode.queueFull;
    case 'VK_STORE_UNREACHABLE':
    case 'VK_STORE_LOCKED':
    case 'VK_STORE_FULL':
    case 'VK_STORE_IN_USE':
      return ExitCode.storeUnavailable;
    // A client command's: the runner stops with its own code (runnerTlsCertificate).
    case 'VK_TLS_CERTIFICATE':
      return ExitCode.unavailable;
    case 'VK_WORK_DIR_IN_USE':
      return ExitCode.workDirInUse;
    case 'VK_STORE_CORRUPT':
    case 'VK_STORE_NEWER_SCHEMA':
      return ExitCode.storeUnusable;
    // Another process took the run over (resume --force): this one was interrupted; the run goes on there.
    case 'VK_RUN_TAKEN_OVER':
      return ExitCode.interrupted;
    default:
      return ExitCode.invalid;
  }
}
