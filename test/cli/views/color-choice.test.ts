import { expect, it } from 'vitest';
import { type ColorChoice, colorChoice } from '../../../src/cli/views/color-choice.js';

it.each<[string, boolean | undefined, NodeJS.ProcessEnv, boolean, ColorChoice]>([
  ['a terminal', undefined, {}, true, 'terminal'],
  ['a pipe', undefined, {}, false, 'none'],
  ['--no-color on a terminal', false, {}, true, 'none'],
  ['NO_COLOR=1 on a terminal', undefined, { NO_COLOR: '1' }, true, 'none'],
  ['an empty NO_COLOR (no-color.org: set and not empty)', undefined, { NO_COLOR: '' }, true, 'terminal'],
  ['FORCE_COLOR=1 on a pipe', undefined, { FORCE_COLOR: '1' }, false, 'forced'],
  ['an empty FORCE_COLOR', undefined, { FORCE_COLOR: '' }, false, 'forced'],
  ['FORCE_COLOR=3 over NO_COLOR', undefined, { FORCE_COLOR: '3', NO_COLOR: '1' }, false, 'forced'],
  ['FORCE_COLOR=0 on a terminal', undefined, { FORCE_COLOR: '0' }, true, 'none'],
  ['FORCE_COLOR=false on a terminal', undefined, { FORCE_COLOR: 'False' }, true, 'none'],
  ['--no-color over FORCE_COLOR', false, { FORCE_COLOR: '1' }, false, 'none'],
])('%s', (_case, color, env, isTTY, choice) => {
  expect(colorChoice(color, env, isTTY)).toBe(choice);
});
