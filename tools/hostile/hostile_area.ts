/**
 * One area of the hostile-input suite: a deterministic list of generated cases (files a careless or hostile user
 * could hand rlhfjs) and the way a user's program reads them. Add an area by writing one file under `areas/` and
 * listing it in `areas/index.ts`.
 */

/** What a correct reader does with the case: refuse it with a typed error, accept it, or either (a mutation that may stay valid). */
export type Expectation = 'refuse' | 'accept' | 'either';

export interface HostileCase {
  readonly name: string;
  readonly expect: Expectation;
  /** The files of the case, written into a fresh directory before `attempt` runs. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
}

export interface HostileArea {
  readonly name: string;
  /** A case of this area that reports nothing for this long is a hang (when shorter than the runner's timeout). */
  readonly timeoutMs?: number;
  /** Every case of the area; the same list for the same seed (the runner and its child processes both build it). */
  cases(seed: number): HostileCase[];
  /**
   * Reads the case's directory as a user's program would and throws when it refuses it. When it accepts, returns
   * what an independent check found wrong in what was read (an empty list when nothing was lost or changed).
   */
  attempt(directory: string, hostileCase: HostileCase): Promise<string[]>;
}

/** What became of one case. `lost`: accepted, but what was read is not what the files hold (or a hostile case was taken silently). */
export type CaseOutcome = 'typed' | 'accepted' | 'refused_valid' | 'crash' | 'hang' | 'lost';

export interface CaseResult {
  readonly index: number;
  readonly name: string;
  readonly outcome: CaseOutcome;
  readonly detail: string;
}

/** Marks the child's report lines on stdout (anything else there is ignored). */
export const REPORT_PREFIX = '@@hostile ';
