/** Redis URLs in messages and summaries, without loading ioredis (the app loads it only for Redis sweeps). */

/** The URL with its password (and a user's password) and its query's values replaced by `***`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // ioredis takes any option from the query too (`?password=…`): no query value is shown.
    for (const key of new Set(parsed.searchParams.keys())) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return '(an unparsable Redis URL)';
  }
}
