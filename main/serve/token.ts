/** The serve host's access token: random per start, compared in constant time. */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokensEqual(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Cookies are shared by every port of a host, so each server's cookie carries its port: two
 * servers on one machine do not overwrite each other's token.
 */
export function tokenCookieName(port: number): string {
  return `layerbench_token_${port}`;
}

/**
 * The named cookie's value, or null. Any page on another localhost port can set cookies for
 * 127.0.0.1, so a value that is not valid percent-encoding is ignored, never thrown.
 */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      continue;
    }
  }
  return null;
}
