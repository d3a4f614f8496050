import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpDeps } from './api/ports.js';
import { createApp, type AppOptions, type CallguardApp } from './app.js';

export interface HttpServer extends CallguardApp {
  server: Server;
  /** e.g. http://127.0.0.1:3000 */
  url: string;
  /** Stops accepting connections, lets requests in flight finish (at most graceMs), then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Creates the app and listens on `port` (0: any free port, as the tests use). */
export async function startHttpServer(deps: HttpDeps, opts: AppOptions & { port?: number; host?: string } = {}): Promise<HttpServer> {
  const created = createApp(deps, opts);
  const server = createServer(created.app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? deps.settings.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  return {
    ...created,
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: (graceMs = 0) =>
      new Promise<void>((resolve, reject) => {
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close((err) => {
          clearTimeout(cut);
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
