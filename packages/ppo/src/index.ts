// Public API of @rlhfjs/ppo: explicit named exports only.
export {};
