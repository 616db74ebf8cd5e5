/**
 * IPC channel names shared by main (`ipc.ts`) and the preload. Kept free of imports: the sandboxed
 * preload bundle may only require `electron` and a few built-ins.
 */
export const INVOKE_CHANNEL = 'layerbench:invoke';
export const EVENT_CHANNEL = 'layerbench:event';
