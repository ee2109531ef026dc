import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Type-checks files the way tslab compiles a notebook's imports: its own TypeScript
 * (@tslab/typescript-for-tslab, 5.0), target/lib ES2022 WITHOUT the DOM lib, ESNext modules
 * with node10 resolution, non-strict, skipLibCheck. tslab refuses to run a cell when any
 * imported file has an error, so every file of lib/ must pass this (the project's tsconfig,
 * TS 5.9 with DOM, is more permissive).
 */

interface TsModule {
  ScriptTarget: { ES2022: number };
  ModuleKind: { ESNext: number };
  ModuleResolutionKind: { Node10: number };
  createProgram(rootNames: string[], options: Record<string, unknown>): {
    getSemanticDiagnostics(): readonly Diagnostic[];
    getSyntacticDiagnostics(): readonly Diagnostic[];
    getOptionsDiagnostics(): readonly Diagnostic[];
  };
  flattenDiagnosticMessageText(text: unknown, newLine: string): string;
  version: string;
}
interface Diagnostic {
  file?: { fileName: string; getLineAndCharacterOfPosition(pos: number): { line: number; character: number } };
  start?: number;
  messageText: unknown;
}

/** Every `.ts` file (not `.d.ts`) under `dir`, recursively. */
export function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * Diagnostics of `files` under tslab's compiler settings, as "path:line:col - message" with
 * paths relative to `root`. Empty = tslab can import them.
 */
export function tslabDiagnostics(root: string, files: string[]): { typescript: string; errors: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [join(root, 'node_modules', 'tslab')] })) as TsModule;
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'],
    esModuleInterop: true,
    resolveJsonModule: true,
    experimentalDecorators: true,
    skipLibCheck: true,
    noEmit: true,
    typeRoots: [join(root, 'node_modules', '@types')],
  });
  const diags = [...program.getOptionsDiagnostics(), ...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
  const errors = diags.map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return msg;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${relative(root, d.file.fileName)}:${line + 1}:${character + 1} - ${msg}`;
  });
  return { typescript: ts.version, errors };
}

/**
 * tslab (1.0.22) rewrites a name declared in an earlier cell into a property access, but not
 * inside a shorthand property: `{ REFERENCE, QUICK }` in a later cell fails with
 * "ReferenceError: REFERENCE is not defined". Returns "cell i: `{ name }` …" for each such
 * use (`sources` = the code cells in order); write `{ name: name }` instead.
 */
export function shorthandCrossCellRefs(sources: readonly string[]): string[] {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ts = require('typescript') as typeof import('typescript');
  const declaredBefore = new Set<string>();
  const problems: string[] = [];
  sources.forEach((source, i) => {
    const file = ts.createSourceFile(`cell${i}.ts`, source, ts.ScriptTarget.ES2022, true);
    const own = new Set<string>();
    const addBinding = (name: import('typescript').BindingName) => {
      if (ts.isIdentifier(name)) own.add(name.text);
      else for (const el of name.elements) if (!ts.isOmittedExpression(el)) addBinding(el.name);
    };
    for (const st of file.statements) {
      if (ts.isVariableStatement(st)) st.declarationList.declarations.forEach((d) => addBinding(d.name));
      else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) own.add(st.name.text);
      else if (ts.isImportDeclaration(st) && st.importClause) {
        const c = st.importClause;
        if (c.name) own.add(c.name.text);
        const b = c.namedBindings;
        if (b && ts.isNamespaceImport(b)) own.add(b.name.text);
        else if (b && ts.isNamedImports(b)) b.elements.forEach((e) => own.add(e.name.text));
      }
    }
    const visit = (node: import('typescript').Node): void => {
      if (ts.isShorthandPropertyAssignment(node) && declaredBefore.has(node.name.text) && !own.has(node.name.text)) {
        problems.push(`cell ${i}: \`{ ${node.name.text} }\` refers to a name of an earlier cell: write \`{ ${node.name.text}: ${node.name.text} }\` (tslab leaves shorthand properties unresolved)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    own.forEach((n) => declaredBefore.add(n));
  });
  return problems;
}
