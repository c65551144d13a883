// Public API of @rlhfjs/lora: explicit named exports only.
export {};
