import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

describe('validate and run refuse hostile workflow files with a diagnostic', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const deep = ws.write('deep.yml', `a: ${'['.repeat(50_000)}\n`);
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [name, previous] of [...'bcdefghi'].map((c, i) => [c, 'abcdefghi'[i]]))
    levels.push(`${name}: &${name} [${`*${previous},`.repeat(8)}*${previous}]`);
  const bomb = ws.write('bomb.yml', `${levels.join('\n')}\njobs: *i\n`);

  it.each(['validate', 'run'])(
    '%s: exit 2, the file:line:col and what is wrong, no stack',
    async (command) => {
      const tooDeep = await ws.run([command, deep]);
      expect(tooDeep).toMatchObject({ code: 2, signal: null });
      expect(tooDeep.stderr).toMatch(
        /^.*deep\.yml:1:67: error: YAML: collections nest deeper than 64 levels here; a workflow needs far fewer\n/,
      );
      const aliases = await ws.run([command, bomb]);
      expect(aliases).toMatchObject({ code: 2, signal: null });
      expect(aliases.stderr).toMatch(
        /^.*bomb\.yml:2:8: error: YAML: the aliases expand to more than 100 copies of their anchors' values; write the values out instead\n/,
      );
      for (const { stderr } of [tooDeep, aliases]) expect(stderr).not.toMatch(/\n\s+at |FATAL|Error:/);
    },
  );
});
