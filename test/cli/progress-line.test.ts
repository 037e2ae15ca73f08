import { describe, expect, it } from 'vitest';
import { ProgressLine } from '../../src/cli/progress-line.js';

/** A stream that keeps what is written, as a terminal of `columns` or a pipe would get it. */
function output(isTTY: boolean, columns = 80) {
  const written: string[] = [];
  return { written, isTTY, columns, write: (text: string) => written.push(text) };
}

function line(out: ReturnType<typeof output>, clock: { now: number }) {
  return new ProgressLine(out, { intervalMs: 250, now: () => clock.now });
}

describe('ProgressLine', () => {
  it('on a terminal redraws one line in place, at most every interval, and wipes it before a line that stays', () => {
    const out = output(true);
    const clock = { now: 1_000 };
    const progress = line(out, clock);
    progress.say('Packing 3 files (9.0 MiB)…');
    progress.begin();
    progress.update(() => 'too soon');
    clock.now += 250;
    progress.update(() => 'Packing: 10%');
    clock.now += 100;
    progress.update(() => 'Packing: 20%');
    clock.now += 150;
    progress.update(() => 'Packing: 30%');
    progress.say('Packed in 2s');
    progress.clear();
    expect(out.written).toEqual([
      'Packing 3 files (9.0 MiB)…\n',
      '\rPacking: 10%\u001b[K',
      '\rPacking: 30%\u001b[K',
      '\r\u001b[K',
      'Packed in 2s\n',
    ]);
  });

  it('cuts the live line to the terminal width, so that it never wraps', () => {
    const out = output(true, 30);
    const clock = { now: 0 };
    const progress = line(out, clock);
    progress.begin();
    clock.now = 300;
    progress.update(() => 'x'.repeat(100));
    expect(out.written).toEqual([`\r${'x'.repeat(29)}\u001b[K`]);
  });

  it('piped, writes only the lines said', () => {
    const out = output(false);
    const clock = { now: 0 };
    const progress = line(out, clock);
    progress.begin();
    for (let i = 1; i <= 10; i++) {
      clock.now = i * 1_000;
      progress.update(() => `Uploading: ${i * 10}%`);
    }
    progress.say('Workspace: 3 files: uploaded');
    progress.clear();
    expect(out.written).toEqual(['Workspace: 3 files: uploaded\n']);
  });
});
