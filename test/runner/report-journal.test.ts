import { describe, expect, it } from 'vitest';
import type { LogEntry, RunnerMessage } from '../../src/protocol/messages.js';
import { type JobReport, maxJournalBytes, ReportJournal } from '../../src/runner/report-journal.js';
import { ReportSender } from '../../src/runner/report-sender.js';

const lines = (...texts: string[]): LogEntry[] =>
  texts.map((text) => ({ stepIndex: 0, stream: 'stdout', at: 1, text }));
type StepMessage = Exclude<JobReport, { type: 'log' }>;
const started = (jobId = 'j', fencingToken = 7): StepMessage => ({
  type: 'step.started',
  jobId,
  fencingToken,
  index: 0,
  name: 's',
  at: 1,
});
const completed = (jobId = 'j', fencingToken = 7): StepMessage => ({
  type: 'step.completed',
  jobId,
  fencingToken,
  step: { index: 0, name: 's', outcome: 'success', conclusion: 'success', finishedAt: 2 },
});
/** What a new session would be sent, in short: `first:texts` for a log, the type for a step. */
const shape = (reports: readonly JobReport[]) =>
  reports.map((report) =>
    report.type === 'log' ? `${report.first}:${report.entries.map((e) => e.text).join(',')}` : report.type,
  );

const all = new Set(['j', 'k']);

describe('ReportJournal', () => {
  it("numbers a job attempt's lines from 0, and keeps its reports in order until the store holds them", () => {
    const journal = new ReportJournal();
    journal.open('j', 7);
    journal.step(started());
    expect(journal.log('j', 7, lines('a', 'b'))).toMatchObject({ first: 0 });
    expect(journal.log('j', 7, lines('c'))).toMatchObject({ first: 2 });
    journal.step(completed());
    journal.step(started());
    expect(journal.log('j', 7, lines('d'))).toMatchObject({ first: 3 });
    expect(shape(journal.pending(all))).toEqual([
      'step.started',
      '0:a,b',
      '2:c',
      'step.completed',
      'step.started',
      '3:d',
    ]);
    // The first log stored: it and the step before it reached the server.
    journal.stored('j', 7, 2);
    expect(shape(journal.pending(all))).toEqual(['2:c', 'step.completed', 'step.started', '3:d']);
    // At a log's first line exactly, the steps before it may not have: they stay.
    journal.stored('j', 7, 3);
    expect(shape(journal.pending(all))).toEqual(['step.completed', 'step.started', '3:d']);
    // A late or repeated acknowledgement changes nothing; one under another lease neither.
    journal.stored('j', 7, 1);
    journal.stored('j', 6, 4);
    expect(shape(journal.pending(all))).toEqual(['step.completed', 'step.started', '3:d']);
    journal.stored('j', 7, 4);
    expect(journal.pending(all)).toEqual([]);
    expect(journal.size).toBe(0);
  });

  it('keeps the part of a log the store does not hold yet', () => {
    const journal = new ReportJournal();
    journal.open('j', 7);
    journal.log('j', 7, lines('a', 'b', 'c'));
    journal.stored('j', 7, 2);
    expect(shape(journal.pending(all))).toEqual(['2:c']);
    expect(journal.size).toBe(1);
  });

  it('lets an ended job go once its lines and its completion are stored, and forgets a lease the control plane refused', () => {
    const journal = new ReportJournal();
    journal.open('j', 7);
    journal.log('j', 7, lines('a'));
    journal.step(completed());
    journal.ended('j');
    expect(shape(journal.pending(all))).toEqual(['0:a', 'step.completed']);
    // Not resumed on a new session (its completion no longer in doubt), it is forgotten.
    expect(shape(journal.pending(new Set()))).toEqual([]);
    journal.open('j', 7);
    journal.log('j', 7, lines('a'));
    journal.step(completed());
    journal.ended('j');
    journal.stored('j', 7, 1);
    // The step report after the last line may not have arrived: it stays until the completion is
    // stored, which the control plane took after it (under this lease only).
    expect(shape(journal.pending(all))).toEqual(['step.completed']);
    journal.settled('j', 6);
    expect(shape(journal.pending(all))).toEqual(['step.completed']);
    journal.settled('j', 7);
    expect(journal.pending(all)).toEqual([]);
    // An ended job with nothing kept goes at once.
    journal.open('j', 7);
    journal.log('j', 7, lines('a'));
    journal.stored('j', 7, 1);
    journal.ended('j');
    expect(journal.pending(all)).toEqual([]);
    // A job's new lease starts again from 0; a refusal of the old one leaves it alone.
    journal.open('k', 8);
    journal.log('k', 8, lines('x'));
    journal.open('k', 9);
    expect(journal.log('k', 9, lines('y'))).toMatchObject({ first: 0 });
    journal.forget('k', 8);
    expect(shape(journal.pending(all))).toEqual(['0:y']);
    journal.forget('k', 9);
    expect(journal.pending(all)).toEqual([]);
    expect(journal.log('k', 9, lines('z'))).toBeUndefined();
  });

  it('drops the oldest lines past its bound, keeps the step reports, and tells it once per job', () => {
    const dropped: string[] = [];
    const journal = new ReportJournal(6, (jobId, count) => dropped.push(`${jobId}:${count}`));
    journal.open('j', 7);
    journal.open('k', 8);
    journal.step(started());
    journal.log('j', 7, lines('aa', 'bb'));
    journal.log('k', 8, lines('cc'));
    journal.log('j', 7, lines('dd'));
    expect(shape(journal.pending(all))).toEqual(['step.started', '2:dd', '0:cc']);
    journal.log('j', 7, lines('eee'));
    expect(shape(journal.pending(all))).toEqual(['step.started', '3:eee', '0:cc']);
    expect(dropped).toEqual(['j:2']);
    expect(journal.size).toBe(5);
  });
});

describe('ReportSender', () => {
  function sender(up: { value: boolean }) {
    const sent: RunnerMessage[] = [];
    const warned: string[] = [];
    const transport = { send: (message: RunnerMessage) => sent.push(message) };
    const reports = new ReportSender(
      transport as unknown as ConstructorParameters<typeof ReportSender>[0],
      () => up.value,
      (line) => warned.push(line),
    );
    return { reports, sent, warned };
  }
  const types = (sent: readonly RunnerMessage[]) =>
    sent.map((message) => (message.type === 'log' ? `log@${message.first}` : message.type));

  it('numbers lines for a control plane that acknowledges them, holds reports while no session is up and sends them again after the next register', () => {
    const up = { value: true };
    const { reports, sent } = sender(up);
    reports.registered(true);
    reports.open('j', 7);
    reports.step(started());
    reports.log('j', 7, lines('a'));
    up.value = false;
    reports.log('j', 7, lines('b'));
    reports.step(completed());
    expect(types(sent)).toEqual(['step.started', 'log@0']);
    up.value = true;
    sent.length = 0;
    reports.resend(new Set(['j']));
    expect(types(sent)).toEqual(['step.started', 'log@0', 'log@1', 'step.completed']);
    // Its lines stored, the step report after them stays: nothing says it reached the server.
    reports.stored('j', 7, 2);
    sent.length = 0;
    reports.resend(new Set(['j']));
    expect(types(sent)).toEqual(['step.completed']);
  });

  it('sends as before to a control plane that does not acknowledge lines: nothing numbered, held or sent again', () => {
    const up = { value: true };
    const { reports, sent } = sender(up);
    reports.registered(false);
    reports.open('j', 7);
    reports.log('j', 7, lines('a'));
    up.value = false;
    reports.step(completed());
    reports.resend(new Set(['j']));
    expect(types(sent)).toEqual(['log@undefined', 'step.completed']);
  });

  it('keeps nothing without sessions to switch (local mode)', () => {
    const sent: RunnerMessage[] = [];
    const transport = { send: (message: RunnerMessage) => sent.push(message) };
    const reports = new ReportSender(
      transport as unknown as ConstructorParameters<typeof ReportSender>[0],
      undefined,
      () => {},
    );
    reports.registered(true);
    reports.open('j', 7);
    reports.log('j', 7, lines('a'));
    reports.resend(new Set(['j']));
    expect(sent).toEqual([{ type: 'log', jobId: 'j', fencingToken: 7, entries: lines('a') }]);
  });
});

describe('ReportSender holding the steps output', () => {
  /** Lines of one character: their text is nothing, each line's object and frame are most of what they cost. */
  const short = (count: number) => lines(...Array.from({ length: count }, () => 'y'));
  /** A sender to a server that acknowledges lines, with these limits; `held` is what it told, in order. */
  function holding(holdAbove: number, releaseBelow: number) {
    const held: boolean[] = [];
    const transport = { send: () => {} };
    const reports = new ReportSender(
      transport as unknown as ConstructorParameters<typeof ReportSender>[0],
      () => true,
      () => {},
      (hold) => held.push(hold),
      { holdAbove, releaseBelow },
    );
    reports.registered(true);
    return { reports, held };
  }

  it('holds it once the unacknowledged lines cost more than the limit, counting each line, and releases it once the server caught up', () => {
    const { reports, held } = holding(40_000, 10_000);
    reports.open('j', 7);
    // 100 one-character lines are 200 bytes of text: only their count takes them past the limit.
    for (let i = 0; i < 100; i++) reports.log('j', 7, short(1));
    expect(held).toEqual([true]);
    reports.log('j', 7, short(10));
    expect(held).toEqual([true]);
    reports.stored('j', 7, 50);
    expect(held).toEqual([true]);
    reports.stored('j', 7, 100);
    expect(held).toEqual([true, false]);
  });

  it('releases it when the job is forgotten (its lease refused) or the server does not acknowledge lines', () => {
    const { reports, held } = holding(4_000, 1_000);
    reports.open('j', 7);
    reports.log('j', 7, short(20));
    reports.refused('j', 7);
    reports.open('k', 1);
    reports.log('k', 1, short(20));
    reports.registered(false);
    expect(held).toEqual([true, false, true, false]);
  });

  it('does not hold it while no session is up, and releases it when the session is lost', () => {
    const up = { value: false };
    const held: boolean[] = [];
    const reports = new ReportSender(
      { send: () => {} } as unknown as ConstructorParameters<typeof ReportSender>[0],
      () => up.value,
      () => {},
      (hold) => held.push(hold),
      { holdAbove: 4_000, releaseBelow: 1_000 },
    );
    reports.registered(true);
    reports.open('j', 7);
    reports.log('j', 7, short(20));
    expect(held).toEqual([]);
    up.value = true;
    reports.log('j', 7, short(1));
    expect(held).toEqual([true]);
    up.value = false;
    reports.lost();
    expect(held).toEqual([true, false]);
  });
});

describe('ReportJournal of short lines', () => {
  it('keeps them within maxJournalBytes of memory, not only within its bound of text', () => {
    const dropped: number[] = [];
    const journal = new ReportJournal(undefined, (_jobId, count) => dropped.push(count));
    journal.open('j', 7);
    const batch = lines(...Array.from({ length: 1000 }, () => 'y'));
    for (let i = 0; i < 700; i++) journal.log('j', 7, batch);
    expect(dropped).toEqual([1000]);
    expect(journal.backlogBytes).toBeLessThanOrEqual(maxJournalBytes);
    expect(journal.size).toBeLessThan(700_000);
  });
});
