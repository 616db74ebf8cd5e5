// Must be imported before anything that loads zod schemas: zod's fast path compiles parsers with
// `new Function`, which the app's CSP (no 'unsafe-eval') forbids and reports as a violation.
import { config } from 'zod';

config({ jitless: true });
