/**
 * `layerbench train <project-file|model.h5> [--epochs N] [--out DIR]`: a headless run through the
 * same training host and worker as the app, written as a run folder the app lists. A Keras .h5 is
 * imported as a run first and training continues from its weights, with its training_config's
 * optimizer and schedule (the app's defaults for the rest). Progress goes to stderr, the run
 * folder's path to stdout.
 */
import { join, resolve } from 'node:path';
import {
  BACKEND_NAMES,
  DEFAULT_LEARNING_RATE,
  OPTIMIZER_NAMES,
  TrainingSettingsSchema,
  defaultNormalization,
  defaultOptimizer,
  defaultTrainingSettings,
  formatIssues,
  normalizationWarnings,
  type TrainingEvent,
  type TrainingSettings,
} from '../../contract';
import { DatasetStore } from '../services/datasets/store';
import { importModelAsRun } from '../services/runs/import';
import { lossText } from '../../contract/numbers';
import { RunStore } from '../services/runs/store';
import { defaultDataDir } from '../services/paths';
import { TrainingHost } from '../services/training/host/host';
import { UsageError, intFlag, stringFlag, type ParsedArgs } from './args';
import { readModelFile } from './model-file';

export const TRAIN_OPTIONS = {
  epochs: 'string',
  out: 'string',
  'data-dir': 'string',
  'dataset-url': 'string',
  dataset: 'string',
  optimizer: 'string',
  lr: 'string',
  backend: 'string',
  quiet: 'boolean',
} as const;
export const TRAIN_USAGE = `train <project-file|model.h5> [--epochs N] [--dataset ID] [--optimizer NAME] [--lr X] [--backend NAME] [--out DIR]
                                       train headlessly; the run folder goes to DIR/runs/<id>
                                       (default: the app's workspace, so the app lists it);
                                       --dataset: fashion-mnist or an imported dataset's id,
                                       --optimizer: SGD, Adagrad, RMSprop, Adam or Adamax (Keras' defaults);
                                       --backend: auto, onnxruntime, wasm, cpu, webgpu, tensorflow or tensorflow-gpu;
                                       a Keras .h5 continues from its weights (imported as a run)`;

export async function trainCommand(args: ParsedArgs): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (!file || extra.length) throw new UsageError('train takes exactly one project file or Keras .h5');
  const path = resolve(file);
  const model = await readModelFile(path);
  // A bare topology has no training settings: say what is needed rather than guess them.
  if (model.kind === 'topology') throw new Error(`${path}: a model without training settings; save it as a Layerbench project (File → Save) to train it`);
  const base: TrainingSettings = model.kind === 'project' ? model.project.training : { ...defaultTrainingSettings, ...(model.h5.training ?? {}) };
  const epochs = intFlag(args, 'epochs', 1, 10_000);
  const settings: TrainingSettings = { ...base, ...(epochs ? { epochs } : {}) };
  const dataset = stringFlag(args, 'dataset');
  const otherDataset = dataset !== undefined && dataset !== settings.dataset;
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
  const backend = stringFlag(args, 'backend');
  if (backend !== undefined) {
    const name = (['auto', ...BACKEND_NAMES] as const).find((n) => n === backend.toLowerCase());
    if (!name) throw new UsageError(`--backend must be auto or one of ${BACKEND_NAMES.join(', ')}, got ${backend}`);
    settings.backend = name;
  }
  const checked = TrainingSettingsSchema.safeParse(settings);
  if (!checked.success) throw new UsageError(`invalid training settings: ${formatIssues(checked.error).join('; ')}`);
  const dataDir = stringFlag(args, 'data-dir') ?? defaultDataDir();
  const workspace = stringFlag(args, 'out') ? resolve(stringFlag(args, 'out')!) : dataDir;
  const runs = new RunStore(workspace);
  const quiet = args.flags.has('quiet');
  const log = (line: string) => quiet || process.stderr.write(`${line}\n`);
  for (const runId of await runs.recoverInterrupted()) log(`run ${runId}: its process died; marked interrupted`);
  // The project's normalization was chosen for its own dataset; another one given here brings its default.
  const summary = await new DatasetStore(dataDir).summary(checked.data.dataset);
  if (otherDataset) checked.data.normalization = defaultNormalization(summary);
  for (const warning of normalizationWarnings(checked.data.normalization, summary, model.spec)) process.stderr.write(`layerbench: warning: ${warning}\n`);

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
          log(`training ${model.spec.config.name} on ${event.trainSamples} images (${event.validationSamples} for validation), backend ${event.backend}`);
          break;
        case 'phase':
          if (event.detail) log(event.detail);
          break;
        case 'batches':
          if (Date.now() - lastLine > 1000) {
            lastLine = Date.now();
            const b = event.batches.at(-1)!;
            log(
              `  epoch ${b.epoch + 1} · ${Math.round((100 * event.completedBatches) / event.totalBatches)}% · loss ${lossText(b.loss)} · ${Math.round(event.samplesPerSec)} samples/s`,
            );
          }
          break;
        case 'epoch': {
          const e = event.record;
          log(
            `epoch ${e.epoch + 1}: loss ${lossText(e.loss)} acc ${(e.acc * 100).toFixed(2)}%${e.val_acc !== undefined ? ` · val_loss ${lossText(e.val_loss!)} val_acc ${(e.val_acc * 100).toFixed(2)}%` : ''} (${(e.durationMs / 1000).toFixed(1)} s)`,
          );
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
    let initialWeightsFrom: string | undefined;
    if (model.kind === 'h5') {
      if (model.h5.trainingIgnored) log(`${path}: ${model.h5.trainingIgnored}; training with the default optimizer instead`);
      const { run } = await importModelAsRun(runs, path);
      initialWeightsFrom = run.runId;
      log(`imported ${path} as run ${run.runId}; training continues from its weights`);
    }
    const { runId } = await host.start({ spec: model.spec, settings: checked.data, ...(initialWeightsFrom ? { initialWeightsFrom } : {}) });
    const stop = () => void host.stop(runId);
    process.once('SIGINT', stop);
    const end = await ended;
    process.off('SIGINT', stop);
    process.stdout.write(`${join(runs.runsDir, runId)}\n`);
    if (end.type === 'failed') {
      process.stderr.write(`layerbench: run ${runId} failed: ${end.error}\n`);
      for (const cause of end.divergence?.likelyCauses ?? []) process.stderr.write(`  likely cause: ${cause}\n`);
      for (const f of end.files ?? []) process.stderr.write(`  ${f.state}: ${join(runs.runsDir, runId, f.file)} (${f.errno})\n`);
      return 1;
    }
    log(`run ${runId} ${end.type}`);
    return 0;
  } finally {
    await host.dispose();
  }
}
