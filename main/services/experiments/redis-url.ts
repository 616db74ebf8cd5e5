/** Redis URLs in messages and summaries, without loading ioredis (the app loads it only for Redis sweeps). */

/** The URL with its password (and a user's password) replaced by `***`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable Redis URL)';
  }
}
