// Public API of @rlhfjs/dist: explicit named exports only.
export {};
