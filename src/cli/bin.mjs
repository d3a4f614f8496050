#!/usr/bin/env node
// The package's `callguard` command. src/cli.ts runs through tsx's API, which registers the
// TypeScript loader for this import only: no build step, and no loader flags for the caller.
import { tsImport } from 'tsx/esm/api';

// `callguard audit | head -1` closes stdout early; that is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const { runCli } = await tsImport('./cli.ts', import.meta.url);
process.exitCode = await runCli(process.argv.slice(2));
