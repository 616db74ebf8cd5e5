/**
 * The Redis queue's entry (`layerbench sweep --redis URL`), written on dev/sweeps-redis: this module
 * is to export `runRemoteSweep(jobs, { redis, dataDir, onProgress })` (see ../remote-hook.ts). Until
 * it does, the CLI refuses --redis and says so. At merge, that branch's module replaces this file.
 */
export {};
