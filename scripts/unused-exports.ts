/**
 * Exports that nothing imports: a name exported by a module of lib/, bench/ or scripts/ that no
 * module of lib/, bench/, scripts/, tests/, bin/ or the notebooks' code cells imports (directly,
 * through a re-export, or through `import * as` / a dynamic `import()` / `require()`, which count as
 * using every export). Dead code waiting to rot; tests/project/unusedExports.test.ts fails on any.
 *
 * Exported interfaces and type aliases are not checked: a type that names the parameters or the
 * result of an exported function is part of that function's API. The public API may have no
 * importer: the barrels (every `index.ts` under lib/) (what the README and the notebooks tell users to
 * import), and the generated `*.wasm.ts` modules (tests/wasm/wasmBuild.test.ts imports each by a
 * computed path).
 *
 *   npx tsx scripts/unused-exports.ts     # lists them, exit 1 when there is one
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Modules whose exports are a public entry point although no file here imports them. */
const PUBLIC_MODULES: RegExp[] = [
  /^lib\/(.+\/)?index\.ts$/,
  /\.wasm\.ts$/,
];

/** Folders whose modules are scanned (exports checked in the first three). */
const SCANNED = ['lib', 'bench', 'scripts', 'tests', 'bin'];
const CHECKED = ['lib/', 'bench/', 'scripts/'];

interface ModuleFacts {
  /** Names this module exports (declarations and `export { a } from`). */
  exports: Set<string>;
  /** Names this module takes from other modules: resolved file → names ('*' for all). */
  imports: Map<string, Set<string>>;
}

function walk(dir: string, out: string[]): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) walk(p, out);
    else if (e.isFile() && /\.(ts|cjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** The file a relative specifier names ('./x', './x.js', './x.wasm.js', './dir/index'), or null. */
function resolveSpecifier(fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return fs.realpathSync(c);
  return null;
}

function addImport(facts: ModuleFacts, file: string | null, name: string): void {
  if (!file) return;
  let names = facts.imports.get(file);
  if (!names) facts.imports.set(file, (names = new Set()));
  names.add(name);
}

function hasExportModifier(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** Exports and imports of one TypeScript source (fileName: where relative specifiers resolve from). */
function moduleFacts(fileName: string, text: string): ModuleFacts {
  const facts: ModuleFacts = { exports: new Set(), imports: new Map() };
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const target = resolveSpecifier(fileName, node.moduleSpecifier.text);
      const clause = node.importClause;
      if (!clause) addImport(facts, target, '*');
      else {
        if (clause.name) addImport(facts, target, 'default');
        const bindings = clause.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) addImport(facts, target, '*');
        if (bindings && ts.isNamedImports(bindings)) {
          for (const el of bindings.elements) addImport(facts, target, (el.propertyName ?? el.name).text);
        }
      }
    } else if (ts.isExportDeclaration(node)) {
      const target = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
        ? resolveSpecifier(fileName, node.moduleSpecifier.text) : null;
      if (!node.exportClause) addImport(facts, target, '*');
      else if (ts.isNamedExports(node.exportClause)) {
        for (const el of node.exportClause.elements) {
          facts.exports.add(el.name.text);
          if (target) addImport(facts, target, (el.propertyName ?? el.name).text);
        }
      }
    } else if (ts.isExportAssignment(node)) {
      facts.exports.add('default');
    } else if (hasExportModifier(node)) {
      if (ts.isVariableStatement(node)) {
        for (const d of node.declarationList.declarations) if (ts.isIdentifier(d.name)) facts.exports.add(d.name.text);
      } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isEnumDeclaration(node)) && node.name) {
        facts.exports.add(node.name.text);
      }
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1 && ts.isStringLiteralLike(node.arguments[0])
      && (node.expression.kind === ts.SyntaxKind.ImportKeyword
        || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      addImport(facts, resolveSpecifier(fileName, node.arguments[0].text), '*');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return facts;
}

/** The code cells of the committed notebooks, as one source per notebook (imports resolve from notebooks/). */
function notebookSources(root: string): Array<{ fileName: string; text: string }> {
  const dir = path.join(root, 'notebooks');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).map((f) => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { cells: { cell_type: string; source: string | string[] }[] };
    const text = nb.cells.filter((c) => c.cell_type === 'code')
      .map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n;\n');
    return { fileName: path.join(dir, f.replace(/\.ipynb$/, '.ts')), text };
  });
}

/** `file: name` for every export of lib/, bench/, scripts/ that no scanned module imports. */
export function unusedExports(root: string): string[] {
  const rootReal = fs.realpathSync(root);
  const files = SCANNED.flatMap((d) => walk(path.join(rootReal, d), []));
  const facts = new Map<string, ModuleFacts>();
  for (const f of files) facts.set(f, moduleFacts(f, fs.readFileSync(f, 'utf8')));
  const importers = [...facts.values(), ...notebookSources(rootReal).map((s) => moduleFacts(s.fileName, s.text))];
  const used = new Map<string, Set<string>>();
  for (const m of importers) {
    for (const [file, names] of m.imports) {
      let u = used.get(file);
      if (!u) used.set(file, (u = new Set()));
      for (const n of names) u.add(n);
    }
  }
  const out: string[] = [];
  for (const [file, m] of facts) {
    const rel = path.relative(rootReal, file).split(path.sep).join('/');
    if (!CHECKED.some((d) => rel.startsWith(d)) || PUBLIC_MODULES.some((re) => re.test(rel))) continue;
    const u = used.get(file);
    if (u?.has('*')) continue;
    for (const name of m.exports) if (!u?.has(name)) out.push(`${rel}: ${name}`);
  }
  return out.sort();
}

if (require.main === module) {
  const unused = unusedExports(path.resolve(__dirname, '..'));
  for (const u of unused) console.log(u);
  console.error(`${unused.length} export(s) that nothing imports`);
  process.exitCode = unused.length === 0 ? 0 : 1;
}
