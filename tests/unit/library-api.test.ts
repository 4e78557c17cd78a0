/**
 * The browser library's public surface (client/lib/index.ts) as the README shows it: the example
 * under "Using the library" typechecks against index.ts with the client's compiler settings, and
 * imports nothing else; every export of index.ts has a doc comment. The example is read from
 * README.md and compiled in memory (nothing is written to disk).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const INDEX = join(ROOT, 'client', 'lib', 'index.ts');
/** Where the example is compiled as if it were a file (repository root, so `./client/lib/index.ts` resolves). */
const EXAMPLE = join(ROOT, 'readme-library-example.ts');

/** The first ```ts block of the README section `## Using the library`. */
function readmeExample(readme: string): string {
  const section = /^## Using the library\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Using the library" section');
  const code = /^```ts\n([\s\S]*?)^```$/m.exec(section)?.[1];
  if (code === undefined) throw new Error('the "Using the library" section has no ```ts block');
  return code;
}

/** The client's compiler options (client/tsconfig.json: DOM libs, strict, bundler resolution). */
function clientOptions(): ts.CompilerOptions {
  const path = join(ROOT, 'client', 'tsconfig.json');
  const config = ts.readConfigFile(path, (p) => ts.sys.readFile(p));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, join(ROOT, 'client')).options;
}

/** Type errors of `code` compiled as {@link EXAMPLE} (errors elsewhere in the program are the typecheck's business). */
function typeErrors(code: string): string[] {
  const options = { ...clientOptions(), noEmit: true };
  const host = ts.createCompilerHost(options, true);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => (resolve(file) === EXAMPLE ? code : readFile(file));
  host.fileExists = ((exists) => (file: string) => resolve(file) === EXAMPLE || exists(file))(host.fileExists.bind(host));
  host.getSourceFile = (file, language, onError, create) =>
    resolve(file) === EXAMPLE ? ts.createSourceFile(file, code, language, true, ts.ScriptKind.TS) : getSourceFile(file, language, onError, create);
  const program = ts.createProgram({ rootNames: [EXAMPLE], options, host });
  const source = program.getSourceFile(EXAMPLE);
  if (!source) throw new Error('the example was not compiled');
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
    return `${where ? `example line ${where.line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

/** Module specifiers the code imports from. */
function importsOf(code: string): string[] {
  const source = ts.createSourceFile(EXAMPLE, code, ts.ScriptTarget.ES2022, true);
  return source.statements.filter(ts.isImportDeclaration).map((s) => (s.moduleSpecifier as ts.StringLiteral).text);
}

describe('the library example in the README', () => {
  const example = readmeExample(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  it('is about 20 lines and imports only the public API', () => {
    const lines = example.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThanOrEqual(12);
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(importsOf(example)).toEqual(['./client/lib/index.ts']);
  });

  it('typechecks against client/lib/index.ts', () => {
    expect(typeErrors(example)).toEqual([]);
  });

  it('would fail if the example stopped compiling (a name index.ts does not export, a wrong argument)', () => {
    const renamed = example.replace(/\btrain\b/g, 'trainHead');
    expect(typeErrors(renamed).join('\n')).toMatch(/has no exported member named 'trainHead'|has no exported member 'trainHead'/);
    expect(typeErrors(`${example}\nawait addClass(42);\n`).join('\n')).toMatch(/Argument of type 'number' is not assignable/);
    // An internal is not public: importing it from index.ts fails.
    expect(typeErrors(`import { openTannerinDb } from './client/lib/index.ts';\nawait openTannerinDb();\n`).join('\n')).toMatch(/openTannerinDb/);
  });
});

describe('client/lib/index.ts', () => {
  const source = ts.createSourceFile(INDEX, readFileSync(INDEX, 'utf8'), ts.ScriptTarget.ES2022, true);

  it('gives every export a doc comment, one export per statement', () => {
    const exports = source.statements.filter((s) => ts.isExportDeclaration(s) || (ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)));
    expect(exports.length).toBeGreaterThan(30);
    const undocumented = exports.filter((s) => ts.getJSDocCommentsAndTags(s).length === 0 && !/^\s*\/\*\*[\s\S]*\*\/\s*$/.test(source.text.slice(s.getFullStart(), s.getStart())));
    expect(undocumented.map((s) => s.getText())).toEqual([]);
    const grouped = exports.filter((s) => ts.isExportDeclaration(s) && s.exportClause && ts.isNamedExports(s.exportClause) && s.exportClause.elements.length !== 1);
    expect(grouped.map((s) => s.getText())).toEqual([]);
    // `export *` would make the surface whatever another module exports.
    expect(exports.filter((s) => ts.isExportDeclaration(s) && !s.exportClause).map((s) => s.getText())).toEqual([]);
  });
});
