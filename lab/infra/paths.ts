/**
 * Where the lab keeps what it downloads and what a running cluster writes. Everything lives under
 * `.lab/` in the checkout (git-ignored) so a `rm -rf .lab` returns the machine to a clean state.
 * LAB_HOME moves it elsewhere (e.g. a bigger disk or a CI cache).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const labHome = process.env.LAB_HOME ? path.resolve(process.env.LAB_HOME) : path.join(repoRoot, '.lab');

export const installDirs = {
  bin: path.join(labHome, 'bin'),
  kafka: (version: string) => path.join(labHome, 'kafka', version),
  apicurio: (version: string) => path.join(labHome, 'apicurio', version),
  downloads: path.join(labHome, 'downloads'),
  /** The Prometheus JMX exporter java agent the brokers load (Maven Central, by `npm run setup`). */
  jmxExporter: path.join(labHome, 'jmx-exporter'),
};

/** One cluster per checkout: its data dirs, logs, pid files and the descriptor clients read. */
export const runDir = path.join(labHome, 'run');
export const runPaths = {
  root: runDir,
  descriptor: path.join(runDir, 'cluster.json'),
  pids: path.join(runDir, 'pids'),
  logs: path.join(runDir, 'logs'),
  data: (name: string) => path.join(runDir, 'data', name),
  conf: (name: string) => path.join(runDir, 'conf', name),
  log: (name: string) => path.join(runDir, 'logs', `${name}.log`),
};

/** Logs of failed starts, one dir per attempt: the run dir itself is removed, the evidence is not. */
export const keptLogsRoot = path.join(labHome, 'logs');

export const nativeInfraDir = path.join(repoRoot, 'infra', 'native');
