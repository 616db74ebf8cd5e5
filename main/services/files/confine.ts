/**
 * `layerbench serve --root DIR`: every path a client sends (projects, dataset sources, model
 * imports, exports) must resolve inside DIR. Symbolic links are followed as the file system would
 * follow them (realpath), so a link inside DIR that points outside is refused; a path that does
 * not exist yet (a file to be written) is judged by the realpath of its nearest existing ancestor.
 * Without a root, paths pass as they are: a token holder can read and write what the server's user
 * can, as with Jupyter.
 */
import { realpathSync, statSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DomainError } from '../../../contract/wire';

/** Maps a client path to the path the services use, or throws a DomainError('invalid-input'). */
export interface PathGuard {
  (path: string): Promise<string>;
  /** The folder paths are confined to (its realpath), or null when they are not. */
  readonly root: string | null;
}

export const unconfined: PathGuard = Object.assign(async (path: string) => path, { root: null });

export function confineTo(root: string): PathGuard {
  let realRoot: string;
  try {
    realRoot = realpathSync(resolve(root));
    if (!statSync(realRoot).isDirectory()) throw new Error('not a folder');
  } catch (error) {
    throw new Error(`--root ${root}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`, { cause: error });
  }
  const inside = (path: string) => path === realRoot || path.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
  const guard = async (given: string): Promise<string> => {
    const refuse = (why: string) => new DomainError('invalid-input', `${given}: ${why} (the server only uses paths inside ${realRoot})`);
    if (given.includes('\0')) throw refuse('a path cannot contain a NUL character');
    // '..' after a symbolic link means the link target's parent to the file system, not what a
    // lexical resolve() makes of it: such paths are refused rather than interpreted.
    if (given.split(/[\\/]/).includes('..')) throw refuse('".." is not allowed');
    const real = await realpathAllowingMissing(isAbsolute(given) ? resolve(given) : resolve(realRoot, given), refuse);
    if (!inside(real)) throw refuse('outside the allowed folder');
    return real;
  };
  return Object.assign(guard, { root: realRoot });
}

/** realpath of the nearest existing ancestor, with the missing tail appended. */
async function realpathAllowingMissing(path: string, refuse: (why: string) => Error): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      const real = await realpath(current);
      return missing.length ? join(real, ...missing) : real;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw refuse('too many levels of symbolic links');
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw refuse(`cannot resolve it (${code ?? (error as Error).message})`);
    }
    // A link whose target is missing would be followed by a later write: its target is unknown here.
    if (
      await lstat(current).then(
        (s) => s.isSymbolicLink(),
        () => false,
      )
    )
      throw refuse('a symbolic link to a missing target');
    const parent = dirname(current);
    if (parent === current) throw refuse('no part of it exists');
    missing.unshift(basename(current));
    current = parent;
  }
}
