/**
 * `npm run setup`: everything a new machine needs, idempotently. npm dependencies are installed by the
 * npm script before this runs; this installs the native infrastructure into .lab/ unless a Docker
 * engine answers (then the containers provider is used) or LAB_PROVIDER=external.
 *
 *   Kafka + tools     Maven: mvn dependency:copy-dependencies on infra/native/pom.xml
 *   Schema registry   Maven: Apicurio Registry app distribution (tar.gz), unpacked
 *   Toxiproxy         Go module proxy: go install …/toxiproxy/v2/cmd/server@<tag>, renamed
 *   MariaDB, Redis    Debian packages (apt-get) when missing
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { installDirs, nativeInfraDir } from './paths.ts';
import { apicurioArtifact, toxiproxyModule, versions } from './versions.ts';
import { kafkaLibs } from './local/kafka.ts';
import { mariadbBinaries } from './local/mariadb.ts';
import { redisBinaries } from './local/redis.ts';
import { apicurioJar, registryJava, registryMinJava } from './local/registry.ts';
import { toxiproxyBinary } from './local/toxiproxy.ts';
import { aptInstall, dockerEngineAnswers, isRoot, MissingPrerequisiteError, requireCommand, requireJava17, which } from './prerequisites.ts';

const log = (line: string) => console.log(`[setup] ${line}`);

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): void {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...options.env }, cwd: options.cwd });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
}

/** Builds into `<dir>.partial` and renames, so an interrupted setup never leaves a half install. */
function installAtomically(dir: string, build: (tmp: string) => void): void {
  const tmp = `${dir}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  build(tmp);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
}

function timed<T>(what: string, step: () => T): T {
  const start = Date.now();
  const result = step();
  log(`${what} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  return result;
}

function installAptPackages(): void {
  const missing: string[] = [];
  if (!which(mariadbBinaries.server) || !which(mariadbBinaries.installDb)) missing.push('mariadb-server', 'mariadb-client');
  if (!which(redisBinaries)) missing.push('redis-server');
  if (missing.length === 0) return log('MariaDB and Redis: present');
  if (!isRoot()) throw new MissingPrerequisiteError(`MariaDB/Redis missing, and installing them needs root: ${aptInstall(missing.join(' '))}`);
  timed(`apt-get install ${missing.join(' ')}`, () => {
    run('apt-get', ['update', '-qq']);
    // The package's own service is not used: the lab starts mariadbd/redis-server on its own ports.
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  });
}

function installKafka(mvn: string): void {
  const marker = path.join(kafkaLibs(), `kafka_2.13-${versions.kafka}.jar`);
  if (fs.existsSync(marker)) return log(`Kafka ${versions.kafka}: present`);
  timed(`Kafka ${versions.kafka} from Maven Central`, () =>
    installAtomically(installDirs.kafka(versions.kafka), (tmp) =>
      run(mvn, ['-q', '-B', '-f', path.join(nativeInfraDir, 'pom.xml'), `-Dkafka.version=${versions.kafka}`, 'dependency:copy-dependencies', `-DoutputDirectory=${path.join(tmp, 'libs')}`]),
    ),
  );
}

function installApicurio(mvn: string): void {
  if (fs.existsSync(apicurioJar())) return log(`Apicurio Registry ${versions.apicurio}: present`);
  timed(`Apicurio Registry ${versions.apicurio} from Maven Central`, () => {
    fs.mkdirSync(installDirs.downloads, { recursive: true });
    run(mvn, ['-q', '-B', 'dependency:copy', `-Dartifact=${apicurioArtifact}`, `-DoutputDirectory=${installDirs.downloads}`]);
    const archive = path.join(installDirs.downloads, `apicurio-registry-app-${versions.apicurio}-all.tar.gz`);
    installAtomically(installDirs.apicurio(versions.apicurio), (tmp) => run('tar', ['-xzf', archive, '-C', tmp]));
    fs.rmSync(archive, { force: true });
  });
}

function installToxiproxy(go: string): void {
  const binary = toxiproxyBinary();
  if (fs.existsSync(binary)) return log(`Toxiproxy ${versions.toxiproxy}: present`);
  timed(`Toxiproxy ${versions.toxiproxy} from the Go module proxy`, () => {
    const gobin = path.join(installDirs.bin, 'gobin.partial');
    fs.rmSync(gobin, { recursive: true, force: true });
    run(go, ['install', `${toxiproxyModule}@${versions.toxiproxy}`], { env: { GOBIN: gobin, CGO_ENABLED: '0' } });
    fs.renameSync(path.join(gobin, 'server'), binary);
    fs.rmSync(gobin, { recursive: true, force: true });
  });
  execFileSync(binary, ['-version'], { stdio: 'ignore' });
}

function main(): void {
  const provider = process.env.LAB_PROVIDER;
  if (provider === 'external') return log('LAB_PROVIDER=external: nothing to install, endpoints come from LAB_* variables');
  if (provider !== 'local' && dockerEngineAnswers()) {
    return log('a Docker engine answers: the containers provider will pull images on first use (set LAB_PROVIDER=local to install natively)');
  }
  log(`installing the native infrastructure into ${path.dirname(installDirs.bin)}`);
  requireJava17();
  const mvn = requireCommand('mvn', ['mvn'], aptInstall('maven'));
  const go = requireCommand('go', ['go', '/usr/local/go/bin/go'], 'install Go 1.22+ and put it on PATH (Debian: apt-get install golang-go if its version is 1.22+)');
  installAptPackages();
  installKafka(mvn);
  installApicurio(mvn);
  installToxiproxy(go);
  if (!registryJava()) {
    throw new MissingPrerequisiteError(`the schema registry needs Java ${registryMinJava}+ (found none under JAVA21_HOME, JAVA_HOME or /usr/lib/jvm): install a JDK 21+ or set JAVA21_HOME`);
  }
  log('done: `npx lab up` starts the cluster, `npm test` runs the suites');
}

try {
  main();
} catch (error) {
  if (error instanceof MissingPrerequisiteError) {
    console.error(`[setup] missing prerequisite: ${error.message}`);
  } else {
    console.error(`[setup] failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
