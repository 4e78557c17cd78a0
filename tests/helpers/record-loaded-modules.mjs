// Loaded into a child process with `--import` (through NODE_OPTIONS): when the process exits, it
// appends one JSON line to the file named by TANNERIN_LOADED_MODULES_LOG: its Node version, its
// arguments, whether the load hook ran, and the URL of every module it loaded (ES modules and
// CommonJS, seen by module.registerHooks, Node >= 22.15; plus require.cache). Tests use it to check
// what a command did not load, without timing anything.
import { appendFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const log = process.env.TANNERIN_LOADED_MODULES_LOG;
const loaded = new Set();
const hooked = typeof nodeModule.registerHooks === 'function';
if (hooked) {
  nodeModule.registerHooks({
    load(url, context, nextLoad) {
      loaded.add(url);
      return nextLoad(url, context);
    },
  });
}
process.on('exit', () => {
  if (!log) return;
  for (const file of Object.keys(nodeModule.createRequire(import.meta.url).cache)) loaded.add(pathToFileURL(file).href);
  appendFileSync(log, `${JSON.stringify({ node: process.version, argv: process.argv.slice(1), hooked, loaded: [...loaded] })}\n`);
});
