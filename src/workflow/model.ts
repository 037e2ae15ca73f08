import type { NotBefore } from '../core/not-before.js';
import type { Priority } from '../core/priority.js';
import type { RetryPolicy } from '../core/retry-delay.js';
import type { InputDefinition } from './inputs.js';
import type { MatrixFilter } from './matrix.js';

/**
 * The validated workflow: what the engine plans from. Values that GitHub lets users write as
 * expressions stay as template strings here and are evaluated when their contexts exist.
 */

export interface RunDefaults {
  readonly shell?: string;
  readonly workingDirectory?: string;
}

export interface StepDefinition {
  readonly index: number;
  readonly id?: string;
  /** Display name; defaults to `Run <first line of the script>` (`Run task://…` for a task step). */
  readonly name: string;
  /** The script; empty for a task or built-in step. */
  readonly run: string;
  /** A `uses: task://…` step: a JavaScript function run on the runner's thread pool instead of `run`. */
  readonly task?: TaskStepDefinition;
  /** A `uses: ./path` step: a local action the runner reads from the job's workspace when the step starts. */
  readonly action?: LocalActionStepDefinition;
  /**
   * A step the runner performs itself instead of `run`: `checkout` is `uses: actions/checkout@…`, which
   * succeeds at once since the job's workspace already is the checkout (workflow/checkout-step.ts).
   */
  readonly builtin?: 'checkout';
  /**
   * A built-in step's inputs to evaluate when it runs: for checkout, its content inputs written as
   * expressions (`ref: ${{ github.head_ref }}`), which must name what the workspace already is.
   */
  readonly with?: Readonly<Record<string, string>>;
  readonly shell?: string;
  readonly workingDirectory?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly if?: string;
  readonly continueOnError: boolean | string;
  readonly timeoutMinutes?: number | string;
  /** Absent: the step runs once. */
  readonly retry?: RetryPolicy;
}

export interface TaskStepDefinition {
  /** Relative to the job's workspace, as written. */
  readonly module: string;
  readonly exportName: string;
  /** `with:` values: templates, evaluated when the step starts; the task's input. */
  readonly with: Readonly<Record<string, string>>;
}

export interface LocalActionStepDefinition {
  /** The `uses:` value as written (`./.github/actions/hello`), relative to the job's workspace. */
  readonly path: string;
  /** `with:` values: templates, evaluated when the step starts; the action's inputs. */
  readonly with: Readonly<Record<string, string>>;
}

/** `strategy.matrix`: either an expression yielding the whole matrix, or axes with include/exclude. */
export type MatrixDefinition =
  | { readonly kind: 'expression'; readonly expression: string }
  | {
      readonly kind: 'axes';
      /** axis name → its values, or an expression yielding them */
      readonly axes: ReadonlyMap<string, readonly unknown[] | string>;
      readonly include: readonly Readonly<Record<string, unknown>>[] | string;
      readonly exclude: readonly Readonly<Record<string, unknown>>[] | string;
    };

export interface JobDefinition {
  /** The key under `jobs:`. */
  readonly key: string;
  /** Job-level `concurrency:`; its expressions are evaluated with the job's contexts when it is queued. */
  readonly concurrency?: ConcurrencyDefinition;
  readonly name?: string;
  readonly needs: readonly string[];
  readonly if?: string;
  readonly runsOn: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly defaults: RunDefaults;
  readonly outputs: Readonly<Record<string, string>>;
  readonly timeoutMinutes: number | string;
  readonly continueOnError: boolean | string;
  readonly matrix?: MatrixDefinition;
  readonly failFast: boolean | string;
  readonly maxParallel?: number | string;
  readonly steps: readonly StepDefinition[];
  /** Absent: the job runs once. */
  readonly retry?: RetryPolicy;
  /** What happens when the job's runner is lost (lease expired or disconnected) while it runs. */
  readonly onRunnerLost: RunnerLostPolicy;
  /** The job's own `priority:`; see engine/queue-placement.ts for the precedence. */
  readonly priority?: Priority;
  /** Undefined when the key is absent; validate.ts reports a value that is not a time. */
  readonly notBefore?: NotBefore;
}

/** `requeue`: the job goes back to the head of the queue; `fail`: it fails with reason `runner_lost`. */
export type RunnerLostPolicy = 'requeue' | 'fail';

export interface Workflow {
  readonly name: string;
  /** The file it came from, as the user named it. */
  readonly path: string;
  /**
   * The file's text, when it was parsed from one: an error evaluating a job's key at run time names
   * where the key is (`ci.yml:12:9: job "b": if: …`, engine/job-expansion.ts), as GitHub's do. Placed
   * only then, as errors are rare and placing reads the file with the slower YAML library.
   */
  readonly source?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly defaults: RunDefaults;
  /** The workflow's default `priority:` for its jobs. */
  readonly priority?: Priority;
  /** In file order. */
  readonly jobs: ReadonlyMap<string, JobDefinition>;
  /** Workflow-level `concurrency:` (see workflow/concurrency.ts); expressions are evaluated at run start. */
  readonly concurrency?: ConcurrencyDefinition;
  /** The inputs `on.workflow_dispatch.inputs` declares (workflow/inputs.ts); none when it declares none. */
  readonly inputs: readonly InputDefinition[];
  /** The events `on:` names, in file order (workflow/triggers.ts); empty without `on:`. */
  readonly triggers: readonly string[];
  /**
   * The run's `--matrix` filter (workflow/matrix.ts MatrixFilter): its jobs plan only the legs it
   * keeps (engine/job-expansion.ts). Set by the run, not the file, as `--job` narrows `jobs`.
   */
  readonly matrixFilter?: MatrixFilter;
}

export interface ConcurrencyDefinition {
  /** A template: may contain `${{ }}` over github, inputs and vars. */
  readonly group: string;
  /** A boolean, or an expression string evaluated like the group. */
  readonly cancelInProgress: boolean | string;
  readonly queue: boolean;
  /** Where a workflow-level group is in its file: an error evaluating it names file:line:col. */
  readonly at?: { readonly line: number; readonly col: number };
  /** Where a workflow-level `cancel-in-progress` expression is, likewise. */
  readonly cancelAt?: { readonly line: number; readonly col: number };
}

export const defaultJobTimeoutMinutes = 360;
export const maxMatrixLegs = 256;
export const defaultRunnerLostPolicy: RunnerLostPolicy = 'requeue';
