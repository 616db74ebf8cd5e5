/**
 * The `sweeps.*` commands and the 'sweeps.progress' event (contract/sweeps.ts, listed in
 * contract/api.ts), as the sweep stores use them: the host's API itself.
 */
import type { LayerbenchApi } from '../../contract';

export type SweepsApi = Pick<LayerbenchApi, 'invoke' | 'on'>;

export const sweepsApi = (api: LayerbenchApi): SweepsApi => api;
