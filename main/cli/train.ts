/**
 * `layerbench train <project-file> [--epochs N] [--out DIR]`: a headless run through the same
 * training host and worker as the app, written as a run folder the app lists. Progress goes to
 * stderr, the run folder's path to stdout.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_LEARNING_RATE, OPTIMIZER_NAMES, TrainingSettingsSchema, defaultOptimizer, formatIssues, type TrainingEvent, type TrainingSettings } from '../../contract';
import { lossText } from '../../contract/numbers';
import { PROJECT_FORMAT } from '../../contract/projects';
import { RunStore } from '../services/runs/store';
import { defaultDataDir } from '../services/paths';
import { TrainingHost } from '../services/training/host';
import { UsageError, intFlag, stringFlag, type ParsedArgs } from './args';
import { readModelFile } from './model-file';
import { parseProject } from '../services/projects/store';

export const TRAIN_OPTIONS = {
  epochs: 'string',
  out: 'string',
  'data-dir': 'string',
  'dataset-url': 'string',
  dataset: 'string',
  optimizer: 'string',
  lr: 'string',
  quiet: 'boolean',
} as const;
export const TRAIN_USAGE = `train <project-file> [--epochs N] [--dataset ID] [--optimizer NAME] [--lr X] [--out DIR]
                                       train headlessly; the run folder goes to DIR/runs/<id>
                                       (default: the app's workspace, so the app lists it);
                                       --dataset: fashion-mnist or an imported dataset's id,
                                       --optimizer: SGD, Adagrad, RMSprop, Adam or Adamax (Keras' defaults)`;

export async function trainCommand(args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (!file || extra.length) throw new UsageError('train takes exactly one project file');
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  if (!text.includes(PROJECT_FORMAT)) {
    // A bare topology has no training settings: say what is needed rather than guess them.
    await readModelFile(path);
    throw new Error(`${path}: a model without training settings; save it as a Layerbench project (File → Save) to train it`);
  }
  const project = parseProject(text, path);
  const epochs = intFlag(args, 'epochs', 1, 10_000);
  const settings: TrainingSettings = { ...project.training, ...(epochs ? { epochs } : {}) };
  const dataset = stringFlag(args, 'dataset');
  if (dataset) settings.dataset = dataset;
  const optimizer = stringFlag(args, 'optimizer');
  if (optimizer) {
    const name = OPTIMIZER_NAMES.find((n) => n.toLowerCase() === optimizer.toLowerCase());
    if (!name) throw new UsageError(`--optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${optimizer}`);
    settings.optimizer = defaultOptimizer(name);
    settings.learningRate = DEFAULT_LEARNING_RATE[name];
  }
  const lr = stringFlag(args, 'lr');
  if (lr !== undefined) {
    const value = Number(lr);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--lr must be a positive number, got ${lr}`);
    settings.learningRate = value;
  }
  const checked = TrainingSettingsSchema.safeParse(settings);
  if (!checked.success) throw new UsageError(`invalid training settings: ${formatIssues(checked.error).join('; ')}`);
  const dataDir = stringFlag(args, 'data-dir') ?? defaultDataDir();
  const workspace = stringFlag(args, 'out') ? resolve(stringFlag(args, 'out')!) : dataDir;
  const runs = new RunStore(workspace);
  const quiet = args.flags.has('quiet');
  const log = (line: string) => quiet || process.stderr.write(`${line}\n`);

  let done!: (event: TrainingEvent) => void;
  const ended = new Promise<TrainingEvent>((r) => (done = r));
  let lastLine = 0;
  const host = new TrainingHost({
    dataDir,
    runs,
    fashionMnistBaseUrl: stringFlag(args, 'dataset-url'),
    onDatasetProgress: (p) => log(`downloading ${p.file}: ${p.receivedBytes}${p.totalBytes ? `/${p.totalBytes}` : ''} bytes`),
    onEvent: (event) => {
      switch (event.type) {
        case 'started':
          log(`training ${project.model.config.name} on ${event.trainSamples} images (${event.validationSamples} for validation), backend ${event.backend}`);
          break;
        case 'phase':
          if (event.detail) log(event.detail);
          break;
        case 'batches':
          if (Date.now() - lastLine > 1000) {
            lastLine = Date.now();
            const b = event.batches.at(-1)!;
            log(`  epoch ${b.epoch + 1} · ${Math.round((100 * event.completedBatches) / event.totalBatches)}% · loss ${lossText(b.loss)} · ${Math.round(event.samplesPerSec)} samples/s`);
          }
          break;
        case 'epoch': {
          const e = event.record;
          log(`epoch ${e.epoch + 1}: loss ${lossText(e.loss)} acc ${(e.acc * 100).toFixed(2)}%${e.val_acc !== undefined ? ` · val_loss ${lossText(e.val_loss!)} val_acc ${(e.val_acc * 100).toFixed(2)}%` : ''} (${(e.durationMs / 1000).toFixed(1)} s)`);
          break;
        }
        case 'callback':
          log(event.detail);
          break;
        case 'finished':
        case 'stopped':
        case 'failed':
          done(event);
          break;
      }
    },
  });
  try {
    const { runId } = await host.start({ spec: project.model, settings: checked.data });
    const stop = () => void host.stop(runId);
    process.once('SIGINT', stop);
    const end = await ended;
    process.off('SIGINT', stop);
    process.stdout.write(`${join(runs.runsDir, runId)}\n`);
    if (end.type === 'failed') {
      process.stderr.write(`layerbench: run ${runId} failed: ${end.error}\n`);
      for (const cause of end.divergence?.likelyCauses ?? []) process.stderr.write(`  likely cause: ${cause}\n`);
      return 1;
    }
    log(`run ${runId} ${end.type}`);
    return 0;
  } finally {
    await host.dispose();
  }
}
