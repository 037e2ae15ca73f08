import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { summaryTable } from '../../../src/cli/views/summary.js';
import { textTable } from '../../../src/cli/views/text-table.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import { displayWidth } from '../../../src/core/display-width.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('text with wide or zero-width characters in the views', () => {
  it('is measured in terminal columns', () => {
    expect(displayWidth('build')).toBe(5);
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('ｔｅｓｔ')).toBe(8);
    expect(displayWidth('🚀 ship')).toBe(7);
    // e followed by a combining acute accent; a variation selector after a text-style check mark.
    expect(displayWidth('te\u0301st ✓\ufe0f')).toBe(6);
    expect(displayWidth('한국어')).toBe(6);
  });

  it('keeps the columns of a table aligned', () => {
    const table = textTable([
      ['NAME', 'ROLE'],
      ['日本のランナー', 'read'],
      ['ci', 'admin'],
    ]);
    expect(table).toBe('NAME            ROLE\n日本のランナー  read\nci              admin\n');
  });

  it("keeps the run summary's status column aligned", () => {
    const jobs = [
      { jobId: '1', name: 'tëst 日本', status: 'succeeded', durationMs: 1000 },
      { jobId: '2', name: 'lint', status: 'failed', durationMs: 2000 },
    ] as const;
    const lines = summaryTable(jobs, 'failed', 3000, colors(false)).split('\n');
    const statusColumn = (line: string) => displayWidth(line.slice(0, line.search(/[✓✗] /)));
    const rows = lines.filter((line) => /[✓✗] (succeeded|failed)/.test(line) && !/^Run /.test(line.trim()));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rows.map(statusColumn)).size).toBe(1);
  });

  it('cuts a live line to the terminal width by columns, never half of a character', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 20);
    view.onEvent({ type: 'job.started', jobId: '1.1', name: 'build', at: 1 });
    view.onEvent({ type: 'step.started', jobId: '1.1', job: 'build', index: 0, step: 's', at: 1 });
    view.onEvent({
      type: 'log',
      jobId: '1.1',
      job: 'build',
      stepIndex: 0,
      stream: 'stdout',
      text: '🚀🚀🚀日本語のテスト出力です',
      at: 2,
    });
    vi.advanceTimersByTime(100);
    const last = written.at(-1) ?? '';
    const lines = frameLines(last);
    const output = lines.find((line) => line.includes('│')) ?? '';
    expect(displayWidth(output)).toBeLessThanOrEqual(19);
    expect(output).toBe('    │ 🚀🚀🚀日本語');
  });
});
