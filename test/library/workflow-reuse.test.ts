import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../src/core/errors.js';
import type { JobOptions } from '../../src/library/options.js';
import type { WorkflowEdge, WorkflowNode } from '../../src/library/workflow.js';
import { fixture, openTestEngine } from './helpers.js';

async function rejectionMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isValkyrieError(error) && error.code === 'VK_WORKFLOW_GRAPH') return error.message;
    throw error;
  }
  throw new Error('expected a VK_WORKFLOW_GRAPH rejection');
}

/**
 * One definition object run again and again (the engine reuses its checked graph): every run sees
 * the definition as it is then, changed in place or not.
 */
describe('Engine: a workflow definition run more than once', () => {
  it('uses the current inputs, and rejects edges or options changed in place into invalid ones', async () => {
    const { engine } = await openTestEngine();
    engine.task('sum', { module: fixture(), exportName: 'sum' });
    const root: { id: string; task: string; input: number; options?: JobOptions } = {
      id: 'constructor',
      task: 'sum',
      input: 1,
    };
    const nodes: WorkflowNode[] = [root, { id: 'toString', task: 'sum', input: 10 }];
    const edges: WorkflowEdge[] = [{ from: 'constructor', to: 'toString' }];
    const definition = { nodes, edges };

    const first = await engine.runWorkflow(definition);
    expect(first.outputs).toMatchObject({ toString: { total: 11 } });
    root.input = 5;
    const second = await engine.runWorkflow(definition);
    expect(second.outputs).toMatchObject({ toString: { total: 15 } });

    root.options = { priority: 'urgent' as JobOptions['priority'] };
    expect(await rejectionMessage(engine.runWorkflow(definition))).toMatch(/nodes\[0\] \('constructor'\)/);
    root.options = { retry: { maxAttempts: 2 } };
    expect((await engine.runWorkflow(definition)).kind).toBe('succeeded');
    const options = root.options;
    Object.assign(options, { priority: 'urgent' });
    expect(await rejectionMessage(engine.runWorkflow(definition))).toMatch(/priority/);
    Object.assign(options, { priority: 'high' });

    edges.push({ from: 'toString', to: 'constructor' });
    expect(await rejectionMessage(engine.runWorkflow(definition))).toMatch(/cycle/);
    edges.pop();
    (edges[0] as { to: string }).to = 'nowhere';
    expect(await rejectionMessage(engine.runWorkflow(definition))).toMatch(/edges\[0\]\.to names no node/);
    (edges[0] as { to: string }).to = 'toString';
    nodes.push({ id: 'toString', task: 'sum' });
    expect(await rejectionMessage(engine.runWorkflow(definition))).toMatch(/used by another node/);
    nodes.pop();
    expect((await engine.runWorkflow(definition)).outputs).toMatchObject({ toString: { total: 15 } });
  });
});
