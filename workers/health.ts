/** The health worker from the sources: `npx tsx workers/health.ts` (the image runs dist/app/health.js). */
import '../src/app/health.js';
