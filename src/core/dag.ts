/** Pure DAG utilities over string node ids. */

/** Returns one cycle as a path that starts and ends at the same node, or undefined when acyclic. */
export function findCycle(needs: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const seen = state.get(node);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const dep of needs.get(node) ?? []) {
      if (!needs.has(dep)) continue;
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of needs.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Kahn's algorithm; the order is stable with respect to the map's insertion order. */
export function topologicalOrder(needs: ReadonlyMap<string, readonly string[]>): string[] {
  const remaining = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const [node, deps] of needs) {
    remaining.set(node, deps.length);
    for (const dep of deps) {
      const list = dependants.get(dep) ?? [];
      list.push(node);
      dependants.set(dep, list);
    }
  }
  const order: string[] = [];
  const ready = [...needs.keys()].filter((node) => remaining.get(node) === 0);
  while (ready.length > 0) {
    const node = ready.shift() as string;
    order.push(node);
    for (const next of dependants.get(node) ?? []) {
      const left = (remaining.get(next) ?? 0) - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  if (order.length !== needs.size) throw new Error('topologicalOrder: graph has a cycle');
  return order;
}
