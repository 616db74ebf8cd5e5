import { expect, it } from 'vitest';
import { eventsPerSecond } from './event-rate';

it('passes at most the limit in each second, and again in the next', () => {
  let t = 5_000;
  const allow = eventsPerSecond(3, () => t);
  expect([allow(), allow(), allow(), allow(), allow()]).toEqual([true, true, true, false, false]);
  t += 999;
  expect(allow()).toBe(false);
  t += 1;
  expect([allow(), allow(), allow(), allow()]).toEqual([true, true, true, false]);
});
