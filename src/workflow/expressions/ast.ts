export type ComparisonOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicalOperator = '&&' | '||';

/**
 * An expression tree. Every node carries the 0-based offset of the token that names it (the literal, the
 * context or property name, the function name, `[`, `*`, `!`, or the first operator of a chain), relative
 * to the string the parser was given — for template parts and conditions that is the whole string.
 * Parentheses leave no node: they only shape the tree.
 */
export type Expr =
  | { readonly kind: 'literal'; readonly value: null | boolean | number | string; readonly offset: number }
  /** A top-level context such as `github`; `name` as written (contexts are case-insensitive). */
  | { readonly kind: 'context'; readonly name: string; readonly offset: number }
  /** `object.name` */
  | { readonly kind: 'property'; readonly object: Expr; readonly name: string; readonly offset: number }
  /** `object[index]` */
  | { readonly kind: 'index'; readonly object: Expr; readonly index: Expr; readonly offset: number }
  /** `object.*` or `object[*]`: the object filter. */
  | { readonly kind: 'wildcard'; readonly object: Expr; readonly offset: number }
  /** `name(args…)`; `name` as written (functions are case-insensitive). */
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly offset: number }
  | { readonly kind: 'not'; readonly operand: Expr; readonly offset: number }
  | {
      readonly kind: 'compare';
      readonly operator: ComparisonOperator;
      readonly left: Expr;
      readonly right: Expr;
      readonly offset: number;
    }
  /** A chain `a && b && c` is one node, as in GitHub's parser; it needs at least two operands. */
  | {
      readonly kind: 'logical';
      readonly operator: LogicalOperator;
      readonly operands: readonly Expr[];
      readonly offset: number;
    }
  /**
   * Text with embedded expressions, as in an `if:` that mixes them (`${{ a }} && b`): GitHub turns that into
   * `format('{0} && b', a)`, a string. Only parseCondition produces it; the parser never does.
   */
  | { readonly kind: 'template'; readonly parts: readonly (string | Expr)[]; readonly offset: number };

export function childrenOf(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'literal':
    case 'context':
      return [];
    case 'property':
    case 'wildcard':
      return [expr.object];
    case 'index':
      return [expr.object, expr.index];
    case 'call':
      return expr.args;
    case 'not':
      return [expr.operand];
    case 'compare':
      return [expr.left, expr.right];
    case 'logical':
      return expr.operands;
    case 'template':
      return expr.parts.filter((part): part is Expr => typeof part !== 'string');
  }
}

/** Every node, parents before children, children in source order. */
export function* walk(expr: Expr): Generator<Expr> {
  const stack: Expr[] = [expr];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    yield node;
    const children = childrenOf(node);
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child !== undefined) stack.push(child);
    }
  }
}

/** Names and offsets of every function call in the AST, for "unknown function" diagnostics (names as written). */
export function functionCalls(expr: Expr): { name: string; offset: number }[] {
  const calls: { name: string; offset: number }[] = [];
  for (const node of walk(expr)) {
    if (node.kind === 'call') calls.push({ name: node.name, offset: node.offset });
  }
  return calls;
}

/** Names (lower-cased) of top-level contexts referenced, e.g. `needs`, `matrix`, with offsets. */
export function contextReferences(expr: Expr): { name: string; offset: number }[] {
  const references: { name: string; offset: number }[] = [];
  for (const node of walk(expr)) {
    if (node.kind === 'context') references.push({ name: node.name.toLowerCase(), offset: node.offset });
  }
  return references;
}
