/** The roles a chat message may have, as Hugging Face chat templates and TRL's conversational datasets use them. */
export const CHAT_ROLES = Object.freeze(['system', 'user', 'assistant', 'tool'] as const);

export type ChatRole = (typeof CHAT_ROLES)[number];

/** One turn of a conversation. */
export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export function isChatRole(value: unknown): value is ChatRole {
  return typeof value === 'string' && (CHAT_ROLES as readonly string[]).includes(value);
}
