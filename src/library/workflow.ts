import { findCycle } from '../core/dag.js';
import { isValkyrieError, ValkyrieError } from '../core/errors.js';
import type { JobOutcome } from './events.js';
import type { EngineTask } from './job-record.js';
import type { JobOptions } from './options.js';

export interface WorkflowNode {
  /** Unique within the workflow. */
  readonly id: string;
  /** A task registered with `engine.task()`, or its name. */
  readonly task: EngineTask | string;
  /** The node's own input, passed as `input` (undefined when omitted). */
  readonly input?: unknown;
  /** Priority, timeout and retry policy of this node's job (per-node retries). */
  readonly options?: JobOptions;
}

/** `to` runs after `from` succeeded, and receives its output. */
export interface WorkflowEdge {
  readonly from: string;
  readonly to: string;
}

export interface WorkflowDefinition {
  readonly nodes: readonly WorkflowNode[];
  readonly edges?: readonly WorkflowEdge[];
}

/** What a node's task function receives: its own input and every parent's output, by parent id. */
export interface NodeInput<Input = unknown> {
  readonly input: Input;
  readonly parents: Readonly<Record<string, unknown>>;
}

/** A node's end: its job's outcome, or `skipped` because an ancestor did not succeed. */
export type NodeOutcome = JobOutcome | { readonly kind: 'skipped'; readonly blockedBy: string };

export interface WorkflowResult {
  /** `succeeded` when every node succeeded. */
  readonly kind: 'succeeded' | 'failed';
  /** Output of every node that succeeded, by node id. */
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly nodes: Readonly<Record<string, NodeOutcome>>;
}

/** What a workflow needs from its engine. */
export interface WorkflowHost {
  /**
   * Throws VK_ENGINE_CONFIG for a task that is not registered or options that are invalid, naming
   * the node by `where()` (called only then: spelling it out for every node of every run costs).
   */
  check(where: () => string, task: EngineTask | string, options: JobOptions | undefined): void;
  /** Adds the node's job; `ended` hears its final outcome (once, later). Throws when closing. */
  enqueue(
    task: EngineTask | string,
    input: NodeInput,
    options: JobOptions | undefined,
    ended: (outcome: JobOutcome) => void,
  ): void;
}

interface Plan {
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  readonly parents: ReadonlyMap<string, readonly string[]>;
  readonly children: ReadonlyMap<string, readonly string[]>;
}

function graphError(message: string): never {
  throw new ValkyrieError('VK_WORKFLOW_GRAPH', `runWorkflow(): ${message}; nothing ran`);
}

/** Checks the whole graph, tasks and options before any node runs. */
export function planWorkflow(definition: WorkflowDefinition, host: WorkflowHost): Plan {
  if (typeof definition !== 'object' || definition === null || !Array.isArray(definition.nodes)) {
    graphError('expected { nodes: [...], edges?: [...] }');
  }
  const nodes = new Map<string, WorkflowNode>();
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  definition.nodes.forEach((node, i) => {
    const id: unknown = node?.id;
    if (typeof id !== 'string' || id === '')
      graphError(`nodes[${i}].id must be a non-empty string; received ${String(id)}`);
    if (nodes.has(id)) graphError(`nodes[${i}].id '${id}' is used by another node`);
    try {
      host.check(() => `nodes[${i}] ('${id}')`, node.task, node.options);
    } catch (error) {
      if (isValkyrieError(error)) graphError(error.message);
      throw error;
    }
    nodes.set(id, node);
    parents.set(id, []);
    children.set(id, []);
  });
  const known = () => [...nodes.keys()].map((id) => `'${id}'`).join(', ');
  const checkEnd = (i: number, end: 'from' | 'to', id: unknown): void => {
    if (typeof id !== 'string' || !nodes.has(id)) {
      graphError(
        `edges[${i}].${end} names no node: received ${typeof id === 'string' ? `'${id}'` : String(id)}; nodes are ${known()}`,
      );
    }
  };
  (definition.edges ?? []).forEach((edge, i) => {
    checkEnd(i, 'from', edge?.from);
    checkEnd(i, 'to', edge?.to);
    const toParents = parents.get(edge.to);
    if (toParents === undefined || toParents.includes(edge.from)) return;
    toParents.push(edge.from);
    children.get(edge.from)?.push(edge.to);
  });
  const cycle = findCycle(parents);
  if (cycle !== undefined) graphError(`the edges form a cycle: ${cycle.join(' → ')}`);
  return { nodes, parents, children };
}

/**
 * Runs every node as a job once all its parents succeeded; independent branches run at the same
 * time. A node that does not succeed (after its retries) makes every node downstream of it
 * `skipped`. Resolves when every node has an outcome; never rejects once the graph is accepted.
 */
export function runWorkflow(definition: WorkflowDefinition, host: WorkflowHost): Promise<WorkflowResult> {
  let plan: Plan;
  try {
    plan = planWorkflow(definition, host);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve) => {
    const outputs: Record<string, unknown> = {};
    const outcomes: Record<string, NodeOutcome> = {};
    const waitingFor = new Map<string, number>();
    let open = plan.nodes.size;
    let failed = false;
    const done = () => {
      if (--open === 0) resolve({ kind: failed ? 'failed' : 'succeeded', outputs, nodes: outcomes });
    };
    const skipBelow = (id: string, blockedBy: string) => {
      for (const child of plan.children.get(id) ?? []) {
        if (child in outcomes) continue;
        outcomes[child] = { kind: 'skipped', blockedBy };
        skipBelow(child, blockedBy);
        done();
      }
    };
    const ended = (id: string, outcome: JobOutcome) => {
      if (id in outcomes) return;
      outcomes[id] = outcome;
      if (outcome.kind === 'succeeded') {
        outputs[id] = outcome.output;
        for (const child of plan.children.get(id) ?? []) {
          const left = (waitingFor.get(child) ?? 0) - 1;
          waitingFor.set(child, left);
          if (left === 0 && !(child in outcomes)) start(child);
        }
      } else {
        failed = true;
        skipBelow(id, id);
      }
      done();
    };
    const start = (id: string) => {
      const node = plan.nodes.get(id);
      if (node === undefined) return;
      const parentOutputs: Record<string, unknown> = {};
      for (const parent of plan.parents.get(id) ?? []) parentOutputs[parent] = outputs[parent];
      try {
        host.enqueue(node.task, { input: node.input, parents: parentOutputs }, node.options, (outcome) =>
          ended(id, outcome),
        );
      } catch (error) {
        // The engine began closing while this workflow ran.
        const reason = error instanceof Error ? error.message : String(error);
        ended(id, { kind: 'cancelled', reason, attempts: 0 });
      }
    };
    if (open === 0) {
      resolve({ kind: 'succeeded', outputs, nodes: outcomes });
      return;
    }
    for (const [id, ids] of plan.parents) waitingFor.set(id, ids.length);
    for (const [id, ids] of plan.parents) if (ids.length === 0) start(id);
  });
}
