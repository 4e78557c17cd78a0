/**
 * A pass-through HTTP proxy on its own 127.0.0.1 port in front of the test server: pages opened
 * through it get an origin of their own (own storage and service worker), and closing it makes
 * that origin unreachable (connection refused), which is how the cross-engine offline test cuts
 * the network where WebDriver cannot, without stopping the shared `wrangler dev`.
 *
 * It is transparent: the request keeps its `Host` header (the proxy's own origin), as it would in
 * front of a real deployment, so the Worker sees the origin the page is on. `GET /v1/models`
 * answers absolute URLs built from the request's origin; a proxy that rewrote `Host` to the
 * server's made the page fetch its model files from the server's origin, another origin than its
 * own, which the app's Content-Security-Policy (`connect-src 'self'`) refuses.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export interface Proxy {
  /** The proxy's origin, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Stops accepting and drops open connections: the origin refuses connections from now on. */
  close(): Promise<void>;
}

/** Starts a proxy forwarding every request to `target` (an `http://host:port` origin). */
export async function startProxy(target: string): Promise<Proxy> {
  const to = new URL(target);
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request(
      { hostname: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  const server = createServer(forward);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}
