/**
 * The API's implementation: plain Node, no Electron. `main/electron` and `main/serve` wire one of
 * these to their transport; the CLI uses the services directly.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { EventName, EventPayload, Result } from '../../contract';
import { dispatchCommand, type CommandHandlers } from './dispatch';
import { TrainingHost } from './training/host/host';
import { describeFashionMnist } from './datasets/fashion-mnist';
import { DatasetService } from './datasets/service';
import { ProjectStore } from './projects/store';
import { exportRunModel } from './export/run-export';
import { importModelAsRun } from './runs/import';
import { RunStore } from './runs/store';
import { SweepService } from './experiments/service';
import { confineTo, unconfined } from './files/confine';
import type { ImportSource } from '../../contract';
import { DomainError } from '../../contract/wire';

export interface ServicesOptions {
  /** Which host the renderer is talking to. */
  host: 'electron' | 'browser';
  /** Where the app keeps its data: dataset cache, runs. */
  dataDir: string;
  /** Base URL of the Fashion-MNIST files, for downloads (tests point it at a loopback server). */
  fashionMnistBaseUrl?: string;
  /** Suggested folder for project files (default ~/Layerbench, or `root` when set). */
  projectsDir?: string;
  /** When set, every path a client sends must resolve inside this folder (`layerbench serve --root`). */
  root?: string;
}

export interface Services {
  dispatch(name: unknown, payload: unknown): Promise<Result>;
  /** Every event the services emit, already validated against the contract. */
  onEvent(listener: <E extends EventName>(name: E, payload: EventPayload<E>) => void): () => void;
  readonly training: TrainingHost;
  readonly runs: RunStore;
  readonly sweeps: SweepService;
  dispose(): Promise<void>;
}

export function appVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function createServices(options: ServicesOptions): Services {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const emit = <E extends EventName>(name: E, payload: EventPayload<E>) => bus.emit('event', name, payload);

  const runs = new RunStore(options.dataDir);
  // Runs a crashed or killed Layerbench left 'running' or 'paused' are marked interrupted before
  // anything reads or starts runs.
  const recovered = runs.recoverInterrupted().catch((error: unknown) => {
    console.warn(`Layerbench: could not check for interrupted runs: ${error instanceof Error ? error.message : String(error)}`);
  });
  const afterRecovery =
    <A extends unknown[], R>(handler: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await recovered;
      return handler(...args);
    };

  const training = new TrainingHost({
    dataDir: options.dataDir,
    fashionMnistBaseUrl: options.fashionMnistBaseUrl,
    runs,
    // A UI shares the machine (Electron's renderer, or the browser in serve mode): training gives way
    // to it where the scheduler weighs them against each other (thread-priority.ts).
    threadPriority: 'below-normal',
    onEvent: (event) => {
      emit('training', event);
      sweeps.onTrainingEvent(event);
    },
    onDatasetProgress: (progress) => emit('datasets.progress', progress),
  });

  // Sweeps run on this host's training worker, one run at a time, or on agents taking jobs from a
  // Redis queue (their runs' events join the training stream, so remote runs show live like local
  // ones); those a killed or closed Layerbench left running resume once its runs are recovered.
  const sweeps = new SweepService({
    sweepsDir: join(options.dataDir, 'sweeps'),
    runs,
    training,
    onProgress: (summary) => emit('sweeps.progress', summary),
    onRemoteEvent: (event) => emit('training', event),
  });
  const sweepsResumed = recovered
    .then(() => sweeps.resume())
    .catch((error: unknown) => {
      console.warn(`Layerbench: could not resume sweeps: ${error instanceof Error ? error.message : String(error)}`);
    });

  const datasets = new DatasetService(options.dataDir, (progress) => emit('datasets.importProgress', progress));

  /** A dataset the active run trains on or an evaluation reads cannot be deleted under it. */
  const refuseDatasetInUse = (id: string): void => {
    const user = training.datasetUser(id);
    if (user === 'evaluation') throw new DomainError('busy', `Dataset "${id}" cannot be deleted now: an evaluation is reading it; try again when it has finished`);
    if (user) throw new DomainError('busy', `Dataset "${id}" is in use by the training run ${user.run}; stop it first`);
  };

  const confine = options.root === undefined ? unconfined : confineTo(options.root);
  const projects = new ProjectStore(options.dataDir, options.projectsDir ?? confine.root ?? join(homedir(), 'Layerbench'));
  const confineSource = async (source: ImportSource): Promise<ImportSource> =>
    source.kind === 'idx'
      ? { ...source, imagesPath: await confine(source.imagesPath), labelsPath: await confine(source.labelsPath) }
      : { ...source, path: await confine(source.path) };

  const handlers: CommandHandlers = {
    'app.info': () => ({ name: 'Layerbench', version: appVersion(), host: options.host, platform: process.platform, projectsDir: projects.projectsDir }),
    'training.backends': () => training.backends(),
    'training.start': afterRecovery((request) => training.start(request)),
    'training.stop': (request) => training.stop(request.runId),
    'training.pause': (request) => training.pause(request.runId),
    'training.resume': (request) => training.resume(request.runId),
    'runs.list': afterRecovery(async () => {
      const stored = await runs.list();
      // Remote runs in progress, until their agent's upload is stored under the same id.
      return { runs: [...stored, ...sweeps.remoteRuns.list(new Set(stored.map((r) => r.runId)))] };
    }),
    'runs.get': afterRecovery(async (request) => {
      try {
        return await runs.get(request.runId);
      } catch (error) {
        const live = sweeps.remoteRuns.get(request.runId);
        if (live) return live;
        throw error;
      }
    }),
    'runs.rename': afterRecovery((request) => runs.rename(request.runId, request.name)),
    'runs.delete': afterRecovery(async (request) => {
      if (training.activeRunId === request.runId) throw new DomainError('busy', `Run ${request.runId} is still training: stop it first`);
      return { deleted: await runs.delete(request.runId) };
    }),
    'runs.evaluate': afterRecovery((request) => training.evaluate(request.runId)),
    'runs.exportCsv': afterRecovery((request) => runs.exportCsv(request.runId)),
    'runs.import': afterRecovery(async (request) => importModelAsRun(runs, await confine(request.path))),
    'runs.exportModel': afterRecovery(async (request) => exportRunModel(runs.runDir(request.runId), { ...request, path: await confine(request.path) })),
    'datasets.info': () => describeFashionMnist({ dataDir: options.dataDir }),
    'datasets.list': () => datasets.list(),
    'datasets.scan': async (r) => datasets.scan(await confineSource(r.source)),
    'datasets.import': async (r) => datasets.import({ ...r, source: await confineSource(r.source) }),
    'datasets.cancelImport': (r) => datasets.cancelImport(r.importId),
    'datasets.preview': (r) => datasets.preview(r.id),
    'datasets.delete': async (r) => {
      refuseDatasetInUse(r.id);
      return datasets.delete(r.id);
    },
    'sweeps.start': afterRecovery(async (request) => sweeps.start(request)),
    'sweeps.list': async () => ({ sweeps: await sweeps.list() }),
    'sweeps.get': (request) => sweeps.get(request.sweepId),
    'sweeps.stop': (request) => sweeps.stop(request.sweepId),
    'model.inspect': (r) => training.inspect(r.spec),
    'projects.open': async (r) => projects.open(await confine(r.path)),
    'projects.save': async (r) => projects.save(await confine(r.path), r.project, r.overwrite),
    'projects.recent': async () => ({ projects: await projects.recent() }),
    'projects.autosave': async (r) => projects.autosave(r.project, r.path === null ? null : await confine(r.path)),
    'projects.recovery': async () => ({ recovery: await projects.recovery() }),
    'projects.discardRecovery': () => projects.discardRecovery(),
  };

  return {
    dispatch: (name, payload) => dispatchCommand(handlers, name, payload),
    onEvent(listener) {
      const wrapped = (name: EventName, payload: EventPayload<EventName>) => listener(name, payload);
      bus.on('event', wrapped);
      return () => bus.off('event', wrapped);
    },
    training,
    runs,
    sweeps,
    dispose: async () => {
      await sweepsResumed;
      // Before the host: the run it ends must stay 'running' in its sweep, to be rerun at the next start.
      const sweepsDisposed = sweeps.dispose();
      await datasets.dispose();
      await training.dispose();
      await sweepsDisposed;
      await recovered;
    },
  };
}
