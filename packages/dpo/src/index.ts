// Public API of @rlhfjs/dpo: explicit named exports only.
export {};
