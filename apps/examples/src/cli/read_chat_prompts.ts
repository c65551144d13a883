import { promises as fs } from 'fs';
import { CHAT_ROLES, ConfigError, DataError, isChatRole, type ChatMessage } from '@rlhfjs/core';

/**
 * A plain-text prompt becomes one user message; a list must hold `{role, content}` messages with a chat role and
 * string content (what chat templates read). `field` names the record field in errors.
 */
function messagesOf(value: unknown, location: { file?: string; line?: number }, field: string): readonly ChatMessage[] {
  if (typeof value === 'string') return [{ role: 'user', content: value }];
  const at = { ...location, field };
  if (!Array.isArray(value) || value.length === 0) throw new DataError(`expected a non-empty list of {"role", "content"} messages, got ${JSON.stringify(value)?.slice(0, 60)}`, at);
  return value.map((item: unknown, index): ChatMessage => {
    const message = item as { role?: unknown; content?: unknown } | null;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new DataError(`message ${index} is not an object`, at);
    if (!isChatRole(message.role)) throw new DataError(`message ${index} has role ${JSON.stringify(message.role)}; expected one of ${CHAT_ROLES.join(', ')}`, at);
    if (typeof message.content !== 'string') throw new DataError(`message ${index} needs a string "content", got ${JSON.stringify(message.content)}`, at);
    return { role: message.role, content: message.content };
  });
}

/**
 * `generate --chat --prompt <text>`: a JSON list of messages (`[{"role": "user", "content": "Hi"}]`), or plain
 * text, which is one user message. Text that starts with `[` or `{` must be valid JSON messages.
 */
export function parseChatPrompt(text: string): readonly ChatMessage[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) return messagesOf(text, {}, 'prompt');
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    throw new ConfigError('--prompt', [`with --chat, a prompt starting with [ or { must be a JSON list of messages: ${(error as Error).message}`]);
  }
  if (!Array.isArray(value)) throw new ConfigError('--prompt', [`with --chat, expected a JSON list of {"role", "content"} messages, got ${trimmed.slice(0, 40)}`]);
  try {
    return messagesOf(value, {}, 'prompt');
  } catch (error) {
    throw new ConfigError('--prompt', [`with --chat: ${(error as Error).message}`]);
  }
}

/**
 * `generate --chat --prompts-file <file.jsonl>`: one conversation a line, as `{"messages": [...]}` or TRL's
 * conversational prompt `{"prompt": [...]}` (a string `prompt` is one user message).
 */
export async function readChatPrompts(file: string): Promise<(readonly ChatMessage[])[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new DataError(`cannot read prompts: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { file }, { code: 'DATA_READ' });
  }
  if (!/\.jsonl?$/i.test(file)) throw new DataError('with --chat, the prompts file must be JSON Lines (.jsonl) of {"messages": [...]} or {"prompt": [...]}', { file });
  const conversations: (readonly ChatMessage[])[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const location = { file, line: index + 1 };
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new DataError('is not valid JSON', location);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new DataError('expected a JSON object with "messages" or "prompt"', location);
    const fields = record as { messages?: unknown; prompt?: unknown };
    if (fields.messages !== undefined) conversations.push(messagesOf(fields.messages, location, 'messages'));
    else if (fields.prompt !== undefined) conversations.push(messagesOf(fields.prompt, location, 'prompt'));
    else throw new DataError('needs "messages" (a list of messages) or "prompt"', { ...location, field: 'messages' });
  });
  return conversations;
}
