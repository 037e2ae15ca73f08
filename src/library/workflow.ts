import { findCycle } from '../core/dag.js';
import { messageOf } from '../core/error-message.js';
import { isValkyrieError, ValkyrieError } from '../core/errors.js';
import { setOwn } from '../core/own-property.js';
import type { TaskRef } from './enqueue-request.js';
import type { JobOutcome } from './events.js';
import type { EngineTask } from './job-record.js';
import type { Jsonified } from './jsonified.js';
import { checkOptionNames } from './option-keys.js';
import { shownValue } from './option-values.js';
import type { JobOptions } from './options.js';

/**
 * A node of a workflow whose task is `Task`. Its `input` is checked against what the task's
 * `NodeInput<X>` holds (`X`); a task typed otherwise, or given by name, takes any input.
 */
export interface WorkflowNode<Task extends TaskRef = TaskRef> {
  /** Unique within the workflow. */
  readonly id: string;
  /** A task registered with `engine.task()`, or its name. */
  readonly task: Task;
  /**
   * The node's own input, passed as `input` (undefined when omitted: optional whatever the task,
   * so a task of `NodeInput<X>` must expect `input: undefined` if a node may leave it out).
   */
  readonly input?: NodeInputOf<Task>;
  /** Priority, timeout and retry policy of this node's job (per-node retries). */
  readonly options?: JobOptions;
}

/** `X` for a task of `NodeInput<X, …>`; unknown (anything) for a task typed otherwise or by name. */
type NodeInputOf<Task> =
  Task extends EngineTask<infer Input, unknown>
    ? Input extends NodeInput<infer X, object>
      ? X
      : unknown
    : unknown;

/** A task's output type; unknown for a task given by name. Distributes over a union of tasks. */
type OutputOf<Task> = Task extends EngineTask<unknown, infer Output> ? Output : unknown;

/**
 * What a workflow's outputs may be: the output of one of its nodes' tasks in its JSON form (their
 * union; unknown as soon as one node's task is unknown's, as a task given by name is).
 */
export type WorkflowOutput<Tasks extends readonly TaskRef[]> = Jsonified<OutputOf<Tasks[number]>>;

/** `to` runs after `from` succeeded, and receives its output. */
export interface WorkflowEdge {
  readonly from: string;
  readonly to: string;
}

/**
 * `Tasks` are the nodes' tasks, inferred node by node from each `task` (as `EnqueueRequests` types
 * `enqueueMany`'s requests), so that each node's `input` is checked against its own task.
 */
export interface WorkflowDefinition<Tasks extends readonly TaskRef[] = readonly TaskRef[]> {
  readonly nodes: { readonly [K in keyof Tasks]: WorkflowNode<Tasks[K]> };
  readonly edges?: readonly WorkflowEdge[];
}

/**
 * What a node's task function receives: its own input and every parent's output, by parent id.
 * `Parents` is what the task expects of its parents, as it declares it
 * (`engine.task<NodeInput<Size, { fetch: Fetched }>, Resized>(…)`: its node's parent `fetch` returns
 * a `Fetched`); by default any parents, of unknown outputs. The engine hands over what the parent
 * nodes returned (in their JSON form); which nodes are the parents is the workflow's edges' say, not
 * checked against `Parents`.
 */
export interface NodeInput<Input = unknown, Parents extends object = Readonly<Record<string, unknown>>> {
  readonly input: Input;
  readonly parents: Readonly<Parents>;
}

/** A node's end: its job's outcome, or `skipped` because an ancestor did not succeed. */
export type NodeOutcome<Output = unknown> =
  | JobOutcome<Output>
  | { readonly kind: 'skipped'; readonly blockedBy: string };

/** `Output`: what any node's task returns (WorkflowOutput: the union of the nodes' task outputs). */
export interface WorkflowResult<Output = unknown> {
  /** `succeeded` when every node succeeded. */
  readonly kind: 'succeeded' | 'failed';
  /** Output of every node that succeeded, by node id. */
  readonly outputs: Readonly<Record<string, Output>>;
  readonly nodes: Readonly<Record<string, NodeOutcome<Output>>>;
}

/** What a workflow needs from its engine. */
export interface WorkflowHost {
  /**
   * Throws VK_ENGINE_CONFIG for a task that is not registered or options that are invalid, naming
   * the node by `where()` (called only then: spelling it out for every node of every run costs).
   */
  check(where: () => string, task: EngineTask | string, options: JobOptions | undefined): void;
  /**
   * Adds the node's job; `ended` hears its final outcome (once, later), with `recorded` while the
   * store is still writing that outcome: jobs enqueued from `ended` are then stored with it or after
   * it, and the workflow's result waits for it. Throws when closing.
   */
  enqueue(
    task: EngineTask | string,
    input: NodeInput,
    options: JobOptions | undefined,
    ended: (outcome: JobOutcome, recorded: Promise<unknown> | undefined) => void,
  ): void;
  /** This host's checked graphs, by definition: see planFor. */
  readonly plans: WorkflowPlans;
}

export type WorkflowPlans = WeakMap<WorkflowDefinition, WorkflowPlan>;

/** A checked graph; nodes by position in `definition.nodes`, edges as positions. */
export interface WorkflowPlan {
  readonly nodes: readonly WorkflowNode[];
  readonly ids: readonly string[];
  readonly tasks: readonly (EngineTask | string)[];
  readonly options: readonly (JobOptions | undefined)[];
  readonly parents: readonly (readonly number[])[];
  readonly children: readonly (readonly number[])[];
  /** The edges it was made from, and their ends (from, to, from, to, …). */
  readonly edges: readonly WorkflowEdge[];
  readonly ends: readonly string[];
}

const noEdges: readonly WorkflowEdge[] = [];

function graphError(message: string): never {
  throw new ValkyrieError('VK_WORKFLOW_GRAPH', `runWorkflow(): ${message}; nothing ran`);
}

/**
 * The definition's plan: checked once per definition object and reused while the definition still
 * holds the same nodes and edges (the usual case: one definition run many times), which spares
 * every run the graph's maps and cycle search. Node options are checked again on every run, since
 * an options object may have been changed in place; a node's input is read when the node starts.
 */
function planFor(definition: WorkflowDefinition, host: WorkflowHost): WorkflowPlan {
  const cached = host.plans.get(definition);
  if (cached !== undefined && stillDescribes(cached, definition)) {
    cached.options.forEach((options, i) => {
      if (options !== undefined) checkNode(host, i, cached.ids[i] ?? '', cached.tasks[i] ?? '', options);
    });
    return cached;
  }
  const plan = planWorkflow(definition, host);
  host.plans.set(definition, plan);
  return plan;
}

function stillDescribes(plan: WorkflowPlan, definition: WorkflowDefinition): boolean {
  const nodes = definition.nodes;
  if (!Array.isArray(nodes) || nodes.length !== plan.nodes.length) return false;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    if (
      node === undefined ||
      node !== plan.nodes[i] ||
      node.id !== plan.ids[i] ||
      node.task !== plan.tasks[i] ||
      node.options !== plan.options[i]
    )
      return false;
  }
  const edges = definition.edges ?? noEdges;
  if (!Array.isArray(edges) || edges.length !== plan.edges.length) return false;
  for (let i = 0; i < edges.length; i++) {
    const edge = edges[i];
    if (
      edge === undefined ||
      edge !== plan.edges[i] ||
      edge.from !== plan.ends[2 * i] ||
      edge.to !== plan.ends[2 * i + 1]
    )
      return false;
  }
  return true;
}

function checkNode(
  host: WorkflowHost,
  i: number,
  id: string,
  task: EngineTask | string,
  options: JobOptions | undefined,
): void {
  asGraphError(() => {
    // Taken as a job's, it was ignored: nothing would cancel the node (docs/library.md, Cancelling).
    if (options?.signal !== undefined) {
      graphError(
        `nodes[${i}] ('${id}') options.signal: a workflow node takes no signal (its job cannot be cancelled by itself); destroy() ends a workflow`,
      );
    }
    host.check(() => `nodes[${i}] ('${id}')`, task, options);
  });
}

/** Runs `check`, reporting its VK_ENGINE_CONFIG as the graph's error. */
function asGraphError(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (isValkyrieError(error) && error.code !== 'VK_WORKFLOW_GRAPH') graphError(error.message);
    throw error;
  }
}

/** Checks the whole graph, tasks and options before any node runs. */
function planWorkflow(definition: WorkflowDefinition, host: WorkflowHost): WorkflowPlan {
  if (typeof definition !== 'object' || definition === null || !Array.isArray(definition.nodes)) {
    graphError('expected { nodes: [...], edges?: [...] }');
  }
  const nodes = [...definition.nodes];
  const positions = new Map<string, number>();
  const ids: string[] = [];
  nodes.forEach((node, i) => {
    const id: unknown = node?.id;
    if (typeof id !== 'string' || id === '')
      graphError(`nodes[${i}].id must be a non-empty string; received ${shownValue(id)}`);
    if (positions.has(id)) graphError(`nodes[${i}].id '${id}' is used by another node`);
    asGraphError(() => checkOptionNames(`nodes[${i}] ('${id}')`, node, 'node'));
    checkNode(host, i, id, node.task, node.options);
    positions.set(id, i);
    ids.push(id);
  });
  const known = () => ids.map((id) => `'${id}'`).join(', ');
  const position = (i: number, end: 'from' | 'to', id: unknown): number => {
    const at = typeof id === 'string' ? positions.get(id) : undefined;
    if (at === undefined) {
      graphError(`edges[${i}].${end} names no node: received ${shownValue(id)}; nodes are ${known()}`);
    }
    return at;
  };
  const parents: number[][] = nodes.map(() => []);
  const children: number[][] = nodes.map(() => []);
  if (definition.edges !== undefined && !Array.isArray(definition.edges)) {
    graphError(`edges must be an array of { from, to }; received ${typeof definition.edges}`);
  }
  const edges = [...(definition.edges ?? noEdges)];
  const ends: string[] = [];
  edges.forEach((edge, i) => {
    if (typeof edge === 'object' && edge !== null)
      asGraphError(() => checkOptionNames(`edges[${i}]`, edge, 'edge'));
    const from = position(i, 'from', edge?.from);
    const to = position(i, 'to', edge?.to);
    ends.push(edge.from, edge.to);
    const toParents = parents[to];
    if (toParents === undefined || toParents.includes(from)) return;
    toParents.push(from);
    children[from]?.push(to);
  });
  const needs = new Map(ids.map((id, i) => [id, (parents[i] ?? []).map((parent) => ids[parent] ?? '')]));
  const cycle = findCycle(needs);
  if (cycle !== undefined) graphError(`the edges form a cycle: ${cycle.join(' → ')}`);
  return {
    nodes,
    ids,
    tasks: nodes.map((node) => node.task),
    options: nodes.map((node) => node.options),
    parents,
    children,
    edges,
    ends,
  };
}

/**
 * Runs every node as a job once all its parents succeeded; independent branches run at the same
 * time. A node that does not succeed (after its retries) makes every node downstream of it
 * `skipped`. Resolves when every node has an outcome; never rejects once the graph is accepted.
 */
export function runWorkflow(definition: WorkflowDefinition, host: WorkflowHost): Promise<WorkflowResult> {
  let plan: WorkflowPlan;
  try {
    plan = planFor(definition, host);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve) => {
    const { ids, parents, children } = plan;
    const outputs: Record<string, unknown> = {};
    const outcomes: Record<string, NodeOutcome> = {};
    const waitingFor = parents.map((list) => list.length);
    const finished = new Uint8Array(ids.length);
    let open = ids.length;
    let failed = false;
    /**
     * The write of the last node outcome heard while still being written. Records are written in the
     * order they are made, so once it is done every earlier node's is too.
     */
    let lastRecorded: Promise<unknown> | undefined;
    const done = () => {
      if (--open !== 0) return;
      const result: WorkflowResult = { kind: failed ? 'failed' : 'succeeded', outputs, nodes: outcomes };
      if (lastRecorded === undefined) resolve(result);
      else lastRecorded.then(() => resolve(result));
    };
    const skipBelow = (at: number, blockedBy: string) => {
      for (const child of children[at] ?? []) {
        if (finished[child] === 1) continue;
        finished[child] = 1;
        setOwn(outcomes, ids[child] ?? '', { kind: 'skipped', blockedBy });
        skipBelow(child, blockedBy);
        done();
      }
    };
    const ended = (at: number, outcome: JobOutcome, recorded: Promise<unknown> | undefined) => {
      if (finished[at] === 1) return;
      finished[at] = 1;
      if (recorded !== undefined) lastRecorded = recorded;
      const id = ids[at] ?? '';
      setOwn(outcomes, id, outcome);
      if (outcome.kind === 'succeeded') {
        setOwn(outputs, id, outcome.output);
        for (const child of children[at] ?? []) {
          const left = (waitingFor[child] ?? 0) - 1;
          waitingFor[child] = left;
          if (left === 0 && finished[child] === 0) start(child);
        }
      } else {
        failed = true;
        skipBelow(at, id);
      }
      done();
    };
    const start = (at: number) => {
      const node = plan.nodes[at];
      if (node === undefined) return;
      const parentOutputs: Record<string, unknown> = {};
      for (const parent of parents[at] ?? []) {
        const parentId = ids[parent] ?? '';
        setOwn(parentOutputs, parentId, outputs[parentId]);
      }
      try {
        host.enqueue(
          node.task,
          { input: node.input, parents: parentOutputs },
          node.options,
          (outcome, recorded) => ended(at, outcome, recorded),
        );
      } catch (error) {
        // The engine began closing while this workflow ran, or the node's idempotency key belongs
        // to a job of another task or input.
        const reason = messageOf(error);
        ended(at, { kind: 'cancelled', reason, attempts: 0 }, undefined);
      }
    };
    if (open === 0) {
      resolve({ kind: 'succeeded', outputs, nodes: outcomes });
      return;
    }
    for (let at = 0; at < ids.length; at++) if (parents[at]?.length === 0) start(at);
  });
}
