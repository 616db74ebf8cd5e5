/**
 * The `sweeps.*` commands and the 'sweeps.progress' event (contract/sweeps.ts), typed for the
 * renderer. contract/api.ts lists them once the sweeps service is in (#17); until then the host's
 * API is asked for them by name, and a host without them answers with an error the panel shows.
 */
import type { z } from 'zod';
import type { LayerbenchApi } from '../../contract';
import type { SweepSummary, sweepCommands } from '../../contract/sweeps';

type SweepCommands = typeof sweepCommands;
type SweepCommandName = keyof SweepCommands;

export interface SweepsApi {
  invoke<N extends SweepCommandName>(name: N, request: z.input<SweepCommands[N]['request']>): Promise<z.output<SweepCommands[N]['response']>>;
  on(name: 'sweeps.progress', listener: (progress: SweepSummary) => void): () => void;
}

export function sweepsApi(api: LayerbenchApi): SweepsApi {
  const untyped = api as unknown as SweepsApi;
  return {
    invoke: (name, request) => untyped.invoke(name, request),
    on(name, listener) {
      // A host that does not know the event yet (Electron's preload refuses unknown names): the panel polls instead.
      try {
        return untyped.on(name, listener);
      } catch {
        return () => {};
      }
    },
  };
}
