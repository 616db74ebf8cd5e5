/**
 * Stopping a Redis sweep: its jobs no agent has taken yet are removed from the queue. A job an agent
 * is training holds BullMQ's lock and cannot be removed: that agent finishes the run and uploads it,
 * and nobody stores the upload (it expires with UPLOAD_TTL_SECONDS).
 */
import { Queue } from 'bullmq';
import { checkRedis, openRedis } from './connection';
import { QUEUE_NAME, QUEUE_PREFIX, sweepJobId } from './protocol';

const NOT_TAKEN = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

export async function removeQueuedJobs(url: string, jobs: readonly { sweepId: string; armId: string; seed: number }[]): Promise<{ removed: number; running: number }> {
  await checkRedis(url, 5_000);
  const redis = openRedis(url, (message) => console.warn(`Layerbench: ${message}`));
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  // The connection's own handler reports its errors (openRedis); without a listener BullMQ prints them again.
  queue.on('error', () => {});
  let removed = 0;
  let running = 0;
  try {
    for (const job of jobs) {
      const jobId = sweepJobId(job);
      const state = await queue.getJobState(jobId);
      if (NOT_TAKEN.has(state)) removed += await queue.remove(jobId);
      else if (state === 'active') running++;
    }
    return { removed, running };
  } finally {
    await queue.close().catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
  }
}
