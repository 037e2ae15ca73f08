/**
 * `online` runners get offers. `draining` and `maintenance` runners get none and finish what they
 * run; an operator sets either (`ControlPlane.setRunnerMode`, stored in the RunnerStore so that every
 * replica applies it), and a runner that is shutting down drains itself (the `drain` message).
 */
export type RunnerMode = 'online' | 'draining' | 'maintenance';

export const runnerModes: readonly RunnerMode[] = ['online', 'draining', 'maintenance'];

/** A runner's mode as an operator set it, with the note they gave with it (never on `online`). */
export interface OperatorMode {
  readonly mode: RunnerMode;
  readonly note?: string;
}

/** Whether `a` and `b` are the same mode with the same note. */
export function sameOperatorMode(a: OperatorMode | undefined, b: OperatorMode | undefined): boolean {
  return a?.mode === b?.mode && a?.note === b?.note;
}
