/**
 * Imported first by the preload, before any zod schema is built: zod 4 compiles object parsers
 * with `new Function` unless told not to, and probes for it when the first object schema is
 * constructed. Under the app's CSP (no 'unsafe-eval') that probe fails and logs a CSP violation;
 * jitless mode never tries. (The renderer needs the same before it imports the contract.)
 */
import { z } from 'zod';

z.config({ jitless: true });
