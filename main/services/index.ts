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
import { TrainingHost } from './training/host';
import { describeFashionMnist } from './datasets/fashion-mnist';
import { ProjectStore } from './projects/store';

export interface ServicesOptions {
  /** Which host the renderer is talking to. */
  host: 'electron' | 'browser';
  /** Where the app keeps its data: dataset cache, runs. */
  dataDir: string;
  /** Base URL of the Fashion-MNIST files, for downloads (tests point it at a loopback server). */
  fashionMnistBaseUrl?: string;
  /** Suggested folder for project files (default ~/Layerbench). */
  projectsDir?: string;
}

export interface Services {
  dispatch(name: unknown, payload: unknown): Promise<Result>;
  /** Every event the services emit, already validated against the contract. */
  onEvent(listener: <E extends EventName>(name: E, payload: EventPayload<E>) => void): () => void;
  readonly training: TrainingHost;
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

  const training = new TrainingHost({
    dataDir: options.dataDir,
    fashionMnistBaseUrl: options.fashionMnistBaseUrl,
    onEvent: (event) => emit('training', event),
    onDatasetProgress: (progress) => emit('datasets.progress', progress),
  });

  const projects = new ProjectStore(options.dataDir, options.projectsDir ?? join(homedir(), 'Layerbench'));

  // Partial while the runs commands are being built; a missing handler answers "unknown-command".
  const handlers: Partial<CommandHandlers> = {
    'app.info': () => ({ name: 'Layerbench', version: appVersion(), host: options.host, platform: process.platform, projectsDir: projects.projectsDir }),
    'training.backends': () => training.backends(),
    'training.start': (request) => training.start(request),
    'training.stop': (request) => training.stop(request.runId),
    'datasets.info': () => describeFashionMnist({ dataDir: options.dataDir }),
    'model.inspect': (r) => training.inspect(r.spec),
    'projects.open': (r) => projects.open(r.path),
    'projects.save': (r) => projects.save(r.path, r.project, r.overwrite),
    'projects.recent': async () => ({ projects: await projects.recent() }),
    'projects.autosave': (r) => projects.autosave(r.project, r.path),
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
    dispose: () => training.dispose(),
  };
}
