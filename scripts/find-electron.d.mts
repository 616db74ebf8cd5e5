/** The Electron binary's path, or why it is not there (see find-electron.mjs). */
export function findElectron(): { path: string; missing?: undefined } | { path?: undefined; missing: string };
