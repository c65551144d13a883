/** The `code` of each DataError the data layer throws, so programs can tell problems apart. */
export const DATA_ERROR_CODES = Object.freeze({
  /** The file cannot be opened or read. */
  file: 'DATA_FILE',
  /** The file (or what survived `skipInvalid`) holds no records. */
  empty: 'DATA_EMPTY',
  /** A line or file that is not valid JSON (or not valid UTF-8). */
  badJson: 'DATA_BAD_JSON',
  /** A JSON Lines line longer than `maxLineBytes`. */
  lineTooLong: 'DATA_LINE_TOO_LONG',
  /** A `.json` file whose top level is not an array. */
  notArray: 'DATA_NOT_ARRAY',
  /** A record that does not have a field its format needs. */
  missingField: 'DATA_MISSING_FIELD',
  /** A field of the wrong JSON type. */
  wrongType: 'DATA_WRONG_TYPE',
  /** A field of the right type with a value that cannot be used (an unknown role, an empty message list). */
  badValue: 'DATA_BAD_VALUE',
  /** A record whose fields match none of the formats. */
  unknownFormat: 'DATA_UNKNOWN_FORMAT',
  /** A record whose format differs from the dataset's. */
  mixedFormat: 'DATA_MIXED_FORMAT',
  /** A record of a format the called function cannot use (a preference record given to SFT). */
  unsupportedFormat: 'DATA_UNSUPPORTED_FORMAT',
} as const);

export type DataErrorCode = (typeof DATA_ERROR_CODES)[keyof typeof DATA_ERROR_CODES];
