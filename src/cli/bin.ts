#!/usr/bin/env node
// The package's `callguard` command (package.json "bin" → dist/cli/bin.js). In the repository,
// run the sources with `node --import tsx src/cli/bin.ts`.
import { runCli } from './cli.js';

// `callguard audit | head -1` closes stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
