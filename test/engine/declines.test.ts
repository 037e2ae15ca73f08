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
});
