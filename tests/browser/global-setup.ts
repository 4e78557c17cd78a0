/**
 * Global setup of the `browser` project: fails at once without Chromium (with how to install it),
 * builds dist/public (models, Vite pages, `_headers`), and starts `wrangler dev` on a free
 * 127.0.0.1 port (bench/lib.ts), whose URL the tests get through `inject('baseUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../bench/lib.ts';
import { build } from '../../scripts/build.ts';
import { chromePath } from './chrome.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  chromePath();
  build();
  const server = await startDevServer();
  project.provide('baseUrl', server.url);
  return () => server.stop();
}
