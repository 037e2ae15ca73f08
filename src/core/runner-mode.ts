/**
 * `online` runners get offers. `draining` and `maintenance` runners get none and finish what they
 * run; an operator sets either (`ControlPlane.setRunnerMode`, stored in the RunnerStore so that every
 * replica applies it), and a runner that is shutting down drains itself (the `drain` message).
 */
export type RunnerMode = 'online' | 'draining' | 'maintenance';

export const runnerModes: readonly RunnerMode[] = ['online', 'draining', 'maintenance'];
