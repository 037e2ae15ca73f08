/** The process exit codes `valkyrie` promises (documented in README and --help). */
export const ExitCode = {
  succeeded: 0,
  jobFailed: 1,
  invalid: 2,
  /** VK_QUEUE_FULL: the run was refused whole; EX_TEMPFAIL from sysexits.h, "try again later". */
  queueFull: 75,
  interrupted: 130,
  /** SIGTERM: cancelled gracefully like Ctrl-C, with the shell's code for a TERM. */
  terminated: 143,
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
