import { describe, expect, it } from 'vitest';
import { describeAnnotation, parseWorkflowCommand } from '../../src/runner/workflow-commands.js';

describe('workflow commands', () => {
  it('parses commands with properties and escapes', () => {
    expect(parseWorkflowCommand('::add-mask::secret value')).toEqual({
      name: 'add-mask',
      properties: {},
      message: 'secret value',
    });
    const error = parseWorkflowCommand(
      '::error file=src/a.ts,line=3,col=5,title=Bad%3A thing::line1%0Aline2 100%25',
    );
    expect(error).toEqual({
      name: 'error',
      properties: { file: 'src/a.ts', line: '3', col: '5', title: 'Bad: thing' },
      message: 'line1\nline2 100%',
    });
    expect(error && describeAnnotation(error)).toBe('error (src/a.ts:3:5): Bad: thing: line1\nline2 100%');
    expect(parseWorkflowCommand('::group::Build')).toEqual({
      name: 'group',
      properties: {},
      message: 'Build',
    });
  });

  it('ignores ordinary output', () => {
    expect(parseWorkflowCommand('a::b::c')).toBeUndefined();
    expect(parseWorkflowCommand('plain text')).toBeUndefined();
  });
});
