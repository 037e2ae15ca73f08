import { postStepBase, preStepBase } from '../core/step-phases.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type { ActionPhaseScript } from '../workflow/action-manifest.js';
import { type EvaluationContext, evaluateCondition } from '../workflow/expressions/index.js';
import type { StepDefinition } from '../workflow/model.js';
import { ActionLoadError, type LoadedAction, loadLocalAction } from './action-loading.js';
import { compositePres } from './composite-pres.js';
import { keyValueEntries } from './key-value-file.js';
import type { JobDirectories } from './slot-directories.js';

/** A `pre:` or `post:` of the JavaScript action a workflow's step uses: it runs as a step of its own. */
export interface ActionPart {
  readonly kind: 'pre' | 'post';
  /**
   * The workflow's step that uses the action: its env:, with:, timeout-minutes and continue-on-error
   * apply to the part, as GitHub applies them; its name (as shown when the part was planned) names it.
   */
  readonly step: StepDefinition;
  /** As read for the pre (at the job's start) or the main part (for the post). */
  readonly action: LoadedAction;
  readonly script: ActionPhaseScript;
  /** For the pre or post of an action a composite action uses: that use. */
  readonly nested?: NestedUse;
}

/**
 * A step of a composite action that uses a JavaScript action with a `pre:` or `post:` (composite-pres.ts
 * finds the pres; a post is due once the use's main part ran): the part is run as that use again, its
 * `with:` evaluated in the composite action's context.
 */
export interface NestedUse {
  readonly uses: string;
  readonly with: Readonly<Record<string, string>>;
  /**
   * The context of the composite action's step that makes the use, as of now (the composite
   * action's inputs and steps), given the workflow step's context as of now.
   */
  readonly context: (calling: () => EvaluationContext) => EvaluationContext;
  /** The use's command-file key (`3-0-1`): it also keys the state its parts share. */
  readonly filesKey: string;
  readonly depth: number;
  /** For a pre: whether the use would run as the job starts (its if:, and those it is nested in). */
  readonly atStart?: (calling: () => EvaluationContext) => boolean;
}

/** What the job gives the run of one part of a workflow step's action (local-action-step.ts). */
export interface ActionPartRun {
  /** The pre or post being run; absent for the main part. */
  readonly part?: ActionPart;
  /**
   * `$GITHUB_STATE` values the action's parts saved so far in this job: `STATE_<name>`, added to.
   * The workflow step's action's without `use`; with it, those of the action a composite step uses.
   */
  readonly state: (use?: string) => Record<string, string>;
  /**
   * Called as the main part of a JavaScript action starts, before its script is looked for (as
   * actions/runner registers a post): its post is then due after the job's steps, whatever the main
   * part's end. `nested` for an action a composite action uses.
   */
  readonly mainRan: (action: LoadedAction, nested?: NestedUse) => void;
}

/**
 * The pre and post parts of a job's JavaScript actions, as GitHub's runner runs them: each pre before
 * the job's first step, in the order of the steps; each post after the job's last step, the last
 * step's first, only for a step whose main part ran. The parts of actions a composite step uses run
 * in its place: their pres in order, their posts the last started first. The parts of one use share what
 * they save to `$GITHUB_STATE`. Each part is recorded at an index of its own (core/step-phases.ts).
 */
export class ActionParts {
  /** By the use's command-file key (the workflow step's index, or `3-0-1` inside a composite action). */
  private readonly states = new Map<string, Record<string, string>>();
  /** By the same key: a step retried runs its main part again, its post once (where it last ran). */
  private readonly due = new Map<string, { readonly part: ActionPart; readonly order: number }>();
  private mainsRan = 0;
  private presRecorded = 0;
  private postsRecorded = 0;

  constructor(
    private readonly spec: JobSpec,
    private readonly directories: JobDirectories,
  ) {}

  /**
   * The pre parts of the job's steps, in their order. An action.yml that cannot be read (or that
   * is not a JavaScript action with a `pre:`) has none: its step fails when it starts, saying why.
   */
  pres(): ActionPart[] {
    const out: ActionPart[] = [];
    for (const step of this.spec.steps) {
      if (step.action === undefined) continue;
      let action: LoadedAction;
      try {
        action = loadLocalAction(this.spec.workspace, step.action.path);
      } catch (error) {
        if (error instanceof ActionLoadError) continue;
        throw error;
      }
      const { runs } = action.manifest;
      if (runs.kind === 'node' && runs.pre !== undefined)
        out.push({ kind: 'pre', step, action, script: runs.pre });
      else out.push(...compositePres(this.spec, this.directories, step, action));
    }
    return out;
  }

  /** The posts due, the last step's first; within a composite step, the last started first. */
  posts(): ActionPart[] {
    const due = [...this.due.values()];
    due.sort((a, b) => b.part.step.index - a.part.step.index || b.order - a.order);
    return due.map(({ part }) => part);
  }

  /** The index the next part of `kind` is recorded at. */
  nextIndex(kind: ActionPart['kind']): number {
    if (kind === 'pre') return preStepBase + this.presRecorded++;
    return postStepBase + this.postsRecorded++;
  }

  /** The run of `step`'s main part (`part` absent) or of one of its parts. */
  runOf(step: StepDefinition, part?: ActionPart): ActionPartRun {
    const own = String(part?.step.index ?? step.index);
    const state = (use = own) => {
      let values = this.states.get(use);
      if (values === undefined) {
        values = {};
        this.states.set(use, values);
      }
      return values;
    };
    const mainRan = (action: LoadedAction, nested?: NestedUse) => {
      const { runs } = action.manifest;
      if (runs.kind !== 'node' || runs.post === undefined) return;
      const key = nested?.filesKey ?? own;
      const due: ActionPart = { kind: 'post', step, action, script: runs.post, ...(nested && { nested }) };
      this.due.delete(key);
      this.due.set(key, { part: due, order: this.mainsRan++ });
    };
    return { state, mainRan, ...(part === undefined ? {} : { part }) };
  }
}

/**
 * The step a part is recorded and logged as: `Pre <name>` or `Post <name>` (GitHub's names, `name` the
 * workflow step's as shown) at its own index, without the step's id (a part sets no `steps.<id>`) or
 * `retry:`.
 */
export function partStep(part: ActionPart, index: number, name: string): StepDefinition {
  const { id: _id, retry: _retry, ...rest } = part.step;
  const use = part.nested === undefined ? '' : ` (${part.nested.uses})`;
  return { ...rest, index, name: `${part.kind === 'pre' ? 'Pre' : 'Post'} ${name}${use}` };
}

/** Whether a step would run as the job starts, for its pre: its if: absent, or true then. */
export function runsAtStart(step: StepDefinition, context: EvaluationContext): boolean {
  if (step.if === undefined) return true;
  try {
    return evaluateCondition(step.if, context);
  } catch {
    // Said when the step itself starts, where its if: fails it.
    return false;
  }
}

/** `FILE:LINE:COL: ` of the part's `pre:` or `post:` in its action.yml, for its condition's errors. */
export function partPlace(part: ActionPart): string {
  return `${part.action.file}:${part.script.at.line}:${part.script.at.col}: `;
}

/** `STATE_<name>` for each value saved, as @actions/core's getState reads them. */
export function stateVariables(state: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(state)) out[`STATE_${name}`] = value;
  return out;
}

/**
 * Adds what a part wrote to `$GITHUB_STATE` (`name=value` lines, or `name<<EOF` blocks). An empty
 * name is kept, as actions/runner's SaveStateFileCommand keeps it (`STATE_` then).
 */
export function saveState(text: string, state: Record<string, string>): void {
  for (const { name, value } of keyValueEntries(text, 'GITHUB_STATE')) state[name] = value;
}
