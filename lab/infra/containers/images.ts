/**
 * The containers provider's images, built here from the Dockerfiles beside this file: no registry is
 * reachable on the lab's machines, and the image contents must be the very jars and binaries the
 * local provider runs (resolved by `npm run setup` into .lab/).
 *
 * - Base: `debian:trixie` when the engine has it or can pull it (GitHub's runners), else
 *   `lab/debian-base:trixie`, made once with debootstrap from the machine's Debian mirror and
 *   `docker import`.
 * - Each component image is tagged with a hash of its Dockerfile, the base image id and every file of
 *   its build context, so an unchanged image is never rebuilt and a changed input always is.
 */
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDirs, labHome, nativeInfraDir } from '../paths.ts';
import { versions } from '../versions.ts';
import { jmxAgentJar, kafkaLibs } from '../local/kafka.ts';
import { toxiproxyBinary } from '../local/toxiproxy.ts';
import { docker } from './engine.ts';
import type { PathMap } from './placement.ts';
import type { ImagesState } from '../providers/choice.ts';

export type ImageName = 'kafka' | 'registry' | 'mariadb' | 'redis' | 'toxiproxy' | 'observability';
export const imageNames: ImageName[] = ['kafka', 'registry', 'mariadb', 'redis', 'toxiproxy', 'observability'];

export const officialBase = 'debian:trixie';
export const localBase = 'lab/debian-base:trixie';
const dockerfileDir = path.dirname(fileURLToPath(import.meta.url));
const contextRoot = path.join(labHome, 'images');

/** Where the image keeps what the host has under .lab/ (see the Dockerfiles' COPY lines). */
export const imageDirs = {
  kafkaLibs: '/opt/kafka/libs',
  nativeInfra: '/opt/lab/native',
  apicurio: '/opt/apicurio',
  toxiproxy: '/usr/local/bin/lab-toxiproxy-server',
  jmxExporter: '/opt/lab/jmx-exporter',
};

/** Host install paths → image paths, for rewriting the local command lines. */
export function imagePathMap(): PathMap {
  return [
    [kafkaLibs(), imageDirs.kafkaLibs],
    [nativeInfraDir, imageDirs.nativeInfra],
    [installDirs.apicurio(versions.apicurio), imageDirs.apicurio],
    [toxiproxyBinary(), imageDirs.toxiproxy],
    [installDirs.jmxExporter, imageDirs.jmxExporter],
  ];
}

/** The binaries as the images install them (Debian's packages), in place of the host's. */
export const imageTools = {
  mariadbd: '/usr/sbin/mariadbd',
  mariadbInstallDb: '/usr/bin/mariadb-install-db',
  mariadbClient: 'mariadb',
  redisServer: '/usr/bin/redis-server',
  redisCli: '/usr/bin/redis-cli',
  registryJava: 'java',
  apicurioVersion: versions.apicurio,
  // Debian's packages in the observability image.
  prometheus: '/usr/bin/prometheus',
  alertmanager: '/usr/bin/prometheus-alertmanager',
  mysqldExporter: '/usr/bin/prometheus-mysqld-exporter',
  redisExporter: '/usr/bin/prometheus-redis-exporter',
};

/** Which image runs a process of the local cluster (its one-shot steps included). */
export function imageFor(processName: string): ImageName {
  // First: 'mysqld-exporter' would match the mariadb image's prefix. The lab exporter is a Node process
  // of the checkout and runs natively, as the services do.
  if (['prometheus', 'alertmanager', 'mysqld-exporter', 'redis-exporter'].includes(processName)) return 'observability';
  if (processName === 'controller' || /^broker-\d+/.test(processName) || processName.startsWith('controller-')) return 'kafka';
  if (processName === 'registry') return 'registry';
  if (processName.startsWith('mysql')) return 'mariadb';
  // The single Redis, Redis Cluster's nodes and the step that joins them (redis-cli).
  if (processName === 'redis' || processName.startsWith('redis-cluster-')) return 'redis';
  if (processName === 'toxiproxy') return 'toxiproxy';
  throw new Error(`no image for process '${processName}'`);
}

/** A build context: files or directories copied to a path inside the context. */
export interface ContextEntry {
  from: string;
  to: string;
}

export function contextEntries(name: ImageName): ContextEntry[] {
  switch (name) {
    case 'kafka':
      return [
        { from: kafkaLibs(), to: 'libs' },
        { from: path.join(nativeInfraDir, 'log4j2.properties'), to: 'log4j2.properties' },
        { from: jmxAgentJar(), to: path.basename(jmxAgentJar()) },
      ];
    case 'registry':
      return [{ from: installDirs.apicurio(versions.apicurio), to: 'apicurio' }];
    case 'toxiproxy':
      return [{ from: toxiproxyBinary(), to: 'lab-toxiproxy-server' }];
    case 'mariadb':
    case 'redis':
    case 'observability':
      return [];
  }
}

export function dockerfilePath(name: ImageName): string {
  return path.join(dockerfileDir, `${name}.Dockerfile`);
}

/**
 * `lab/<name>:<hash>`: sha256 over the Dockerfile, the base image id and each context file's path and
 * content digest (sorted), first 16 hex digits.
 */
export function imageTag(name: ImageName, dockerfile: string, baseId: string, files: Array<[relativePath: string, digest: string]>): string {
  const hash = crypto.createHash('sha256').update(`${dockerfile}\0${baseId}\0`);
  for (const [file, digest] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`${file}\0${digest}\0`);
  return `lab/${name}:${hash.digest('hex').slice(0, 16)}`;
}

/** The Debian mirror of this machine's apt sources (one-line or deb822 format); deb.debian.org else. */
export function debianMirror(sources: string[]): string {
  for (const text of sources) {
    for (const line of text.split('\n')) {
      const oneLine = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
      const deb822 = /^\s*URIs:\s*(\S+)/.exec(line);
      const uri = (oneLine ?? deb822)?.[1];
      if (uri && /\/debian\/?$/.test(uri)) return uri.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

function filesUnder(entry: ContextEntry): Array<{ file: string; relative: string }> {
  if (!fs.existsSync(entry.from)) throw new Error(`${entry.from} is missing: run \`npm run setup\``);
  if (!fs.statSync(entry.from).isDirectory()) return [{ file: entry.from, relative: entry.to }];
  return (fs.readdirSync(entry.from, { recursive: true }) as string[])
    .map((relative) => ({ file: path.join(entry.from, relative), relative: path.join(entry.to, relative) }))
    .filter(({ file }) => fs.statSync(file).isFile());
}

const digests = new Map<string, string>();
function digest(file: string): string {
  const stat = fs.statSync(file);
  const key = `${file}\0${stat.size}\0${stat.mtimeMs}`;
  let value = digests.get(key);
  if (!value) {
    value = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    digests.set(key, value);
  }
  return value;
}

function imageId(reference: string): string | undefined {
  try {
    return docker(['image', 'inspect', '--format', '{{.Id}}', reference], { timeoutMs: 30_000 });
  } catch {
    return undefined;
  }
}

/** The base image to build on, if the engine already has one. */
export function presentBase(): { reference: string; id: string } | undefined {
  for (const reference of [process.env.LAB_IMAGE_BASE, officialBase, localBase]) {
    if (!reference) continue;
    const id = imageId(reference);
    if (id) return { reference, id };
  }
  return undefined;
}

function tagsFor(baseId: string): Record<ImageName, string> {
  return Object.fromEntries(
    imageNames.map((name) => {
      const files = contextEntries(name).flatMap(filesUnder).map(({ file, relative }): [string, string] => [relative, digest(file)]);
      return [name, imageTag(name, fs.readFileSync(dockerfilePath(name), 'utf8'), baseId, files)];
    }),
  ) as Record<ImageName, string>;
}

/** The component images' tags when every one of them is built, else undefined. */
export function builtImages(): Record<ImageName, string> | undefined {
  const base = presentBase();
  if (!base) return undefined;
  try {
    const tags = tagsFor(base.id);
    return Object.values(tags).every((tag) => imageId(tag) !== undefined) ? tags : undefined;
  } catch {
    return undefined; // a context file is missing: setup has not run
  }
}

function run(command: string, args: string[], what: string, env: NodeJS.ProcessEnv = {}): void {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 << 20 });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${(result.stdout ?? '').slice(-3000)}${(result.stderr ?? '').slice(-3000)}`);
}

function timed<T>(log: (line: string) => void, what: string, step: () => T): T {
  const started = Date.now();
  const result = step();
  log(`${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

/** The base: present, else pulled (where a registry answers), else debootstrap + docker import. */
export function ensureBase(log: (line: string) => void): { reference: string; id: string } {
  const present = presentBase();
  if (present) return present;
  const pullStarted = Date.now();
  try {
    timed(log, `pulled ${officialBase}`, () => docker(['pull', officialBase], { timeoutMs: 60_000 }));
    const id = imageId(officialBase);
    if (id) return { reference: officialBase, id };
  } catch {
    const seconds = ((Date.now() - pullStarted) / 1000).toFixed(1);
    log(`${officialBase} cannot be pulled (no registry answers; gave up after ${seconds} s): building ${localBase} with debootstrap`);
  }
  const sources = ['/etc/apt/sources.list', ...(fs.existsSync('/etc/apt/sources.list.d') ? fs.readdirSync('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f)) : [])]
    .filter((file) => fs.existsSync(file) && fs.statSync(file).isFile())
    .map((file) => fs.readFileSync(file, 'utf8'));
  const mirror = debianMirror(sources);
  const rootfs = path.join(contextRoot, 'debian-rootfs');
  timed(log, `${localBase}: debootstrap trixie from ${mirror} and docker import`, () => {
    fs.rmSync(rootfs, { recursive: true, force: true });
    fs.mkdirSync(contextRoot, { recursive: true });
    try {
      run('debootstrap', ['--variant=minbase', 'trixie', rootfs, mirror], 'debootstrap');
      run('sh', ['-c', `tar -C "$0" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$1"`, rootfs, localBase], 'docker import');
    } finally {
      fs.rmSync(rootfs, { recursive: true, force: true });
    }
  });
  const id = imageId(localBase);
  if (!id) throw new Error(`${localBase} was imported but the engine does not list it`);
  return { reference: localBase, id };
}

/** Materialises a build context under .lab/images/context/<name> (hard links where possible). */
function prepareContext(name: ImageName): string {
  const dir = path.join(contextRoot, 'context', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of contextEntries(name)) {
    for (const { file, relative } of filesUnder(entry)) {
      const target = path.join(dir, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      try {
        fs.linkSync(file, target);
      } catch {
        fs.copyFileSync(file, target);
      }
    }
  }
  return dir;
}

/** Every component image, built when missing (idempotent); returns their tags. */
export function ensureImages(log: (line: string) => void): Record<ImageName, string> {
  const base = ensureBase(log);
  const tags = tagsFor(base.id);
  for (const name of imageNames) {
    const tag = tags[name];
    if (imageId(tag)) {
      log(`image ${tag}: present`);
      continue;
    }
    timed(log, `built ${tag} on ${base.reference}`, () => {
      const context = prepareContext(name);
      try {
        // The legacy builder: the Debian engine has no BuildKit plugin. RUN steps use the host network
        // (apt reaches the mirror; no bridge exists).
        run('docker', ['build', '--quiet', '--network', 'host', '--build-arg', `BASE=${base.reference}`, '--label', `lab.image=${name}`, '-f', dockerfilePath(name), '-t', tag, context], `docker build ${name}`, { DOCKER_BUILDKIT: '0' });
      } finally {
        fs.rmSync(context, { recursive: true, force: true });
      }
    });
  }
  return tags;
}

/** Whether the containers provider can run: images built, or everything needed to build them here. */
export function imagesState(canDebootstrap: () => boolean): ImagesState {
  if (builtImages()) return { usable: true, how: 'built' };
  for (const name of imageNames) {
    for (const entry of contextEntries(name)) {
      if (!fs.existsSync(entry.from)) return { usable: false, why: `${entry.from} is missing (run \`npm run setup\`)` };
    }
  }
  if (presentBase() || canDebootstrap()) return { usable: true, how: 'buildable' };
  return { usable: false, why: `no base image (${officialBase} or ${localBase}) and no debootstrap to make one` };
}
