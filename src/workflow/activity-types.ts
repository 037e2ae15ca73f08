import { closestMatch } from './diagnostics.js';
import type { InputProblem } from './inputs.js';

const created = 'created';
const edited = 'edited';
const deleted = 'deleted';
const createdEditedDeleted = [created, edited, deleted];
const pullRequestTypes = [
  'assigned',
  'unassigned',
  'labeled',
  'unlabeled',
  'opened',
  edited,
  'closed',
  'reopened',
  'synchronize',
  'converted_to_draft',
  'locked',
  'unlocked',
  'enqueued',
  'dequeued',
  'milestoned',
  'demilestoned',
  'ready_for_review',
  'review_requested',
  'review_request_removed',
  'auto_merge_enabled',
  'auto_merge_disabled',
];

/**
 * The values `on.<event>.types` takes for each event, as GitHub's workflow schema (actions/languageservices,
 * workflow-v1.0.json, each event's activity type with its allowed values) lists them. GitHub compares
 * them exactly, case included, and refuses any other ("Unexpected value"), so a typo never silently
 * leaves a trigger that cannot fire. `pull_request_comment` takes `issue_comment`'s, as GitHub has it.
 * `repository_dispatch` is not here: its types are free, as a dispatch is sent with an event type its
 * sender chooses and the workflow lists the ones it runs for (typesListOnly).
 */
const activityTypes: Readonly<Record<string, readonly string[]>> = {
  branch_protection_rule: createdEditedDeleted,
  check_run: ['completed', created, 'rerequested', 'requested_action'],
  check_suite: ['completed'],
  discussion: [
    ...createdEditedDeleted,
    'transferred',
    'pinned',
    'unpinned',
    'labeled',
    'unlabeled',
    'locked',
    'unlocked',
    'category_changed',
    'answered',
    'unanswered',
  ],
  discussion_comment: createdEditedDeleted,
  image_version: [created, 'ready', deleted],
  issue_comment: createdEditedDeleted,
  issues: [
    'opened',
    edited,
    deleted,
    'transferred',
    'pinned',
    'unpinned',
    'closed',
    'reopened',
    'assigned',
    'unassigned',
    'labeled',
    'unlabeled',
    'locked',
    'unlocked',
    'milestoned',
    'demilestoned',
  ],
  label: createdEditedDeleted,
  merge_group: ['checks_requested'],
  milestone: [created, 'closed', 'opened', edited, deleted],
  project: [created, 'closed', 'reopened', edited, deleted],
  project_card: [created, 'moved', 'converted', edited, deleted],
  project_column: [created, 'updated', 'moved', deleted],
  pull_request: pullRequestTypes,
  pull_request_comment: createdEditedDeleted,
  pull_request_review: ['submitted', edited, 'dismissed'],
  pull_request_review_comment: createdEditedDeleted,
  pull_request_target: pullRequestTypes,
  registry_package: ['published', 'updated'],
  release: ['published', 'unpublished', created, edited, deleted, 'prereleased', 'released'],
  watch: ['started'],
  workflow_run: ['requested', 'completed', 'in_progress'],
};

/**
 * The entries of `on.<event>.types` (one name, or a list of them) that are not activity types of
 * `event`, each at its own path with the closest type and the ones the event takes. None for an event
 * whose types are free, or that has none (its `types` key is refused as unknown instead).
 */
export function activityTypeProblems(event: string, types: string | readonly string[]): InputProblem[] {
  const allowed = activityTypes[event];
  if (allowed === undefined) return [];
  const entries: { value: string; index?: number }[] =
    typeof types === 'string' ? [{ value: types }] : types.map((value, index) => ({ value, index }));
  return entries
    .filter(({ value }) => !allowed.includes(value))
    .map(({ value, index }) => {
      const path = index === undefined ? ['on', event, 'types'] : ['on', event, 'types', index];
      const where = index === undefined ? `on.${event}.types` : `on.${event}.types[${index}]`;
      const hint = closestMatch(value, allowed);
      const didYouMean = hint === undefined ? '' : ` (did you mean "${hint}"?)`;
      return {
        path,
        message: `${where} "${value}" is not an activity type of ${event}${didYouMean} (it takes: ${allowed.join(', ')})`,
      };
    });
}

/** The activity types `event` takes, for `valkyrie schema`'s enum; undefined when they are free. */
export function activityTypesOf(event: string): readonly string[] | undefined {
  return activityTypes[event];
}

/**
 * Whether `on.<event>.types` must be a list: GitHub's schema takes one activity type alone or a list
 * of them for every event that has them, but only a list of names (sequence-of-non-empty-string) for
 * repository_dispatch's free ones, and refuses `types: deploy` there.
 */
export function typesListOnly(event: string): boolean {
  return event === 'repository_dispatch';
}
