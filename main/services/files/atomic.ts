/**
 * Atomic file writes: write a temp file beside the target, flush it, then rename over the target.
 * A crash, a full disk or an unwritable folder leaves either the old file or the new one, never
 * half of one, and never a stray temp file when we can help it.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  let temp: string | null = null;
  try {
    temp = await writeTempBeside(target, data, mode);
    await rename(temp, target);
  } catch (error) {
    if (temp) await rm(temp, { force: true }).catch(() => {});
    throw describeFsError(error, target);
  }
}

/**
 * Writes `data` to a new temp file in the target's folder and flushes it; returns the temp path.
 * On failure no temp file remains and the raw fs error is thrown (callers name the target).
 */
export async function writeTempBeside(target: string, data: string | Uint8Array, mode = 0o644): Promise<string> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx', mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    return temp;
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}

const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EIO: 'an input/output error (a failing disk?)',
  ENOENT: 'the folder does not exist',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
};

/** What an errno code means, in words; undefined for codes without one. */
export function fsErrorReason(code: string | undefined): string | undefined {
  return code ? FS_REASONS[code] : undefined;
}

/** Turns an fs error into a message a user can act on, naming the path. */
export function describeFsError(error: unknown, path: string): Error {
  const reason = fsErrorReason((error as NodeJS.ErrnoException)?.code) ?? (error instanceof Error ? error.message : String(error));
  // The cause keeps the errno code (errnoOf) for callers that record it.
  return new Error(`Cannot write ${path}: ${reason}`, { cause: error });
}

/** The errno code of an fs error, or of the fs error it wraps (describeFsError); 'EUNKNOWN' without one. */
export function errnoOf(error: unknown): string {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  }
  return 'EUNKNOWN';
}
