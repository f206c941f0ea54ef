import type { EnvironmentDescriptor } from '../environment.ts';

export interface AcquireOptions {
  /** The process whose exit ends an ephemeral cluster (Vitest's main process). */
  ownerPid?: number;
  log?: (line: string) => void;
}

export interface AcquiredEnvironment {
  descriptor: EnvironmentDescriptor;
  /** Stops what this acquisition started (nothing, when it reused a running cluster). */
  release(): Promise<void>;
}
