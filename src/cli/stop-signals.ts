import { ExitCode } from './exit-codes.js';

/**
 * The signals that stop `valkyrie server` and `valkyrie runner`: SIGTERM, Ctrl-C, and SIGHUP, which a
 * process started in a terminal gets when that terminal closes (an SSH session ends).
 */
export const stopSignals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type StopSignal = (typeof stopSignals)[number];

/** The shell's code for a process that a signal stopped: 128 + the signal's number. */
export const signalExitCode: Readonly<Record<StopSignal, number>> = {
  SIGTERM: ExitCode.terminated,
  SIGINT: ExitCode.interrupted,
  SIGHUP: ExitCode.hungUp,
};
