/**
 * `layerbench datasets list | import | delete`: the app's dataset cache from the command line,
 * through the same DatasetStore as the app (same folder, same files, so the app lists the result).
 */
import { resolve } from 'node:path';
import { ImportSourceSchema } from '../../contract/datasets';
import { formatIssues } from '../../contract/wire';
import { defaultDataDir } from '../services/paths';
import { DatasetStore, MAX_DATASET_NAME, checkDatasetName } from '../services/datasets/store';
import { UsageError, intFlag, stringFlag, type ParsedArgs } from './args';

export const DATASETS_OPTIONS = {
  'data-dir': 'string',
  json: 'boolean',
  name: 'string',
  'label-column': 'string',
  header: 'string',
  delimiter: 'string',
  reshape: 'string',
  width: 'string',
  height: 'string',
  color: 'string',
  'skip-bad': 'boolean',
  quiet: 'boolean',
} as const;

export const DATASETS_USAGE = `datasets list [--json]                list Fashion-MNIST and the imported datasets
  datasets import csv <file> --label-column NAME|INDEX [--header auto|yes|no]
                  [--delimiter auto|,|;|tab] [--reshape 28x28] [--name NAME] [--skip-bad]
  datasets import idx <images> <labels> [--name NAME]
  datasets import image-folder <folder> --width W --height H [--color grayscale|rgb] [--name NAME] [--skip-bad]
                                       import into the app's dataset cache; prints the new id
  datasets delete <id>                 remove an imported dataset`;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}
const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export async function datasetsCommand(args: ParsedArgs, io: Io = stdio, signal?: AbortSignal): Promise<number> {
  const [action, ...rest] = args.positionals;
  const store = new DatasetStore(stringFlag(args, 'data-dir') ?? defaultDataDir());
  switch (action) {
    case 'list':
      if (rest.length) throw new UsageError('datasets list takes no arguments');
      return list(store, args, io);
    case 'import':
      return importCommand(store, rest, args, io, signal);
    case 'delete': {
      if (rest.length !== 1) throw new UsageError('datasets delete takes one dataset id');
      if (!(await store.delete(rest[0]))) throw new Error(`Unknown dataset "${rest[0]}"`);
      io.out(`deleted ${rest[0]}\n`);
      return 0;
    }
    default:
      throw new UsageError(action ? `Unknown datasets action "${action}" (list, import, delete)` : 'datasets needs an action: list, import or delete');
  }
}

async function list(store: DatasetStore, args: ParsedArgs, io: Io): Promise<number> {
  const { datasets, unreadable } = await store.list();
  if (args.flags.has('json')) io.out(`${JSON.stringify({ datasets, unreadable }, null, 2)}\n`);
  else {
    const rows = datasets.map((d) => [d.id, d.name, d.kind, d.sampleShape.join('×'), String(d.count), String(d.classNames.length)]);
    const table = [['id', 'name', 'kind', 'shape', 'samples', 'classes'], ...rows];
    const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
    for (const row of table)
      io.out(
        `${row
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd()}\n`,
      );
  }
  for (const u of unreadable) io.err(`unreadable: ${u.id}: ${u.message}\n`);
  return 0;
}

function parseShape(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const dims = text.split(/[x×,]/).map(Number);
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`--reshape must look like 28x28, got "${text}"`);
  return dims;
}

async function importCommand(store: DatasetStore, rest: string[], args: ParsedArgs, io: Io, signal?: AbortSignal): Promise<number> {
  const [kind, ...paths] = rest;
  let raw: Record<string, unknown>;
  switch (kind) {
    case 'csv': {
      if (paths.length !== 1) throw new UsageError('datasets import csv takes one file');
      const label = stringFlag(args, 'label-column');
      if (label === undefined) throw new UsageError('datasets import csv needs --label-column NAME or INDEX');
      const delimiter = stringFlag(args, 'delimiter');
      raw = {
        kind,
        path: resolve(paths[0]),
        labelColumn: /^\d+$/.test(label) ? Number(label) : label,
        header: stringFlag(args, 'header') ?? 'auto',
        delimiter: delimiter === 'tab' ? '\t' : (delimiter ?? 'auto'),
        reshape: parseShape(stringFlag(args, 'reshape')),
      };
      break;
    }
    case 'idx':
      if (paths.length !== 2) throw new UsageError('datasets import idx takes two files: the images and the labels');
      raw = { kind, imagesPath: resolve(paths[0]), labelsPath: resolve(paths[1]) };
      break;
    case 'image-folder':
      if (paths.length !== 1) throw new UsageError('datasets import image-folder takes one folder');
      raw = { kind, path: resolve(paths[0]), width: intFlag(args, 'width', 1, 4096), height: intFlag(args, 'height', 1, 4096), color: stringFlag(args, 'color') ?? 'grayscale' };
      break;
    default:
      throw new UsageError(`datasets import needs a kind: csv, idx or image-folder${kind ? `, got "${kind}"` : ''}`);
  }
  const parsed = ImportSourceSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`invalid import options: ${formatIssues(parsed.error).join('; ')}`);
  const source = parsed.data;
  const given = stringFlag(args, 'name');
  let name: string;
  if (given !== undefined) {
    try {
      name = checkDatasetName(given); // trimmed and limited as in the app
    } catch (error) {
      throw new UsageError(`--name: ${(error as Error).message}`);
    }
  } else {
    const fromFile = (source.kind === 'idx' ? source.imagesPath : source.path)
      .split(/[\\/]/)
      .pop()!
      .replace(/\.[^.]*$/, '')
      .trim();
    name = fromFile.slice(0, MAX_DATASET_NAME).trim() || 'dataset';
  }
  const quiet = args.flags.has('quiet');
  const controller = new AbortController();
  const abort = () => controller.abort();
  signal?.addEventListener('abort', abort);
  process.once('SIGINT', abort); // Ctrl-C cancels, so the temp folder is removed
  try {
    const { dataset, skippedItems } = await store.import({ importId: 'cli', name, source, skipBad: args.flags.has('skip-bad') }, controller.signal, (p) => {
      if (!quiet && p.phase !== 'done') io.err(`${p.phase} ${p.done}${p.total !== null ? `/${p.total}` : ''}${p.skipped ? `, ${p.skipped} skipped` : ''}\n`);
    });
    for (const item of skippedItems) io.err(`skipped ${item.file}${item.line ? `, line ${item.line}` : ''}: ${item.reason}\n`);
    if (dataset.skipped > skippedItems.length) io.err(`… and ${dataset.skipped - skippedItems.length} more skipped\n`);
    if (!quiet) io.err(`imported "${dataset.name}": ${dataset.count} samples of shape [${dataset.sampleShape.join(', ')}], ${dataset.classNames.length} classes\n`);
    io.out(`${dataset.id}\n`);
    return 0;
  } finally {
    process.off('SIGINT', abort);
    signal?.removeEventListener('abort', abort);
  }
}
