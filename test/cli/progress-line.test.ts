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
    progress.update(() => 'too soon', 0.05);
    clock.now += 250;
    progress.update(() => 'Packing: 10%', 0.1);
    clock.now += 100;
    progress.update(() => 'Packing: 20%', 0.2);
    clock.now += 150;
    progress.update(() => 'Packing: 30%', 0.3);
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
    progress.update(() => 'x'.repeat(100), 0.5);
    expect(out.written).toEqual([`\r${'x'.repeat(29)}\u001b[K`]);
  });

  it('piped, writes a plain line at each tenth of the way, but not within 5 s of the last', () => {
    const out = output(false);
    const clock = { now: 0 };
    const progress = line(out, clock);
    progress.say('Packing 3 files (90 MiB)…');
    progress.begin();
    // 1% a second for 40 s: a tenth every 10 s, so one line each 10 s.
    for (let s = 1; s <= 40; s++) {
      clock.now = s * 1_000;
      progress.update(() => `Uploading: ${s}%`, s / 100);
    }
    // Then 10% a second: the tenths come faster than 5 s, so a line every 5 s.
    for (let s = 41; s <= 46; s++) {
      clock.now = s * 1_000;
      progress.update(() => `Uploading: ${40 + (s - 40) * 10}%`, (40 + (s - 40) * 10) / 100);
    }
    progress.say('Workspace: 3 files: uploaded');
    progress.clear();
    expect(out.written).toEqual([
      'Packing 3 files (90 MiB)…\n',
      'Uploading: 10%\n',
      'Uploading: 20%\n',
      'Uploading: 30%\n',
      'Uploading: 40%\n',
      'Uploading: 90%\n',
      'Workspace: 3 files: uploaded\n',
    ]);
    expect(out.written.join('')).not.toContain('\r');
    expect(out.written.join('')).not.toContain('\u001b');
  });

  it('piped, a step slower than a tenth per 30 s still gets a line every 30 s; a quick one gets none', () => {
    const out = output(false);
    const clock = { now: 0 };
    const progress = line(out, clock);
    progress.begin();
    for (let s = 1; s <= 70; s++) {
      clock.now = s * 1_000;
      progress.update(() => `Uploading: ${s / 10}% at ${s}s`, s / 1000);
    }
    progress.begin();
    for (let ms = 100; ms <= 4_900; ms += 100) {
      clock.now = 70_000 + ms;
      progress.update(() => 'quick', ms / 4_900);
    }
    expect(out.written).toEqual(['Uploading: 3% at 30s\n', 'Uploading: 6% at 60s\n']);
  });
});
