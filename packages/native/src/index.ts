// Public API of @rlhfjs/native: explicit named exports only.
export {};
