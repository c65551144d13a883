/** Whether the optional addon is built (required by a computed name: core does not depend on native). */
export function nativeBuilt(): boolean {
  try {
    const native = require(['@rlhfjs', 'native'].join('/')) as {
      isNativeAvailable(): boolean;
    };
    return native.isNativeAvailable();
  } catch {
    return false;
  }
}

/**
 * `describe` when @rlhfjs/native is built or under CI (which builds the addon, so there a missing addon is a
 * failure); otherwise `describe.skip` with a warning naming `what`.
 */
export function describeIfNative(what: string): jest.Describe {
  if (nativeBuilt() || process.env['CI']) return describe;
  console.warn(`[${what}] skipped: @rlhfjs/native is not built here`);
  return describe.skip;
}
