import { visible } from '../../core/visible-text.js';
import type { RunEvent } from '../../engine/events.js';

/**
 * The event with its workflow, job and step names, labels and reasons as they are safe to print
 * (core/visible-text.ts): they come from a workflow file, which the reader of a log often did not
 * write. The lines a step printed are left as they are, colours and all, as GitHub's log keeps them.
 * The same object when nothing needed escaping, as nearly always.
 */
export function withVisibleNames(event: RunEvent): RunEvent {
  switch (event.type) {
    case 'concurrency':
      return same(event.group) ? event : { ...event, group: visible(event.group) };
    case 'run.started':
      return same(event.workflow) ? event : { ...event, workflow: visible(event.workflow) };
    case 'job.queued': {
      const labels = event.noRunnerWith;
      const elsewhere = event.runnersElsewhere;
      if (same(event.name) && allSame(labels) && allSame(elsewhere?.map(({ name }) => name))) return event;
      return {
        ...event,
        name: visible(event.name),
        ...(labels === undefined ? {} : { noRunnerWith: labels.map(visible) }),
        ...(elsewhere === undefined
          ? {}
          : { runnersElsewhere: elsewhere.map((runner) => ({ ...runner, name: visible(runner.name) })) }),
      };
    }
    case 'job.started':
      return same(event.name) ? event : { ...event, name: visible(event.name) };
    case 'job.completed':
    case 'job.retrying':
      if (same(event.name) && (event.reason === undefined || same(event.reason))) return event;
      return {
        ...event,
        name: visible(event.name),
        ...(event.reason === undefined ? {} : { reason: visible(event.reason) }),
      };
    case 'step.started':
      if (same(event.job) && same(event.step)) return event;
      return { ...event, job: visible(event.job), step: visible(event.step) };
    case 'step.completed':
      if (same(event.job) && same(event.step.name)) return event;
      return { ...event, job: visible(event.job), step: { ...event.step, name: visible(event.step.name) } };
    case 'log':
      return same(event.job) ? event : { ...event, job: visible(event.job) };
    default:
      return event;
  }
}

/** Nothing in `text` to escape: visible() gives it back unchanged. */
function same(text: string): boolean {
  return visible(text) === text;
}

function allSame(texts: readonly string[] | undefined): boolean {
  return texts === undefined || texts.every(same);
}
