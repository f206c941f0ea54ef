/**
 * `npx lab schema check | diff | register`: the schema gate a CI runs before a deploy. It compares the
 * Avro schemas in the repo with what a Confluent-API registry holds for their subjects (the lab's, or any
 * other: `--registry URL` or LAB_SCHEMA_REGISTRY_URL), under each subject's compatibility level or the
 * one given with `--level`, and says field by field why a change would break a reader.
 *
 *   npx lab schema check                          # fixtures/avro/subjects.json: subject → schema file
 *   npx lab schema check orders-value=orders.avsc --level FULL --registry http://registry:8081
 *
 * Exit codes: 0 compatible (or a new subject), 1 a breaking change (each finding printed), 2 the gate
 * could not decide (registry unreachable, invalid schema, bad arguments) — CI must not read 2 as "safe".
 *
 * The verdict is computed here (compatibility.ts) and the registry's own check is printed next to it:
 * Apicurio answers only `is_compatible`, and assumes BACKWARD for a subject without a rule while its
 * registration then enforces nothing (Confluent's default level is BACKWARD), so a subject without a
 * level is checked under BACKWARD and the output says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compatibilityFindings, levels, parse, type Level, type Parsed } from './compatibility.ts';

export const defaultManifest = 'fixtures/avro/subjects.json';

export class GateError extends Error {}

/** The Confluent schema-registry API calls the gate (and E-006, E-015) make: plain fetch, GETs, POSTs and one PUT. */
export class RegistryApi {
  constructor(readonly url: string) {}

  private async call(method: 'GET' | 'POST' | 'PUT', route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${this.url.replace(/\/$/, '')}${route}`, {
        method,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/vnd.schemaregistry.v1+json, application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new GateError(`schema registry at ${this.url} is unreachable: ${(error as Error).cause ?? (error as Error).message}`);
    }
    const text = await response.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: keep the text for the message */
    }
    if (response.status >= 500) throw new GateError(`schema registry at ${this.url} answered ${response.status} to ${method} ${route}: ${text.slice(0, 300)}`);
    return { status: response.status, json };
  }

  /** Every registered version of a subject, oldest first; [] for an unknown subject. */
  async versions(subject: string): Promise<string[]> {
    const listed = await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
    if (listed.status === 404) return [];
    if (listed.status !== 200) throw new GateError(`listing ${subject}: HTTP ${listed.status} ${JSON.stringify(listed.json)}`);
    const schemas: string[] = [];
    for (const version of listed.json as number[]) {
      const { json } = await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/${version}`);
      schemas.push((json as { schema: string }).schema);
    }
    return schemas;
  }

  /**
   * The level the registry enforces for the subject: its own, else the global one (`defaultToGlobal`:
   * Apicurio 3.3 answers a plain GET /config/{subject} with NONE for a subject without its own level even
   * while it enforces the global BACKWARD on registration; Confluent answers 404 there). Undefined: none.
   */
  async level(subject: string): Promise<Level | undefined> {
    for (const route of [`/config/${encodeURIComponent(subject)}?defaultToGlobal=true`, '/config']) {
      const { status, json } = await this.call('GET', route);
      const level = (json as { compatibilityLevel?: string; compatibility?: string } | undefined)?.compatibilityLevel ?? (json as { compatibility?: string })?.compatibility;
      if (status === 200 && level && levels.includes(level as Level)) return level as Level;
    }
    return undefined;
  }

  /** The registry's own verdict on the latest version (undefined when it has no check to give). */
  async compatible(subject: string, schema: string): Promise<boolean | undefined> {
    const { status, json } = await this.call('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, { schema });
    return status === 200 ? (json as { is_compatible: boolean }).is_compatible : undefined;
  }

  /** Sets the subject's own compatibility level (PUT /config/{subject}), as an operator does. */
  async setLevel(subject: string, level: Level): Promise<void> {
    const { status, json } = await this.call('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    if (status !== 200) throw new GateError(`setting ${subject}'s level to ${level}: HTTP ${status} ${JSON.stringify(json)}`);
  }

  async register(subject: string, schema: string): Promise<{ id?: number; rejected?: string }> {
    const { status, json } = await this.call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });
    if (status === 200) return { id: (json as { id: number }).id };
    return { rejected: `HTTP ${status}: ${(json as { message?: string })?.message ?? JSON.stringify(json)}` };
  }
}

export interface Target {
  subject: string;
  file: string;
}

/** `subject=file` arguments, or the manifest's subjects (paths relative to the manifest). */
export function targets(args: string[], root: string, manifest = path.join(root, defaultManifest)): Target[] {
  if (args.length > 0) {
    return args.map((arg) => {
      const [subject, file] = arg.split('=');
      if (!subject || !file) throw new GateError(`'${arg}' is not subject=schema-file (e.g. wallet.events-value=fixtures/avro/wallet-event-envelope.avsc)`);
      return { subject, file: path.resolve(root, file) };
    });
  }
  if (!fs.existsSync(manifest)) throw new GateError(`no schemas given and no ${path.relative(root, manifest)}: pass subject=schema-file arguments`);
  const entries = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Record<string, string>;
  return Object.entries(entries).map(([subject, file]) => ({ subject, file: path.resolve(path.dirname(manifest), file) }));
}

function load(file: string): { text: string; parsed: Parsed } {
  if (!fs.existsSync(file)) throw new GateError(`schema file ${file} does not exist`);
  const text = fs.readFileSync(file, 'utf8');
  try {
    return { text: JSON.stringify(JSON.parse(text)), parsed: parse(text) };
  } catch (error) {
    throw new GateError(`${file} is not a valid Avro schema: ${(error as Error).message}`);
  }
}

/** `schema check`: 0 every subject compatible, 1 a breaking change; the report's lines through `say`. */
export async function check(registry: RegistryApi, list: Target[], say: (line: string) => void, forced?: Level): Promise<number> {
  let breaking = 0;
  for (const { subject, file } of list) {
    const local = load(file);
    const registered = (await registry.versions(subject)).map((schema) => parse(schema));
    if (registered.length === 0) {
      say(`✓ ${subject}: not registered yet, nothing to break (${path.basename(file)} becomes version 1)`);
      continue;
    }
    const set = forced ?? (await registry.level(subject));
    const level = set ?? 'BACKWARD';
    if (level === 'NONE') say(`! ${subject}: its level is NONE, so the registry accepts any change and nothing is checked (Apicurio's default global level is NONE; pass --level BACKWARD to check anyway)`);
    const findings = compatibilityFindings(local.parsed, registered, level);
    const registrySays = await registry.compatible(subject, local.text);
    const levelText = forced ? `${level} (--level)` : set ? level : 'BACKWARD (no level set on the subject or the registry; Confluent\'s default)';
    const verdictOfRegistry = registrySays === undefined ? 'registry gave no verdict' : `registry says ${registrySays ? 'compatible' : 'incompatible'} under its own level`;
    if (findings.length === 0 && registrySays === false) {
      // Registration would be refused: fail, and say the two checks disagree (a finding in itself).
      breaking += 1;
      say(`✗ ${subject}: ${path.basename(file)} passes this gate's check under ${levelText}, but the registry's own check refuses it (the two disagree: compare the registry's level and rules)`);
      continue;
    }
    if (findings.length === 0) {
      say(`✓ ${subject}: ${path.basename(file)} is compatible with ${registered.length} registered version(s) under ${levelText}; ${verdictOfRegistry}`);
      continue;
    }
    breaking += 1;
    say(`✗ ${subject}: ${path.basename(file)} breaks ${levelText} (${findings.length} finding(s); ${verdictOfRegistry})`);
    for (const finding of findings) say(`    ${finding.path}: ${finding.message} [${finding.direction === 'new reads old' ? 'consumers on the new schema reading' : 'consumers still on'} version ${finding.version}${finding.direction === 'new reads old' ? "'s data" : ''}]`);
  }
  return breaking > 0 ? 1 : 0;
}

/** `schema diff`: the fields added, removed or changed against the latest registered version. */
export async function diff(registry: RegistryApi, list: Target[], say: (line: string) => void): Promise<number> {
  for (const { subject, file } of list) {
    const local = fieldTypes(JSON.parse(load(file).text));
    const latest = (await registry.versions(subject)).at(-1);
    if (!latest) {
      say(`${subject}: not registered`);
      continue;
    }
    const remote = fieldTypes(JSON.parse(latest));
    say(`${subject}: ${path.basename(file)} against the latest registered version`);
    let changes = 0;
    for (const [field, type] of local) if (!remote.has(field)) (changes += 1), say(`  + ${field}: ${type}`);
    for (const [field, type] of remote) if (!local.has(field)) (changes += 1), say(`  - ${field}: ${type}`);
    for (const [field, type] of local) if (remote.has(field) && remote.get(field) !== type) (changes += 1), say(`  ~ ${field}: ${remote.get(field)} → ${type}`);
    if (changes === 0) say('  (no field changes)');
  }
  return 0;
}

/** `schema register`: registers each schema; 1 if the registry rejected one (its reason printed). */
export async function register(registry: RegistryApi, list: Target[], say: (line: string) => void): Promise<number> {
  let rejected = 0;
  for (const { subject, file } of list) {
    const result = await registry.register(subject, load(file).text);
    if (result.id !== undefined) say(`✓ ${subject}: registered ${path.basename(file)} as schema id ${result.id}`);
    else (rejected += 1), say(`✗ ${subject}: the registry rejected ${path.basename(file)}: ${result.rejected}`);
  }
  return rejected > 0 ? 1 : 0;
}

/** Field path → its type as JSON (records' fields, recursively), for `diff`. */
function fieldTypes(schema: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  const node = schema as { type?: unknown; name?: string; fields?: Array<{ name: string; type: unknown; default?: unknown }> };
  if (node && typeof node === 'object' && node.type === 'record') {
    for (const field of node.fields ?? []) {
      const name = prefix ? `${prefix}.${field.name}` : field.name;
      out.set(name, `${JSON.stringify(field.type).slice(0, 120)}${'default' in field ? ` (default ${JSON.stringify(field.default)})` : ''}`);
      for (const branch of Array.isArray(field.type) ? field.type : [field.type]) fieldTypes(branch, name, out);
    }
  }
  return out;
}
