import { describe, expect, it } from 'vitest';
import { Declines } from '../../src/engine/declines.js';

describe('Declines', () => {
  it('keeps who declined what, and forgets a job or a session without touching the others', () => {
    const declines = new Declines();
    declines.add('a', 's1');
    declines.add('a', 's2');
    declines.add('b', 's1');
    expect([...(declines.decliners('a') ?? [])]).toEqual(['s1', 's2']);
    declines.forgetSession('s1');
    expect([...(declines.decliners('a') ?? [])]).toEqual(['s2']);
    // A job nobody declines any more has no entry (dispatch then knows nobody declined it).
    expect(declines.decliners('b')).toBeUndefined();
    declines.add('b', 's2');
    declines.forgetJob('a');
    expect(declines.decliners('a')).toBeUndefined();
    expect([...(declines.decliners('b') ?? [])]).toEqual(['s2']);
    declines.forgetSession('s2');
    expect(declines.decliners('b')).toBeUndefined();
    declines.forgetSession('s2');
    declines.forgetJob('b');
  });

  it('keeps a lapse until the answer: an accept lifts it, a decline turns it into a decline', () => {
    const declines = new Declines();
    declines.addLapse('a', 's1');
    declines.addLapse('b', 's1');
    expect([...(declines.decliners('a') ?? [])]).toEqual(['s1']);
    expect(declines.lapsed('a', 's1')).toBe(true);
    declines.forgetLapse('a', 's1');
    expect(declines.decliners('a')).toBeUndefined();
    expect(declines.lapsed('a', 's1')).toBe(false);
    declines.add('b', 's1');
    expect(declines.lapsed('b', 's1')).toBe(false);
    // A decline is not lifted as a lapse is, nor turned back into one.
    declines.forgetLapse('b', 's1');
    declines.addLapse('b', 's1');
    expect([...(declines.decliners('b') ?? [])]).toEqual(['s1']);
    expect(declines.lapsed('b', 's1')).toBe(false);
    declines.forgetSession('s1');
    expect(declines.decliners('b')).toBeUndefined();
  });
});
