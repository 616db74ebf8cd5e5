/** Sweeps across machines on BullMQ/Redis: the coordinator `layerbench sweep --redis` calls, and the agent. */
export { runRemoteSweep, type RemoteProgress, type RemoteSweepOptions } from './coordinator';
export { startAgent, type AgentOptions, type RunningAgent } from './agent';
export { redactRedisUrl } from './connection';
export { progressLine } from './progress-text';
export { checkRedis } from './connection';
export { removeQueuedJobs } from './remove-queued';
export { sweepJobId } from './protocol';
