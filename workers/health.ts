/**
 * The health worker from the sources, for development: `npx tsx workers/health.ts`. Deployments run
 * the compiled one, `npm run start:health` (node dist/app/health.js); see src/app/health.ts.
 */
import '../src/app/health.js';
