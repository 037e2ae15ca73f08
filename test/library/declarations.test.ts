import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

// What a TypeScript user of the package compiles: the built declarations (npm test builds first),
// under the strictest settings a project may have, without skipLibCheck hiding their errors.
const consumerOptions: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
  types: ['node'],
};

/** A user's file: compiled with the declarations, in one program (the compile takes seconds). */
const consumerSource = `
  import { openEngine, ThreadPool } from '../../dist/index.js';
  const engine = await openEngine();
  const tick = engine.task<void, number>('tick', { module: 'file:///t.mjs' });
  const maybe = engine.task<string | undefined, number>('maybe', { module: 'file:///t.mjs' });
  const needs = engine.task<string, number>('needs', { module: 'file:///t.mjs' });
  engine.enqueue(tick).result satisfies Promise<{ kind: string }>;
  engine.enqueue(maybe, undefined, { priority: 'high' });
  engine.enqueue(needs, 'a');
  engine.enqueueMany([{ task: tick }, { task: maybe }, { task: needs, input: 'a' }, { task: 'by name' }]);
  engine.enqueue(needs);
  engine.enqueue(needs, undefined);
  engine.enqueueMany([{ task: tick }, { task: needs }]);
  const pool = new ThreadPool();
  pool.run(pool.task<void, number>({ module: 'file:///t.mjs' }));
  pool.run(pool.task<string, number>({ module: 'file:///t.mjs' }));
`;
const consumerFile = join(repoRoot, 'test/library/consumer.mts');

interface TypeCheckError {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

let compiled: TypeCheckError[] | undefined;

/** The type errors of the built declarations and of `consumerSource`. */
function typeErrors(): TypeCheckError[] {
  if (compiled !== undefined) return compiled;
  const host = ts.createCompilerHost(consumerOptions);
  const { getSourceFile, fileExists } = host;
  host.fileExists = (file) => file === consumerFile || fileExists(file);
  host.getSourceFile = (file, language, ...rest) =>
    file === consumerFile
      ? ts.createSourceFile(file, consumerSource, language)
      : getSourceFile(file, language, ...rest);
  const roots = [join(repoRoot, 'dist/index.d.ts'), consumerFile];
  const program = ts.createProgram(roots, consumerOptions, host);
  compiled = ts.getPreEmitDiagnostics(program).map((diagnostic) => ({
    file: diagnostic.file?.fileName.replace(repoRoot, '') ?? '',
    line:
      diagnostic.file === undefined || diagnostic.start === undefined
        ? 0
        : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1,
    message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '),
  }));
  return compiled;
}

it('the built declarations compile in a strict project with exactOptionalPropertyTypes and no skipLibCheck', () => {
  const errors = typeErrors().filter((error) => !consumerFile.endsWith(error.file));
  expect(errors.map((error) => `${error.file}:${error.line}: ${error.message}`)).toEqual([]);
}, 60_000);

it("a user's calls leave out the input of a task whose input type accepts undefined, and only then", () => {
  const errors = typeErrors().filter((error) => consumerFile.endsWith(error.file));
  // The last four calls, and only they: a task that needs its input.
  expect(errors.map((error) => error.line)).toEqual([11, 12, 13, 16]);
  expect(errors[0]?.message).toMatch(/Expected 2-3 arguments, but got 1/);
  expect(errors[1]?.message).toMatch(/'undefined' is not assignable to parameter of type 'string'/);
  expect(errors[2]?.message).toMatch(/Property 'input' is missing/);
}, 60_000);
