import { describe, expect, it } from 'vitest';
import { cronProblem } from '../../src/workflow/cron.js';

describe('cronProblem: the cron expressions GitHub takes', () => {
  it.each([
    '0 0 * * *',
    '0 000 001 * *',
    '2,10 4,5 * * *',
    '30 4-6 * * *',
    '0 4-4 * * *',
    '20/15 * * * *',
    '28 */4 * * *',
    '28 5,*/4,6-8 * * *',
    '0 2-4/5 * * *',
    '59 23 31 12 6',
    '0 0 * jan-Dec sun',
    '0 0 * * SUN-2',
    '0 0 * FEB,oct MON-FRI',
    '0   0  *  *  *',
    ' 5 4 * * 1 ',
  ])('takes %j', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  it.each([
    ['0 0 * *', 'must have 5 fields (minute hour day-of-month month day-of-week), it has 4'],
    ['0 0 0 * * *', 'must have 5 fields (minute hour day-of-month month day-of-week), it has 6'],
    [
      '@daily',
      'must have 5 fields (minute hour day-of-month month day-of-week), it has 1; GitHub does not take @ shorthands, write @daily as "0 0 * * *"',
    ],
    [
      '@Weekly',
      'must have 5 fields (minute hour day-of-month month day-of-week), it has 1; GitHub does not take @ shorthands, write @Weekly as "0 0 * * 0"',
    ],
    [
      '@reboot',
      'must have 5 fields (minute hour day-of-month month day-of-week), it has 1; GitHub does not take @ shorthands',
    ],
    ['60 * * * *', 'the minute field "60" has 60, out of range 0-59'],
    ['0 24 * * *', 'the hour field "24" has 24, out of range 0-23'],
    ['0 0 0 * *', 'the day of month field "0" has 0, out of range 1-31'],
    ['0 0 * 13 *', 'the month field "13" has 13, out of range 1-12'],
    ['0 0 * * 7', 'the day of week field "7" has 7, out of range 0-6'],
    ['0 -1 * * *', 'the hour field "-1" is missing a value (a range or step needs one on each side)'],
    ['0 12-4 * * *', 'the hour field "12-4" has a range "12-4" that starts after it ends'],
    ['0 0 * * FRI-TUE', 'the day of week field "FRI-TUE" has a range "FRI-TUE" that starts after it ends'],
    ['*/0 * * * *', 'the minute field "*/0" has a step of 0; a step is at least 1'],
    ['*/60 * * * *', 'the minute field "*/60" has a step of 60, past the field\'s largest value 59'],
    ['0 0 * * BUN', 'the day of week field "BUN" has "BUN", which is not a number (0-6) or a name (SUN-SAT)'],
    ['0 0 * SUN *', 'the month field "SUN" has "SUN", which is not a number (1-12) or a name (JAN-DEC)'],
    ['0 0 MON * *', 'the day of month field "MON" has "MON", which is not a number (1-31)'],
    ['0 1, * * *', 'the hour field "1," has an empty item in its comma list'],
    ['0 */* * * *', 'the hour field "*/*" has a step "*" that is not a number'],
    ['0 * * */FEB *', 'the month field "*/FEB" has a step "FEB" that is not a number'],
    ['0 2/4/6 * * *', 'the hour field "2/4/6" has more than one step (/) in "2/4/6"'],
    ['0 2-4-6 * * *', 'the hour field "2-4-6" has more than one - in "2-4-6"'],
    ['0 *-4 * * *', 'the hour field "*-4" has * inside a range; use * alone or a range of values'],
    ['0 ** * * *', 'the hour field "**" has "**", which is not a number (0-23)'],
    ['0 1.5 * * *', 'the hour field "1.5" has "1.5", which is not a number (0-23)'],
  ])('refuses %j: %s', (expression, problem) => {
    expect(cronProblem(expression)).toBe(problem);
  });
});
