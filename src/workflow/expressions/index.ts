/**
 * GitHub Actions' `${{ }}` expression language with GitHub's semantics: parsing (with offsets for
 * diagnostics), evaluation against contexts, templates and `if:` conditions. Pure: the only outside input
 * is the injected hashFiles.
 */
export type { ComparisonOperator, Expr, LogicalOperator } from './ast.js';
export { contextReferences, functionCalls } from './ast.js';
export type { EvaluationContext } from './context.js';
export { ExpressionEvaluationError, ExpressionSyntaxError } from './errors.js';
export { evaluate } from './evaluate.js';
export { knownFunctions } from './functions.js';
export { maxExpressionDepth, maxExpressionLength, parseExpression } from './parser.js';
export { formatExpression } from './print.js';
export {
  conditionIsString,
  evaluateCondition,
  evaluateDeep,
  evaluateValue,
  hasExpressions,
  interpolate,
  literalTemplate,
  parseCondition,
  parseTemplate,
  type TemplatePart,
} from './template.js';
export {
  type ExpressionObject,
  type ExpressionValue,
  isObject,
  isTruthy,
  toDisplayString,
} from './values.js';
