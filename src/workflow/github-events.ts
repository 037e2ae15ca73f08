// GitHub's events, in a module of their own without imports: the CLI reads them before it loads the
// workflow modules (workflow-file.ts), whose imports are circular through schema.ts.
const branchFilters = ['branches', 'branches-ignore'];
const pullRequestKeys = ['types', ...branchFilters, 'paths', 'paths-ignore'];

/**
 * The events GitHub starts a workflow for, and the keys each takes under `on.<event>`, as its workflow
 * schema (actions/languageservices, workflow-v1.0.json `on-mapping-strict`) has them. GitHub refuses
 * any other event or key ("Unexpected value"); an event with no keys takes no value at all.
 * `workflow_dispatch` and `workflow_call` are checked with their inputs (inputs.ts); `schedule` is a
 * list of `cron` entries.
 */
export const eventKeys: Readonly<Record<string, readonly string[]>> = {
  branch_protection_rule: ['types'],
  check_run: ['types'],
  check_suite: ['types'],
  create: [],
  delete: [],
  deployment: [],
  deployment_status: [],
  discussion: ['types'],
  discussion_comment: ['types'],
  fork: [],
  gollum: [],
  image_version: ['types', 'names', 'versions'],
  issue_comment: ['types'],
  issues: ['types'],
  label: ['types'],
  merge_group: ['types', ...branchFilters],
  milestone: ['types'],
  page_build: [],
  project: ['types'],
  project_card: ['types'],
  project_column: ['types'],
  public: [],
  pull_request: pullRequestKeys,
  pull_request_comment: ['types'],
  pull_request_review: ['types'],
  pull_request_review_comment: ['types'],
  pull_request_target: pullRequestKeys,
  push: [...branchFilters, 'tags', 'tags-ignore', 'paths', 'paths-ignore'],
  registry_package: ['types'],
  release: ['types'],
  repository_dispatch: ['types'],
  schedule: [],
  status: [],
  watch: ['types'],
  workflow_call: [],
  workflow_dispatch: [],
  workflow_run: ['types', 'workflows', ...branchFilters],
};

/** Whether GitHub starts workflows for `name` (`push`, `pull_request`, …). */
export function isGitHubEvent(name: string): boolean {
  return Object.hasOwn(eventKeys, name);
}
