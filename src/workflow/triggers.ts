/** The events `on:` names, in file order: `on: push`, `on: [push, pull_request]` or a mapping of them. */
export function triggersOf(on: unknown): string[] {
  if (typeof on === 'string') return [on];
  if (Array.isArray(on)) return on.map(String);
  if (typeof on === 'object' && on !== null) return Object.keys(on);
  return [];
}

/** The event of a workflow without `on:`, which GitHub would never start. */
export const eventWithoutTriggers = 'local';

/** The events whose runs take inputs: a manual start's, and a reusable workflow's call. */
const inputEvents: readonly string[] = ['workflow_dispatch', 'workflow_call'];

/** A run started as `event` has an `inputs` context; on GitHub, one started as another has it empty. */
export function takesInputs(event: string): boolean {
  return inputEvents.includes(event);
}

/** The event a run starts as (`github.event_name`), or why the requested one cannot be. */
export type EventChoice = { readonly event: string } | { readonly problem: string };

/**
 * `requested` (`--event`) must be one of the triggers, as GitHub starts a workflow only for the events
 * it lists, and `--input` goes only with `workflow_dispatch` or `workflow_call` (a reusable workflow's
 * caller gives its inputs). Without `requested`: `workflow_dispatch` when it is a trigger and inputs
 * are given or it is the only trigger, else `workflow_call` when it is one and inputs are given, else
 * `push` when it is one, else the first trigger; a workflow without `on:` runs as `local` unless
 * `requested` names an event.
 */
export function chooseEvent(
  triggers: readonly string[],
  requested: string | undefined,
  inputsGiven: boolean,
): EventChoice {
  if (requested !== undefined) {
    if (requested.trim() === '') return { problem: 'the event name is empty' };
    if (triggers.length > 0 && !triggers.includes(requested))
      return {
        problem: `event "${requested}" is not one of the workflow's on: triggers (${triggers.join(', ')})`,
      };
    if (inputsGiven && !inputEvents.includes(requested))
      return {
        problem: `inputs go only with the workflow_dispatch or workflow_call event, not with "${requested}"`,
      };
    return { event: requested };
  }
  const dispatch = triggers.includes('workflow_dispatch');
  if (dispatch && (inputsGiven || triggers.length === 1)) return { event: 'workflow_dispatch' };
  if (inputsGiven && triggers.includes('workflow_call')) return { event: 'workflow_call' };
  if (triggers.includes('push')) return { event: 'push' };
  return { event: triggers[0] ?? eventWithoutTriggers };
}
