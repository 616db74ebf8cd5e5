/**
 * The runs workspace's interface, shared by the training host (which writes runs) and the
 * commands that read them. Implemented by `RunStore` in ./store.ts.
 *
 * Layout of one run folder `<dataDir>/runs/<runId>/`:
 *   run.json         summary + spec + settings + seed + backend (+ `gpu`: a WebGPU run's counters per step; rewritten atomically on status changes)
 *   metrics.jsonl    one JSON line per batch ({"kind":"batch",...}), per epoch ({"kind":"epoch",...}) and per callback action ({"kind":"callback",...})
 *   stats.jsonl      one JSON line per statistics record (BN, gradients, activations)
 *   weights/         final weights in TF.js layers format (model.json + weights.bin), written by the worker
 *   best/            the best epoch's weights (same format), when the run checkpoints its best epoch
 *   .heartbeat       touched by the writing process every few seconds (owner.ts), removed when the run ends
 *   .reserve         space held back for the last run.json on a full disk, removed when the run ends
 * Appends are written so that a crash or kill loses at most the line being written; readers skip a
 * torn last line.
 */
import type { GpuRunCounters, RunFileFault } from '../../../contract';
import type { BatchRecord, EpochRecord, ModelSpec, RunDetail, RunStatus, RunSummary, StatsRecord, TrainingSettings } from './contract-types';

export interface NewRun {
  runId: string;
  spec: ModelSpec;
  settings: TrainingSettings;
  backend: string;
  name?: string;
}

export interface RunWriter {
  readonly runId: string;
  readonly directory: string;
  /** Where the worker writes the final weights (TF.js format). */
  readonly weightsDir: string;
  appendBatch(record: BatchRecord): void;
  appendEpoch(record: EpochRecord): void;
  appendStats(record: StatsRecord): void;
  /** An epoch-end callback's action (early stopping, checkpoint, learning-rate change), as a metrics line. */
  appendCallback(record: { callback: string; epoch: number; detail: string }): void;
  /**
   * Records the status. An ending status of a run whose files could not all be written (see
   * `faults`) is recorded as 'failed', code 'io', with those files.
   */
  setStatus(status: RunStatus, failure?: RunSummary['failure']): Promise<void>;
  /** The run's files that could not be written so far (metrics.jsonl, stats.jsonl, run.json). */
  faults(): RunFileFault[];
  /** Called once per file when a write to it fails: its owner ends the run. */
  onFault(listener: (fault: RunFileFault) => void): void;
  /** The backend the run actually trains on (from the worker's 'started') and what trains its steps; saved with the next status write. */
  setBackend(backend: string, step?: string): void;
  /** What the run's steps asked of the GPU (a WebGPU backend); saved with the next status write. */
  setGpu(counters: GpuRunCounters): void;
  /** Flushes pending appends to disk. */
  flush(): Promise<void>;
}

export interface RunStoreApi {
  create(run: NewRun): Promise<RunWriter>;
  list(): Promise<RunSummary[]>;
  get(runId: string): Promise<RunDetail>;
  rename(runId: string, name: string): Promise<RunSummary>;
  delete(runId: string): Promise<boolean>;
  /** Marks runs left 'running' or 'paused' by a crashed process as 'interrupted'. Call at start-up. */
  recoverInterrupted(): Promise<string[]>;
  exportCsv(runId: string): Promise<{ fileName: string; csv: string }>;
  weightsDir(runId: string): string;
}
