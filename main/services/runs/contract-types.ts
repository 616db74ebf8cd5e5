export type { BatchRecord, EpochRecord, RunDetail, RunStatus, RunSummary, StatsRecord, TrainingSettings } from '../../../contract';
export type { ModelSpec } from '../../../model/spec';
