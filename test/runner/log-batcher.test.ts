import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEntry } from '../../src/protocol/messages.js';
import { LogBatcher, maxBatchBytes } from '../../src/runner/log-batcher.js';

const entry = (text: string, at = 0): LogEntry => ({ stepIndex: 0, stream: 'stdout', at, text });

describe('LogBatcher', () => {
  let sent: LogEntry[][];
  let batcher: LogBatcher;
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    batcher = new LogBatcher(250, (entries) => sent.push(entries));
  });
  afterEach(() => {
    batcher.flush();
    vi.useRealTimers();
  });

  it('sends what it holds once the interval has passed since the first entry, not before', () => {
    batcher.add(entry('one'));
    vi.advanceTimersByTime(100);
    batcher.add(entry('two'));
    vi.advanceTimersByTime(149);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent.map((batch) => batch.map((e) => e.text))).toEqual([['one', 'two']]);
    vi.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(1);
  });

  it('counts UTF-8 bytes: multi-byte text reaches the limit with fewer UTF-16 units', () => {
    // 3 bytes per '€' in UTF-8 but one UTF-16 unit: 22,000 of them is 66,000 bytes, past 64 KiB.
    const euros = '€'.repeat(22_000);
    expect(euros.length).toBeLessThan(maxBatchBytes / 2);
    batcher.add(entry(euros));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.[0]?.text).toBe(euros);
  });

  it('does not send ASCII text early: just under 64 KiB waits for the timer', () => {
    batcher.add(entry('a'.repeat(maxBatchBytes - 100)));
    expect(sent).toEqual([]);
    batcher.add(entry('b'.repeat(100)));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(2);
  });

  it('keeps the order of entries within and across batches', () => {
    const texts: string[] = [];
    for (let i = 0; i < 300; i++) {
      const text = `${i} ${'ü'.repeat(1_000)}`;
      texts.push(text);
      batcher.add(entry(text, i));
      if (i % 50 === 0) vi.advanceTimersByTime(250);
    }
    batcher.flush();
    expect(sent.length).toBeGreaterThan(3);
    expect(sent.flat().map((e) => e.text)).toEqual(texts);
    for (const batch of sent.slice(0, -1)) {
      const bytes = batch.reduce((sum, e) => sum + Buffer.byteLength(e.text), 0);
      expect(bytes).toBeLessThan(maxBatchBytes + 2_100);
    }
  });

  it('flush sends what is pending at once, and the timer sends nothing after it', () => {
    batcher.add(entry('last words'));
    batcher.flush();
    expect(sent.map((batch) => batch.map((e) => e.text))).toEqual([['last words']]);
    vi.advanceTimersByTime(1_000);
    batcher.flush();
    expect(sent).toHaveLength(1);
  });

  it("leaves out a job's stdout and stderr past its limit, says so once where it began, and keeps system lines", () => {
    const limited: LogEntry[][] = [];
    const capped = new LogBatcher(250, (entries) => limited.push(entries), { bytes: 10, notice: 'over' });
    capped.add(entry('12345'));
    capped.add({ ...entry('6789'), stream: 'stderr' });
    capped.add({ ...entry('too much', 7), attempt: 2 });
    capped.add(entry('more'));
    capped.add({ stepIndex: 0, stream: 'system', at: 9, text: '✓ succeeded' });
    capped.add(entry('x'));
    capped.flush();
    expect(limited.flat()).toEqual([
      entry('12345'),
      { ...entry('6789'), stream: 'stderr' },
      { stepIndex: 0, stream: 'system', at: 7, text: 'over', attempt: 2 },
      { stepIndex: 0, stream: 'system', at: 9, text: '✓ succeeded' },
    ]);
  });
});
