/** The experiment kit: what a suite imports to declare an experiment (see experiment.ts). */
export { experiment, runArm, replayCommand, type ArmSpec, type CaseContext, type ExperimentSpec, type PropertySpec } from './experiment.ts';
export { above, atLeast, atMost, below, equals, type Expectation, type Numbers } from './expectations.ts';
export { Lives } from './lives.ts';
export { p, type Combine, type Observations, type Statistic } from './combine.ts';
export { crashAt, crashSchedule, failpointSpec, type Crash } from '../generators/faults.ts';
