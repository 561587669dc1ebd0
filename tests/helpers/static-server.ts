/**
 * @fileoverview A tiny static file server on 127.0.0.1 (random port) for browser tests: serves
 * several folders as one tree (the first that has the path wins), with the MIME types module
 * scripts and WebAssembly need. GET/HEAD only; paths outside the folders are 404.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css', '.bin': 'application/octet-stream',
};

export interface StaticServer {
  /** Base URL, ending in '/'. */
  readonly url: string;
  /** Paths requested, in order (for assertions and debugging). */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Serve `roots` (folders) on 127.0.0.1 at a free port. */
export async function serveStatic(roots: readonly string[]): Promise<StaticServer> {
  const dirs = roots.map((r) => resolve(r));
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const rel = path.endsWith('/') ? `${path}index.html` : path;
    const file = dirs.map((d) => [d, join(d, rel)] as const)
      .find(([d, f]) => (f === d || f.startsWith(d + sep)) && existsSync(f) && statSync(f).isFile())?.[1];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !file) {
      res.writeHead(file ? 405 : 404, { 'content-type': 'text/plain' }).end(file ? 'method not allowed' : 'not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
