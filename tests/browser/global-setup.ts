/**
 * Global setup of the `browser` project: fails at once without Chromium, Firefox ESR or WebKitGTK
 * (with how to install them),
 * builds dist/public (models, Vite pages, `_headers`), and starts `wrangler dev` on a free
 * 127.0.0.1 port (bench/lib.ts), whose URL the tests get through `inject('baseUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../bench/lib.ts';
import { build } from '../../scripts/build.ts';
import { checkEngines } from './engines.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  checkEngines();
  build();
  const server = await startDevServer();
  project.provide('baseUrl', server.url);
  return () => server.stop();
}
