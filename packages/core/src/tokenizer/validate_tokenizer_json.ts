import { TokenizerError } from '../errors/errors';

const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];

/**
 * Checks the parts of a `tokenizer.json` that `@huggingface/tokenizers` takes on trust: the model type (an unknown
 * one is silently treated as another), the vocabulary's ids (strings or negative numbers come out of `encode` as
 * ids) and the added tokens' ids. Every problem is collected into one TokenizerError naming the file and key.
 */
export function validateTokenizerJson(json: unknown, file: string): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TokenizerError(`${file}: expected a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const problems: string[] = [];
  const isId = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  const model = (json as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) {
    problems.push('key "model" must be an object');
  } else {
    const { type, vocab } = model as { type?: unknown; vocab?: unknown };
    if (type !== undefined && !MODEL_TYPES.includes(type as string)) {
      problems.push(`key "model.type" must be one of ${MODEL_TYPES.join(', ')}, got ${JSON.stringify(type) ?? String(type)}`);
    } else if (type === 'Unigram') {
      const pair = (entry: unknown): boolean => Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number';
      if (!Array.isArray(vocab) || !vocab.every(pair)) problems.push('key "model.vocab" of a Unigram model must be a list of [piece, score] pairs');
    } else if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
      problems.push('key "model.vocab" must be an object of token → id');
    } else {
      const bad = Object.entries(vocab).find(([, id]) => !isId(id));
      if (bad !== undefined) problems.push(`key "model.vocab" maps ${JSON.stringify(bad[0])} to ${JSON.stringify(bad[1]) ?? String(bad[1])}, not a non-negative integer id`);
    }
  }
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) problems.push('key "added_tokens" must be a list');
    else {
      added.forEach((token: unknown, index) => {
        const { id, content } = (typeof token === 'object' && token !== null ? token : {}) as { id?: unknown; content?: unknown };
        if (!isId(id) || typeof content !== 'string') problems.push(`key "added_tokens[${index}]" must have a non-negative integer "id" and a string "content"`);
      });
    }
  }
  if (problems.length > 0) throw new TokenizerError(`${file}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`}`);
}
