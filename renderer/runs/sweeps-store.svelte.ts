/**
 * The Runs view's sweeps: the list, the opened sweep's detail, and how far each of its running jobs
 * is. Refreshed on 'sweeps.progress', when a run ends, and by polling while a sweep is live (a host
 * whose contract predates the event still moves the panel).
 */
import type { LayerbenchApi } from '../../contract';
import type { SweepDetail, SweepSummary } from '../../contract/sweeps';
import { sweepsApi, type SweepsApi } from './sweeps-client';
import { message } from './format';

const LIVE = new Set(['queued', 'running']);
const POLL_MS = 1500;

export class SweepsStore {
  sweeps = $state<SweepSummary[]>([]);
  openId = $state<string | null>(null);
  detail = $state.raw<SweepDetail | null>(null);
  error = $state<string | null>(null);
  /** Share of batches done, by run id, for the open sweep's running jobs. */
  progress = $state.raw(new Map<string, number>());
  private readonly api: SweepsApi;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly host: LayerbenchApi) {
    this.api = sweepsApi(host);
  }

  get live(): boolean {
    return this.sweeps.some((s) => LIVE.has(s.status));
  }

  async refresh(): Promise<void> {
    try {
      const { sweeps } = await this.api.invoke('sweeps.list', {});
      this.sweeps = [...sweeps].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      this.error = null;
      const openId = this.openId;
      if (!openId) return;
      const detail = await this.api.invoke('sweeps.get', { sweepId: openId });
      // Another sweep opened (or this one closed) meanwhile: its own refresh brings its detail.
      if (this.openId === openId) this.detail = detail;
    } catch (e) {
      this.error = message(e);
    }
  }

  async open(sweepId: string | null): Promise<void> {
    this.openId = sweepId;
    this.detail = null;
    this.progress = new Map();
    await this.refresh();
  }

  async stop(sweepId: string): Promise<void> {
    try {
      await this.api.invoke('sweeps.stop', { sweepId });
    } catch (e) {
      this.error = message(e);
    }
    await this.refresh();
  }

  /** Subscribes to progress and the training stream, and polls while a sweep is live; returns the unsubscribe function. */
  watch(): () => void {
    const offProgress = this.api.on('sweeps.progress', (summary) => {
      this.sweeps = this.sweeps.some((s) => s.sweepId === summary.sweepId) ? this.sweeps.map((s) => (s.sweepId === summary.sweepId ? summary : s)) : [summary, ...this.sweeps];
      if (summary.sweepId === this.openId) void this.refresh();
    });
    const offTraining = this.host.on('training', (event) => {
      if (event.type === 'batches') {
        const running = this.detail?.jobs.some((j) => j.runId === event.runId);
        if (running && event.totalBatches) this.progress = new Map(this.progress).set(event.runId, event.completedBatches / event.totalBatches);
      } else if (event.type === 'finished' || event.type === 'failed' || event.type === 'stopped') {
        void this.refresh();
      }
    });
    this.timer = setInterval(() => {
      if (this.live) void this.refresh();
    }, POLL_MS);
    return () => {
      offProgress();
      offTraining();
      if (this.timer) clearInterval(this.timer);
    };
  }
}
