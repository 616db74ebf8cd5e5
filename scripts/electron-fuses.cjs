/**
 * electron-builder `afterPack` hook (electron-builder.yml): flips the packaged Electron binary's
 * fuses with @electron/fuses, before electron-builder signs it and builds the installers. Fuses are
 * bits compiled into the binary that turn features off for good, whatever the environment or the
 * command line says: a packaged Layerbench cannot be run as a plain Node (ELECTRON_RUN_AS_NODE),
 * takes no NODE_OPTIONS and no --inspect, loads its code only from app.asar, checks app.asar's
 * embedded integrity hash (where Electron supports it: macOS and Windows), and encrypts its cookies.
 */
'use strict';
const path = require('node:path');

/** Every fuse Layerbench sets, by its @electron/fuses FuseV1Options name. */
const FUSES = Object.freeze({
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableCookieEncryption: true,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
});

/** The file that holds the fuse wire in electron-builder's output for one platform. */
function electronBinary(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  const product = packager.appInfo.productFilename;
  switch (electronPlatformName) {
    case 'darwin':
    case 'mas':
      return path.join(appOutDir, `${product}.app`);
    case 'win32':
      return path.join(appOutDir, `${product}.exe`);
    default:
      return path.join(appOutDir, packager.executableName);
  }
}

/** Sets FUSES in the Electron binary at `binary` (an .app bundle, an .exe or an ELF file). */
async function flipLayerbenchFuses(binary, options = {}) {
  // @electron/fuses is an ES module: a CommonJS hook loads it with import().
  const { flipFuses, FuseVersion, FuseV1Options } = await import('@electron/fuses');
  const config = { version: FuseVersion.V1, resetAdHocDarwinSignature: options.resetAdHocDarwinSignature === true };
  for (const [name, enabled] of Object.entries(FUSES)) {
    // A fuse renamed or dropped by a newer @electron/fuses must stop the build, not be skipped.
    if (typeof FuseV1Options[name] !== 'number') throw new Error(`@electron/fuses has no fuse named ${name}`);
    config[FuseV1Options[name]] = enabled;
  }
  await flipFuses(binary, config);
}

async function afterPack(context) {
  const binary = electronBinary(context);
  // An unsigned macOS build's ad-hoc signature no longer matches once the binary changed.
  await flipLayerbenchFuses(binary, { resetAdHocDarwinSignature: context.electronPlatformName === 'darwin' });
  console.log(
    `  • Electron fuses set in ${binary}: ${Object.entries(FUSES)
      .map(([name, on]) => `${name}=${on}`)
      .join(', ')}`,
  );
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.electronBinary = electronBinary;
module.exports.flipLayerbenchFuses = flipLayerbenchFuses;
