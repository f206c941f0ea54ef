/**
 * `npm run setup`: everything a new machine needs, idempotently. npm dependencies are installed by the
 * npm script before this runs; this installs the native infrastructure into .lab/ (the local provider
 * runs it, the containers provider's images are built from it), then the Docker engine and the images
 * (skipped with LAB_PROVIDER=local; nothing at all with LAB_PROVIDER=external).
 *
 *   Kafka + tools     Maven: mvn dependency:copy-dependencies on infra/native/pom.xml
 *   Schema registry   Maven: Apicurio Registry app distribution (tar.gz), unpacked
 *   Toxiproxy         Go module proxy: go install …/toxiproxy/v2/cmd/server@<tag>, renamed
 *   MariaDB, Redis    Debian packages (apt-get) when missing
 *   promtool          Debian's prometheus package, when missing: `npm test` checks the alert rules with it
 *   Chromium          Debian's chromium, when missing: the console's test drives it (playwright-core)
 *   Metrics stack     Debian's prometheus, prometheus-alertmanager, prometheus-mysqld-exporter and
 *                     prometheus-redis-exporter (`lab up` starts them); the JMX exporter agent for the
 *                     brokers from Maven Central (mvn dependency:copy) into .lab/jmx-exporter
 *   Docker engine     an engine that answers is used; else, as root, Debian's docker.io (and
 *                     debootstrap) installed and dockerd started here, logs in .lab/docker/ (no
 *                     systemd on these machines); not root: one line naming the command
 *   Images            lab/infra/containers/*.Dockerfile on debian:trixie, or on a base made with
 *                     debootstrap where no registry answers; skipped when their content tags exist
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { installDirs, nativeInfraDir } from './paths.ts';
import { apicurioArtifact, jmxExporterArtifact, toxiproxyModule, versions } from './versions.ts';
import { jmxAgentJar, kafkaLibs } from './local/kafka.ts';
import { observabilityBinaries, observabilityPackages } from '../observability/stack.ts';
import { mariadbBinaries } from './local/mariadb.ts';
import { redisBinaries } from './local/redis.ts';
import { apicurioJar, registryJava, registryMinJava } from './local/registry.ts';
import { toxiproxyBinary } from './local/toxiproxy.ts';
import { promtoolBinaries } from '../observability/promtool.ts';
import { findChromium } from '../report/screenshot.ts';
import { aptInstall, isRoot, MissingPrerequisiteError, requireCommand, requireJava17, which } from './prerequisites.ts';
import { engineAnswers, engineLogDir, startEngine } from './containers/engine.ts';
import { ensureImages } from './containers/images.ts';

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
  if (!which(promtoolBinaries)) missing.push('prometheus');
  if (!findChromium()) missing.push('chromium');
  observabilityPackages.forEach((name, index) => {
    if (!which(Object.values(observabilityBinaries)[index]!) && !missing.includes(name)) missing.push(name);
  });
  if (missing.length === 0) return log('MariaDB, Redis, Prometheus, Alertmanager, the exporters and Chromium: present');
  if (!isRoot()) throw new MissingPrerequisiteError(`${missing.join(', ')} missing, and installing needs root: ${aptInstall(missing.join(' '))}`);
  timed(`apt-get install ${missing.join(' ')}`, () => {
    run('apt-get', ['update', '-qq']);
    // The packages' own services are not used (and not started: no init system here): the lab starts
    // mariadbd/redis-server on its own ports.
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

function installJmxExporter(mvn: string): void {
  if (fs.existsSync(jmxAgentJar())) return log(`JMX exporter agent ${versions.jmxExporter}: present`);
  timed(`JMX exporter agent ${versions.jmxExporter} from Maven Central`, () =>
    installAtomically(installDirs.jmxExporter, (tmp) => run(mvn, ['-q', '-B', 'dependency:copy', `-Dartifact=${jmxExporterArtifact}`, `-DoutputDirectory=${tmp}`])),
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

const dockerdCandidates = ['dockerd', '/usr/sbin/dockerd', '/usr/bin/dockerd'];

/**
 * A Docker engine that answers, started here if need be. False (with one line saying how to get one)
 * when this user cannot install or start it: the local provider is then the default.
 */
async function ensureEngine(): Promise<boolean> {
  if (engineAnswers()) {
    log('Docker engine: answers');
    return true;
  }
  const missing = [...(which(dockerdCandidates) ? [] : ['docker.io']), ...(which(['debootstrap', '/usr/sbin/debootstrap']) ? [] : ['debootstrap'])];
  if (!isRoot()) {
    const install = missing.length ? `${aptInstall(missing.join(' '))} && ` : '';
    log(`no Docker engine answers, and starting one needs root: ${install}sudo dockerd --bridge=none --iptables=false & (the local provider is used meanwhile)`);
    return false;
  }
  if (missing.length > 0) {
    timed(`apt-get install ${missing.join(' ')}`, () => {
      run('apt-get', ['update', '-qq']);
      run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    });
  }
  const dockerd = which(dockerdCandidates);
  if (!dockerd) throw new MissingPrerequisiteError(`dockerd not found after installing docker.io: ${aptInstall('docker.io')}`);
  const started = Date.now();
  await startEngine(dockerd);
  log(`started dockerd (${((Date.now() - started) / 1000).toFixed(1)} s; log ${path.join(engineLogDir, 'dockerd.log')})`);
  return true;
}

async function main(): Promise<void> {
  const provider = process.env.LAB_PROVIDER;
  if (provider === 'external') return log('LAB_PROVIDER=external: nothing to install, endpoints come from LAB_* variables');
  log(`installing the native infrastructure into ${path.dirname(installDirs.bin)}`);
  requireJava17();
  const mvn = requireCommand('mvn', ['mvn'], aptInstall('maven'));
  const go = requireCommand('go', ['go', '/usr/local/go/bin/go'], 'install Go 1.22+ and put it on PATH (Debian: apt-get install golang-go if its version is 1.22+)');
  installAptPackages();
  installKafka(mvn);
  installApicurio(mvn);
  installJmxExporter(mvn);
  installToxiproxy(go);
  if (!registryJava()) {
    throw new MissingPrerequisiteError(`the schema registry needs Java ${registryMinJava}+ (found none under JAVA21_HOME, JAVA_HOME or /usr/lib/jvm): install a JDK 21+ or set JAVA21_HOME`);
  }
  if (provider === 'local') {
    log('LAB_PROVIDER=local: no Docker engine or images');
  } else if (await ensureEngine()) {
    const started = Date.now();
    ensureImages(log);
    log(`images ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  log('done: `npx lab status` names the provider runs will use, `npx lab up` starts the cluster, `npm test` runs the suites');
}

try {
  await main();
} catch (error) {
  if (error instanceof MissingPrerequisiteError) {
    console.error(`[setup] missing prerequisite: ${error.message}`);
  } else {
    console.error(`[setup] failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
