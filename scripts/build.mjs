// `npm run build`: both packages from the one source tree. `node scripts/build.mjs client` builds
// only the client (its prepack). tsc writes files 0644, so the CLI's bin gets its exec bit back on
// every build: a linked or file-installed package runs dist/cli/bin.js directly.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = (project) =>
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, project)], { stdio: 'inherit' });
const only = process.argv[2];

function buildClient() {
  const out = join(root, 'packages/client/dist');
  rmSync(out, { recursive: true, force: true });
  tsc('packages/client/tsconfig.json');
  cpSync(join(root, 'src/store/scripts'), join(out, 'store/scripts'), { recursive: true });
}

function buildServer() {
  const out = join(root, 'dist');
  rmSync(out, { recursive: true, force: true });
  tsc('tsconfig.build.json');
  cpSync(join(root, 'src/http/console/public'), join(out, 'http/console/public'), { recursive: true });
  for (const bin of ['cli/bin.js', 'app/main.js']) chmodSync(join(out, bin), 0o755);
  // Last: test/support/build.ts reads this directory's time as when a build finished.
  cpSync(join(root, 'src/store/scripts'), join(out, 'store/scripts'), { recursive: true });
}

if (only !== 'server') buildClient();
if (only !== 'client') buildServer();
