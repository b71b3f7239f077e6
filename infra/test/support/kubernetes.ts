/**
 * Validates Kubernetes objects against the API's own schemas, strictly, without a cluster.
 *
 * The schemas come from `kubernetes-models` (and `@kubernetes-models/prometheus-operator` for
 * monitoring.coreos.com), generated from the Kubernetes OpenAPI document. Each object goes
 * through two checks, both from that package:
 *
 * 1. its JSON-schema validator (`Model#validate()`, ajv): types, required fields, formats
 *    (int32, int-or-string, ...), enums;
 * 2. its TypeScript declarations, through the TypeScript compiler: the object is written out
 *    as an object literal typed as the model's interface, so an unknown field anywhere in it
 *    (`replica` for `replicas`, `contianers`) is an excess-property error. The OpenAPI
 *    schemas allow unknown fields (the API server drops them, or, since 1.27, warns), so (1)
 *    alone would let a typo through; (2) is what `kubeconform -strict` and `kubectl
 *    --validate=strict` do.
 *
 * An apiVersion/kind with no model (a typo in `kind`, an API group the packages do not
 * have) is an error too.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** API groups that are not in `kubernetes-models` itself, and the package that has them. */
const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** One object to check, with where it came from (for messages). */
export interface Located {
  source: string;
  object: KubeObject;
}

/** The module (import specifier) whose model describes `apiVersion`/`kind`, if any. */
export function modelModule(apiVersion: unknown, kind: unknown): string | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  const parts = apiVersion.split('/');
  if (parts.length > 2 || parts.some((p) => !/^[a-z0-9.-]+$/.test(p))) return undefined;
  const [group, version] = parts.length === 2 ? parts : ['', parts[0]];
  const pkg = CRD_PACKAGES[group] ?? 'kubernetes-models';
  const subpath = group ? `${group}/${version}/${kind}` : `${version}/${kind}`;
  // Both packages ship one declaration file per model: its presence is the model's.
  const declaration = path.join(ROOT, 'node_modules', pkg, `${subpath}.d.ts`);
  return existsSync(declaration) ? `${pkg}/${subpath}` : undefined;
}

/** Check 1: the package's JSON-schema validator. Returns error messages (none: valid). */
export async function schemaErrors(object: KubeObject): Promise<string[]> {
  const specifier = modelModule(object.apiVersion, object.kind);
  if (!specifier) {
    return [`no Kubernetes model for apiVersion "${object.apiVersion}", kind "${object.kind}"`];
  }
  const module = (await import(specifier)) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = module[object.kind];
  if (!Model) return [`${specifier} has no model ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/**
 * Check 2: every object as a typed object literal, compiled together in one program.
 * Returns one list of messages per object, in order; each names the path of the field.
 */
export function typeErrors(objects: Located[]): string[][] {
  const file = path.join(ROOT, '__kubernetes_manifests__.ts');
  const lines: string[] = [];
  const starts: number[] = [];
  objects.forEach(({ object }, i) => {
    const specifier = modelModule(object.apiVersion, object.kind);
    starts.push(lines.join('\n').length);
    if (!specifier) {
      lines.push(`// object ${i}: no model`);
      return;
    }
    lines.push(`import type { I${object.kind} as T${i} } from '${specifier}';`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(object, null, 2)};`);
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, ...rest) => (name === file ? source : getSourceFile(name, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const diagnostics = [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ];
  const errors: string[][] = objects.map(() => []);
  for (const diagnostic of diagnostics) {
    const start = diagnostic.start ?? 0;
    let index = starts.findIndex(
      (s, i) => start >= s && (i + 1 >= starts.length || start < starts[i + 1]),
    );
    if (index < 0) index = 0;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    errors[index].push(`${fieldPath(source, start) || '(document)'}: ${lastLine(message)}`);
  }
  return errors;
}

/** The deepest line of a chained TypeScript message: the one that names the field. */
function lastLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim());
  return lines[lines.length - 1];
}

/** `spec.template.spec.containers[0].env[2].name` for a position inside an object literal. */
function fieldPath(source: ts.SourceFile, position: number): string {
  let node: ts.Node = source;
  for (;;) {
    const child = node
      .getChildren(source)
      .find((c) => c.getStart(source) <= position && position < c.getEnd());
    if (!child) break;
    node = child;
  }
  const parts: string[] = [];
  for (let current: ts.Node | undefined = node; current; current = current.parent) {
    const parent = current.parent as ts.Node | undefined;
    if (ts.isPropertyAssignment(current)) {
      parts.unshift(current.name.getText(source).replace(/^"|"$/g, ''));
    } else if (parent && ts.isArrayLiteralExpression(parent)) {
      const at = parent.elements.indexOf(current as ts.Expression);
      if (at >= 0) parts.unshift(`[${at}]`);
    }
    if (ts.isVariableDeclaration(current)) break;
  }
  return parts.join('.').replace(/\.\[/g, '[');
}
