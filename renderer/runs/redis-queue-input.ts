/**
 * The sweep builder's "Redis queue" fields: a URL and, apart, its password (a password field, never
 * shown back). Both are remembered for this page's session in memory only, and joined into one URL
 * only for the 'sweeps.start' request.
 */
import { RedisUrlSchema } from '../../contract/sweeps';

export const sessionRedisQueue = { onRedis: false, url: '', password: '' };

/** A URL typed with its password in it: the URL without it, and the password for the separate field. */
export function splitRedisPassword(url: string): { url: string; password: string } {
  try {
    const parsed = new URL(url.trim());
    if (!parsed.password) return { url: url.trim(), password: '' };
    const password = decodeURIComponent(parsed.password);
    parsed.password = '';
    return { url: parsed.toString(), password };
  } catch {
    return { url, password: '' };
  }
}

/** The URL the host is sent: the password field's value put into the URL (encoded), when there is one. */
export function redisUrlWithPassword(url: string, password: string): string {
  if (!password) return url.trim();
  try {
    const parsed = new URL(url.trim());
    parsed.password = encodeURIComponent(password);
    return parsed.toString();
  } catch {
    return url.trim();
  }
}

/** Why the URL cannot be used, in the schema's words, or null. */
export function redisUrlProblem(url: string): string | null {
  const checked = RedisUrlSchema.safeParse(url);
  return checked.success ? null : (checked.error.issues[0]?.message ?? 'not a Redis URL');
}
