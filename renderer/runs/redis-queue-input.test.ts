import { expect, it } from 'vitest';
import { redisUrlProblem, redisUrlWithPassword, splitRedisPassword } from './redis-queue-input';

it('keeps the password apart from the URL field and joins them, encoded, for the request', () => {
  expect(splitRedisPassword('redis://:s3cr%40t@queue.lab:6379/0')).toEqual({ url: 'redis://queue.lab:6379/0', password: 's3cr@t' });
  expect(splitRedisPassword('rediss://sweeper:pw@queue.lab:6380')).toEqual({ url: 'rediss://sweeper@queue.lab:6380', password: 'pw' });
  expect(splitRedisPassword('redis://queue.lab:6379')).toEqual({ url: 'redis://queue.lab:6379', password: '' });
  expect(redisUrlWithPassword('redis://queue.lab:6379/0', 's3cr@t')).toBe('redis://:s3cr%40t@queue.lab:6379/0');
  expect(redisUrlWithPassword(' redis://queue.lab:6379 ', '')).toBe('redis://queue.lab:6379');
  const joined = redisUrlWithPassword('rediss://sweeper@queue.lab:6380', 'p w:/');
  expect(splitRedisPassword(joined)).toEqual({ url: 'rediss://sweeper@queue.lab:6380', password: 'p w:/' });
});

it('says what is wrong with a URL that is not a Redis one', () => {
  expect(redisUrlProblem('redis://queue.lab:6379')).toBeNull();
  expect(redisUrlProblem('rediss://u:p@10.0.0.2:6380/1')).toBeNull();
  expect(redisUrlProblem('http://queue.lab:6379')).toMatch(/redis:\/\//);
  expect(redisUrlProblem('')).not.toBeNull();
  expect(redisUrlProblem(`redis://${'a'.repeat(3000)}`)).not.toBeNull();
});
