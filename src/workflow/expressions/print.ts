import type { Expr } from './ast.js';

// Binding strength, loosest first; postfix access and primaries bind tightest.
const precedence = { '||': 1, '&&': 2, '==': 3, '!=': 3, '<': 4, '<=': 4, '>': 4, '>=': 4, '!': 5 } as const;
const tightest = 6;

/**
 * Prints a tree back as expression source that parses to the same tree (offsets aside), adding
 * parentheses only where precedence needs them. Used for messages and in tests.
 */
export function formatExpression(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return formatLiteral(expr.value);
    case 'context':
      return expr.name;
    case 'property':
      return `${accessTarget(expr.object)}.${expr.name}`;
    case 'index':
      return `${accessTarget(expr.object)}[${formatExpression(expr.index)}]`;
    case 'wildcard':
      return `${accessTarget(expr.object)}.*`;
    case 'call':
      return `${expr.name}(${expr.args.map(formatExpression).join(', ')})`;
    case 'not':
      return `!${operand(expr.operand, precedence['!'])}`;
    case 'compare': {
      const level = precedence[expr.operator];
      // Comparisons associate to the left, so an equal-precedence right operand needs parentheses.
      return `${operand(expr.left, level)} ${expr.operator} ${operand(expr.right, level + 1)}`;
    }
    case 'logical': {
      // Chains are flat nodes; a nested chain of the same operator was parenthesised in the source.
      const level = precedence[expr.operator] + 1;
      return expr.operands.map((item) => operand(item, level)).join(` ${expr.operator} `);
    }
    case 'template': {
      let format = '';
      const args: string[] = [];
      for (const part of expr.parts) {
        if (typeof part === 'string') {
          format += part.replace(/[{}]/g, (brace) => brace + brace);
        } else {
          format += `{${args.length}}`;
          args.push(formatExpression(part));
        }
      }
      return `format(${[formatLiteral(format), ...args].join(', ')})`;
    }
  }
}

function formatLiteral(value: null | boolean | number | string): string {
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return String(value);
}

function levelOf(expr: Expr): number {
  switch (expr.kind) {
    case 'compare':
      return precedence[expr.operator];
    case 'logical':
      return precedence[expr.operator];
    case 'not':
      return precedence['!'];
    default:
      return tightest;
  }
}

function operand(expr: Expr, minimum: number): string {
  const text = formatExpression(expr);
  return levelOf(expr) < minimum ? `(${text})` : text;
}

/** GitHub only allows access after a context, a call or parentheses. */
function accessTarget(expr: Expr): string {
  const text = formatExpression(expr);
  return expr.kind === 'context' || expr.kind === 'call' || isAccess(expr) ? text : `(${text})`;
}

function isAccess(expr: Expr): boolean {
  return expr.kind === 'property' || expr.kind === 'index' || expr.kind === 'wildcard';
}
