/**
 * The Runs view's data: the run list (refreshed when a run starts, pauses or ends anywhere in the
 * app, a remote one of a Redis sweep too, and when a sweep's job changes) and a cache of run details, re-read while a run is still going or after it changed.
 */
import { differingColumns, displayNames, type LayerbenchApi, type RunDetail, type RunSummary, type TraitKey } from '../../contract';
import { message } from './format';

const LIVE = new Set(['running', 'paused']);

export class RunsStore {
  runs = $state<RunSummary[]>([]);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Bumped when a detail lands in the cache. */
  version = $state(0);
  /** Dataset names by id (from the Data view's list): runs show `Iris`, not `user-iris-915f5b`. */
  datasetNames = $state.raw(new Map<string, string>());
  /** The runs with their dataset trait named, as names and columns show them. */
  private readonly named = $derived(this.runs.map((r) => (r.traits?.dataset ? { ...r, traits: { ...r.traits, dataset: this.datasetName(r.traits.dataset) } } : r)));
  /** What each run is shown as: its own name, or what differs from its sibling runs (contract/run-traits.ts). */
  readonly names = $derived(displayNames(this.named));
  /** The runs table's extra columns: the settings that differ among the runs. */
  readonly columns = $derived<TraitKey[]>(differingColumns(this.named));
  private details = new Map<string, RunDetail>();
  private inflight = new Map<string, Promise<RunDetail>>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly api: LayerbenchApi) {}

  /** Subscribes to the training stream; returns the unsubscribe function. */
  watch(): () => void {
    const off = this.api.on('training', (event) => {
      if (event.type === 'batches' || event.type === 'stats' || event.type === 'epoch' || event.type === 'phase') return;
      this.scheduleRefresh();
    });
    // A sweep's job changed: a remote run was stored (replacing its live entry) or ended without one.
    const offSweeps = this.api.on('sweeps.progress', () => this.scheduleRefresh());
    return () => {
      off();
      offSweeps();
      if (this.timer) clearTimeout(this.timer);
    };
  }

  private scheduleRefresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), 250);
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      const { runs } = await this.api.invoke('runs.list', {});
      // Newest first: the run just trained is at the top.
      this.runs = [...runs].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      this.error = null;
    } catch (error) {
      this.error = message(error);
    } finally {
      this.loading = false;
    }
  }

  datasetName(id: string): string {
    return this.datasetNames.get(id) ?? id;
  }

  nameOf(runId: string): string | undefined {
    return this.names.get(runId);
  }

  /** A run's value for a trait column (dataset named). */
  trait(runId: string, key: TraitKey): string {
    return this.named.find((r) => r.runId === runId)?.traits?.[key] ?? '';
  }

  summary(runId: string): RunSummary | undefined {
    return this.runs.find((r) => r.runId === runId);
  }

  cached(runId: string): RunDetail | undefined {
    return this.details.get(runId);
  }

  /** A run's detail, from the cache unless the run is live or its summary moved on since. */
  async detail(runId: string): Promise<RunDetail> {
    const have = this.details.get(runId);
    const now = this.summary(runId);
    const stale =
      !have || LIVE.has(have.summary.status) || (now && (now.status !== have.summary.status || now.batchesDone !== have.summary.batchesDone || now.name !== have.summary.name));
    if (!stale) return have;
    let pending = this.inflight.get(runId);
    if (!pending) {
      pending = this.api.invoke('runs.get', { runId }).finally(() => this.inflight.delete(runId));
      this.inflight.set(runId, pending);
    }
    const detail = await pending;
    this.details.set(runId, detail);
    this.version++;
    return detail;
  }

  async rename(runId: string, name: string): Promise<void> {
    const summary = await this.api.invoke('runs.rename', { runId, name });
    this.runs = this.runs.map((r) => (r.runId === runId ? summary : r));
    const detail = this.details.get(runId);
    if (detail) this.details.set(runId, { ...detail, summary });
    this.version++;
  }

  async remove(runId: string): Promise<void> {
    await this.api.invoke('runs.delete', { runId });
    this.runs = this.runs.filter((r) => r.runId !== runId);
    this.details.delete(runId);
    this.version++;
  }
}
