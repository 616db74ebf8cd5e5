/**
 * Connections to the sweep queue's Redis. The URL goes to ioredis as given, so its password or ACL
 * user (`redis://user:password@host:6379/0`) and TLS (`rediss://`; a private CA through
 * NODE_EXTRA_CA_CERTS) work as ioredis documents them. The URL is never printed with its password:
 * messages use `redactRedisUrl`.
 */
import { Redis } from 'ioredis';
import { DomainError } from '../../../../contract/wire';
import { redactRedisUrl } from '../redis-url';

export { redactRedisUrl };

function checkUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new DomainError('invalid-input', `${redactRedisUrl(url)}: a Redis URL looks like redis://[user:password@]host:6379[/db] or rediss:// for TLS`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new DomainError('invalid-input', `${redactRedisUrl(url)}: the URL must start with redis:// or rediss://`);
}

/**
 * A connection BullMQ can share (it needs `maxRetriesPerRequest: null`: commands wait for a
 * reconnect instead of failing). Errors are reported through `onError` (redacted), never thrown
 * into the event loop.
 */
export function openRedis(url: string, onError: (message: string) => void): Redis {
  checkUrl(url);
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', (error: Error) => onError(`Redis ${redactRedisUrl(url)}: ${error.message}`));
  return redis;
}

/** Connects and PINGs once, so a wrong host, password or TLS setting is a clear error at once, not a silent wait. */
export async function checkRedis(url: string, timeoutMs = 10_000): Promise<void> {
  checkUrl(url);
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // The connection's own error (a refused password, an untrusted certificate) says more than the rejection ("Connection is closed").
  let cause: Error | null = null;
  probe.on('error', (error: Error) => (cause ??= error));
  // connectTimeout covers the TCP connect only: a server that accepts and never answers (not Redis, or
  // a hostile one) would hold the ready check and the PING forever, so the whole exchange has a deadline.
  let timer: NodeJS.Timeout | undefined;
  const answered = probe.connect().then(() => probe.ping());
  answered.catch(() => {});
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([answered, deadline]);
  } catch (error) {
    const reason = (cause as Error | null)?.message ?? (error as Error).message;
    throw new DomainError('io', `Cannot use Redis at ${redactRedisUrl(url)}: ${reason}`, { cause: cause ?? error });
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}
