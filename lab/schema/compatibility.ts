/**
 * Why a schema change breaks a reader, field by field: Avro's schema-resolution rules (the specification's
 * "Schema Resolution", which Apache Avro's `SchemaCompatibility` — the check behind Confluent's and
 * Apicurio's registries — implements), as a list of findings with their paths.
 *
 *   readerIssues(parse(newSchema), parse(oldSchema))   // BACKWARD: can the new schema read old data?
 *   // → [{ path: 'Transfer.memo', message: 'field added without a default: data written without it cannot be read' }]
 *
 * Hand-written because the registries answer only `is_compatible` (Apicurio; Confluent adds messages only
 * with `?verbose=true`) and avsc's `createResolver` throws at the first problem with a terse message
 * ("cannot read \"int\" as \"string\""): a deploy gate must name every breaking field and say why.
 * Logical types are ignored, as Avro's own check ignores them.
 */
import avro from 'avsc';

export type Level = 'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';
export const levels: Level[] = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'];

export interface Finding {
  /** Where in the reader's schema: `Record.field.nested`. */
  path: string;
  message: string;
}

/** A schema with its named types resolved (records, enums and fixed reachable by full name). */
export interface Parsed {
  root: unknown;
  names: Map<string, Named>;
}
type Named = { type: 'record' | 'error' | 'enum' | 'fixed'; name: string; fullName: string; namespace: string; aliases?: string[]; fields?: Field[]; symbols?: string[]; default?: unknown; size?: number };
type Field = { name: string; type: unknown; default?: unknown; aliases?: string[] };

const primitives = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
/** Writer type → reader types that read it (the specification's promotions). */
const promotions: Record<string, string[]> = { int: ['long', 'float', 'double'], long: ['float', 'double'], float: ['double'], string: ['bytes'], bytes: ['string'] };

/** Parses (and validates, with avsc) a schema given as JSON text or object. Throws on an invalid schema. */
export function parse(schema: string | object): Parsed {
  const json = typeof schema === 'string' ? JSON.parse(schema) : schema;
  avro.Type.forSchema(json as avro.Schema); // invalid schemas fail here, with avsc's message
  const names = new Map<string, Named>();
  const visit = (node: unknown, namespace: string): void => {
    if (Array.isArray(node)) return node.forEach((branch) => visit(branch, namespace));
    if (typeof node !== 'object' || node === null) return;
    const type = node as Record<string, unknown>;
    if (type.type === 'record' || type.type === 'error' || type.type === 'enum' || type.type === 'fixed') {
      const named = type as unknown as Named;
      const [space, fullName] = fullNameOf(String(named.name), (type.namespace as string | undefined) ?? namespace);
      names.set(fullName, { ...named, fullName, namespace: space });
      for (const field of named.fields ?? []) visit(field.type, space);
    } else if (type.type === 'array') visit(type.items, namespace);
    else if (type.type === 'map') visit(type.values, namespace);
  };
  visit(json, '');
  return { root: json, names };
}

function fullNameOf(name: string, namespace: string): [namespace: string, fullName: string] {
  if (name.includes('.')) return [name.slice(0, name.lastIndexOf('.')), name];
  return [namespace, namespace ? `${namespace}.${name}` : name];
}

/** The node a reference or definition stands for: a primitive name, a named type, or a complex type. */
function resolve(node: unknown, schema: Parsed, namespace: string): { kind: string; named?: Named; node: Record<string, unknown> | undefined; namespace: string } {
  if (typeof node === 'string') {
    if (primitives.has(node)) return { kind: node, node: undefined, namespace };
    const named = schema.names.get(fullNameOf(node, namespace)[1]) ?? schema.names.get(node);
    if (!named) throw new Error(`unknown type ${node}`);
    return { kind: named.type === 'error' ? 'record' : named.type, named, node: undefined, namespace: named.namespace };
  }
  if (Array.isArray(node)) return { kind: 'union', node: { branches: node }, namespace };
  const type = node as Record<string, unknown>;
  if (typeof type.type === 'string' && ['record', 'error', 'enum', 'fixed'].includes(type.type)) {
    const named = schema.names.get(fullNameOf(String(type.name), (type.namespace as string | undefined) ?? namespace)[1])!;
    return { kind: named.type === 'error' ? 'record' : named.type, named, node: type, namespace: named.namespace };
  }
  if (type.type === 'array' || type.type === 'map') return { kind: type.type, node: type, namespace };
  return resolve(type.type, schema, namespace); // a primitive with attributes (logicalType …)
}

/**
 * What keeps `reader` from reading data written with `writer` (empty: compatible). For BACKWARD pass the
 * new schema as reader and the old as writer; for FORWARD the other way round.
 */
export function readerIssues(reader: Parsed, writer: Parsed): Finding[] {
  const findings: Finding[] = [];
  const comparing = new Set<string>();
  const check = (r: unknown, rNs: string, w: unknown, wNs: string, path: string, out: Finding[] = findings): void => {
    const R = resolve(r, reader, rNs);
    const W = resolve(w, writer, wNs);
    if (W.kind === 'union') {
      // Every branch the writer may have written must be readable.
      for (const branch of W.node!.branches as unknown[]) check(r, rNs, branch, W.namespace, path, out);
      return;
    }
    if (R.kind === 'union') {
      const branches = R.node!.branches as unknown[];
      const readable = branches.some((branch) => {
        const trial: Finding[] = [];
        check(branch, R.namespace, w, wNs, path, trial);
        return trial.length === 0;
      });
      if (!readable) out.push({ path, message: `the reader's union ${describe(R, reader)} has no branch for the writer's ${describe(W, writer)}` });
      return;
    }
    if (R.kind !== W.kind) {
      if (!(promotions[W.kind] ?? []).includes(R.kind)) out.push({ path, message: `type changed from ${describe(W, writer)} to ${describe(R, reader)}: ${W.kind} data cannot be read as ${R.kind}` });
      return;
    }
    if (R.named && W.named) {
      const names = [R.named.fullName, ...(R.named.aliases ?? []).map((alias) => fullNameOf(alias, R.named!.namespace)[1])];
      if (!names.includes(W.named.fullName) && !names.map(short).includes(short(W.named.fullName))) {
        out.push({ path, message: `${R.kind} renamed from ${W.named.fullName} to ${R.named.fullName} without an alias` });
        return;
      }
      const pair = `${R.named.fullName}<-${W.named.fullName}`;
      if (comparing.has(pair)) return; // a recursive type, already being compared further up
      comparing.add(pair);
      try {
        compareNamed(R, W, path, out);
      } finally {
        comparing.delete(pair);
      }
      return;
    }
    switch (R.kind) {
      case 'array':
        return check(R.node!.items, R.namespace, W.node!.items, W.namespace, `${path}[]`, out);
      case 'map':
        return check(R.node!.values, R.namespace, W.node!.values, W.namespace, `${path}{}`, out);
    }
  };
  const compareNamed = (R: ReturnType<typeof resolve>, W: ReturnType<typeof resolve>, path: string, out: Finding[]): void => {
    switch (R.kind) {
      case 'record':
        for (const field of R.named!.fields ?? []) {
          const fieldPath = `${path}.${field.name}`;
          const written = W.named!.fields!.find((candidate) => candidate.name === field.name || (field.aliases ?? []).includes(candidate.name));
          if (written) check(field.type, R.namespace, written.type, W.namespace, fieldPath, out);
          else if (!('default' in field)) out.push({ path: fieldPath, message: `field ${field.name} has no default and the writer's ${W.named!.fullName} has no such field: data written without it cannot be read (give it a default)` });
        }
        return;
      case 'enum': {
        const unknown = (W.named!.symbols ?? []).filter((symbol) => !(R.named!.symbols ?? []).includes(symbol));
        if (unknown.length && R.named!.default === undefined) out.push({ path, message: `enum ${R.named!.fullName} cannot read symbol(s) ${unknown.join(', ')} the writer may write, and declares no default` });
        return;
      }
      case 'fixed':
        if (R.named!.size !== W.named!.size) out.push({ path, message: `fixed ${R.named!.fullName} size changed from ${W.named!.size} to ${R.named!.size}` });
        return;
    }
  };
  const root = resolve(reader.root, reader, '');
  check(reader.root, '', writer.root, '', root.named?.fullName.split('.').pop() ?? root.kind);
  return findings;
}

const short = (fullName: string) => fullName.split('.').pop()!;

function describe(type: ReturnType<typeof resolve>, schema: Parsed): string {
  if (type.kind === 'union') return `[${(type.node!.branches as unknown[]).map((branch) => describe(resolve(branch, schema, type.namespace), schema)).join(', ')}]`;
  return type.named ? `${type.kind} ${type.named.fullName}` : type.kind;
}

/**
 * Findings of `next` against the registered versions (oldest first) under a compatibility level; each
 * finding says which direction and which version it concerns. NONE finds nothing by definition.
 */
export function compatibilityFindings(next: Parsed, registered: Parsed[], level: Level): Array<Finding & { direction: 'new reads old' | 'old reads new'; version: number }> {
  if (level === 'NONE' || registered.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? registered.map((schema, index) => ({ schema, version: index + 1 })) : [{ schema: registered.at(-1)!, version: registered.length }];
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  return against.flatMap(({ schema, version }) => [
    ...(backward ? readerIssues(next, schema).map((finding) => ({ ...finding, direction: 'new reads old' as const, version })) : []),
    ...(forward ? readerIssues(schema, next).map((finding) => ({ ...finding, direction: 'old reads new' as const, version })) : []),
  ]);
}
