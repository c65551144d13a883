// Public API of @rlhfjs/reward: explicit named exports only.
export {};
