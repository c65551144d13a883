/**
 * The one error hierarchy of rlhfjs. Every error carries a stable `code` (for programs) and a message that names
 * the function, the argument and the offending values (for people). `cause` keeps the underlying error.
 */
export class RlhfError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** Invalid options; `problems` lists every problem found, not only the first. */
export class ConfigError extends RlhfError {
  readonly problems: readonly string[];

  constructor(where: string, problems: readonly string[], options?: { cause?: unknown }) {
    super('CONFIG', `${where}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`}`, options);
    this.problems = Object.freeze([...problems]);
  }
}

/** Tensor shapes that do not fit together. */
export class ShapeError extends RlhfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SHAPE', message, options);
  }
}

/** A checkpoint (safetensors, config.json, adapter, optimizer state) that cannot be read or written. */
export class CheckpointError extends RlhfError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'CHECKPOINT', message, options);
  }
}

/**
 * A malformed data record; names the file, the line (and column, for a syntax error) or, in a JSON array, the
 * element's 0-based index, and the field.
 */
export class DataError extends RlhfError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly element: number | undefined;
  readonly field: string | undefined;

  constructor(
    message: string,
    location: { file?: string; line?: number; column?: number; element?: number; field?: string } = {},
    options?: { cause?: unknown; code?: string },
  ) {
    const where = [
      location.file,
      location.line === undefined ? undefined : `line ${location.line}`,
      location.column === undefined ? undefined : `column ${location.column}`,
      location.element === undefined ? undefined : `element ${location.element}`,
      location.field === undefined ? undefined : `field "${location.field}"`,
    ]
      .filter((part) => part !== undefined)
      .join(', ');
    super(options?.code ?? 'DATA', where.length > 0 ? `${where}: ${message}` : message, options);
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.element = location.element;
    this.field = location.field;
  }
}

/** Tokenizer files that are missing or inconsistent, or ids outside the vocabulary. */
export class TokenizerError extends RlhfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TOKENIZER', message, options);
  }
}

/** A backend that was asked for and is not installed, or failed to initialise. */
export class BackendError extends RlhfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND', message, options);
  }
}

/** Training that cannot go on: a NaN or infinite loss, a diverged run. */
export class TrainingError extends RlhfError {
  readonly step: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; step?: number }) {
    super(code, message, options);
    this.step = options?.step;
  }
}

/**
 * Data-parallel failures. Codes: `PEER_LOST` (a peer closed its socket), `TIMEOUT` (a collective passed its
 * deadline), `DESYNC` (a message of another op, sequence number or size), `RENDEZVOUS` (ranks never all joined),
 * `AUTH` (a wrong shared secret), `ABORTED` (the group was aborted earlier).
 */
export class DistError extends RlhfError {
  readonly peer: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; peer?: number }) {
    super(code, message, options);
    this.peer = options?.peer;
  }
}
