/** One line per remote run's state change or epoch, for the CLI's progress (batches are left to the live view). */
import { lossText } from '../../../../contract/numbers';
import type { RemoteProgress } from './coordinator';

export function progressLine(progress: RemoteProgress): string | null {
  if (progress.type === 'warning') return `warning: ${progress.message}`;
  if (progress.type === 'job') {
    const { armId, seed, status, agent, attempt, runId, error } = progress.state;
    const where = agent ? ` on ${agent.host} (${agent.backend})` : '';
    const retry = attempt > 1 ? `, attempt ${attempt}` : '';
    const stored = status === 'finished' && runId ? ` → run ${runId}` : '';
    return `${armId} seed ${seed}: ${status}${where}${retry}${stored}${error ? `: ${error}` : ''}`;
  }
  const { event, armId, seed, agent, attempt } = progress;
  if (event.type !== 'epoch') return null;
  const e = event.record;
  const validation = e.val_acc !== undefined ? ` · val_loss ${lossText(e.val_loss ?? NaN)} val_acc ${(e.val_acc * 100).toFixed(2)}%` : '';
  return `${armId} seed ${seed} [${agent.host}/${agent.backend}${attempt > 1 ? `, attempt ${attempt}` : ''}]: epoch ${e.epoch + 1} loss ${lossText(e.loss)} acc ${(e.acc * 100).toFixed(2)}%${validation}`;
}
