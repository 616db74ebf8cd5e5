/** Listing a store's folder, where a folder not made yet just means nothing stored. */
import { readdir } from 'node:fs/promises';
import type { Dirent } from 'node:fs';

/** The entries of `dir`, or none when `dir` does not exist; any other fs error is thrown as it is. */
export async function entriesOrNone(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
