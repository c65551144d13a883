import { DataError } from '../errors/errors';
import { DATA_ERROR_CODES } from './data_error_codes';
import { detectFormat, parseRecord } from './parse_record';

function dataErrorOf(run: () => unknown): DataError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return error as DataError;
  }
  throw new Error('expected a DataError, got none');
}

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('detectFormat', () => {
  it.each([
    [{ text: 't' }, 'language_modeling'],
    [{ prompt: 'p', completion: 'c' }, 'prompt_completion'],
    [{ messages: [user('u'), assistant('a')] }, 'conversational'],
    [{ prompt: 'p', chosen: 'c', rejected: 'r' }, 'preference'],
    [{ chosen: 'c', rejected: 'r' }, 'preference'],
    [{ prompt: 'p' }, 'prompt_only'],
    [{ prompt: 'p', completion: null }, 'prompt_only'],
  ])('detects %j as %s', (record, format) => {
    expect(detectFormat(record)).toBe(format);
  });

  it('names the fields it found when it cannot tell', () => {
    const error = dataErrorOf(() => detectFormat({ question: 'q', answer: 'a' }, { file: 'f.jsonl', line: 4 }));
    expect(error.code).toBe(DATA_ERROR_CODES.unknownFormat);
    expect(error.message).toContain('f.jsonl, line 4');
    expect(error.message).toContain('question, answer');
  });

  it('rejects a record that is not an object', () => {
    expect(dataErrorOf(() => detectFormat([1, 2])).code).toBe(DATA_ERROR_CODES.wrongType);
    expect(dataErrorOf(() => detectFormat('text')).code).toBe(DATA_ERROR_CODES.wrongType);
  });
});

describe('parseRecord', () => {
  it('normalises each format into its tagged record and drops other fields', () => {
    expect(parseRecord({ text: 'hello', source: 'web' })).toEqual({
      kind: 'language_modeling',
      style: 'plain',
      text: 'hello',
    });
    expect(parseRecord({ messages: [user('u'), assistant('a')] })).toEqual({
      kind: 'conversational',
      style: 'conversational',
      messages: [user('u'), assistant('a')],
    });
    expect(parseRecord({ prompt: [user('u')], completion: [assistant('a')] })).toEqual({
      kind: 'prompt_completion',
      style: 'conversational',
      prompt: [user('u')],
      completion: [assistant('a')],
    });
    expect(parseRecord({ prompt: [user('u')] })).toEqual({
      kind: 'prompt_only',
      style: 'conversational',
      prompt: [user('u')],
    });
    expect(parseRecord({ prompt: 'p', chosen: 'c', rejected: 'r' })).toEqual({
      kind: 'preference',
      style: 'plain',
      prompt: 'p',
      chosen: 'c',
      rejected: 'r',
    });
  });

  it('returns frozen records that do not share the caller objects', () => {
    const messages = [user('u'), assistant('a')];
    const record = parseRecord({ messages });
    expect(Object.isFrozen(record)).toBe(true);
    if (record.kind !== 'conversational') throw new Error('wrong kind');
    expect(Object.isFrozen(record.messages[0])).toBe(true);
    expect(record.messages[0]).not.toBe(messages[0]);
  });

  it('extracts the implicit prompt of plain preference pairs as TRL does', () => {
    expect(parseRecord({ chosen: 'The sky is blue.', rejected: 'The sky is green.' })).toEqual({
      kind: 'preference',
      style: 'plain',
      prompt: 'The sky is',
      chosen: ' blue.',
      rejected: ' green.',
    });
  });

  it('extracts the shared leading messages of conversational pairs as the prompt', () => {
    const record = parseRecord({
      chosen: [user('Hi'), assistant('Hello!'), user('Sky?'), assistant('Blue.')],
      rejected: [user('Hi'), assistant('Hello!'), user('Sky?'), assistant('Green.')],
    });
    expect(record).toEqual({
      kind: 'preference',
      style: 'conversational',
      prompt: [user('Hi'), assistant('Hello!'), user('Sky?')],
      chosen: [assistant('Blue.')],
      rejected: [assistant('Green.')],
    });
  });

  it('rejects implicit pairs that leave an empty completion', () => {
    expect(dataErrorOf(() => parseRecord({ chosen: 'same', rejected: 'same' })).message).toContain('identical');
    expect(dataErrorOf(() => parseRecord({ chosen: 'abc', rejected: 'ab' })).code).toBe(DATA_ERROR_CODES.badValue);
    const conversation = [user('Hi'), assistant('Hello')];
    expect(dataErrorOf(() => parseRecord({ chosen: conversation, rejected: conversation.slice(0, 1) })).field).toBe(
      'chosen',
    );
  });

  it.each([
    [{ prompt: 'p', completion: 3 }, 'completion', DATA_ERROR_CODES.wrongType],
    [{ prompt: 7, completion: 'c' }, 'prompt', DATA_ERROR_CODES.wrongType],
    [{ prompt: 'p', completion: [assistant('a')] }, 'completion', DATA_ERROR_CODES.wrongType],
    [{ prompt: 'p', chosen: 'c' }, 'rejected', DATA_ERROR_CODES.missingField],
    [{ prompt: [user('u')], chosen: 'c', rejected: 'r' }, 'prompt', DATA_ERROR_CODES.wrongType],
    [{ messages: [] }, 'messages', DATA_ERROR_CODES.badValue],
    [{ messages: 'hi' }, 'messages', DATA_ERROR_CODES.wrongType],
    [{ messages: [user('u'), 'a'] }, 'messages[1]', DATA_ERROR_CODES.wrongType],
    [{ messages: [user('u'), { role: 'bot', content: 'x' }] }, 'messages[1].role', DATA_ERROR_CODES.badValue],
    [{ messages: [user('u'), { content: 'x' }] }, 'messages[1].role', DATA_ERROR_CODES.missingField],
    [{ messages: [user('u'), { role: 'assistant', content: 5 }] }, 'messages[1].content', DATA_ERROR_CODES.wrongType],
    [{ messages: [user('u'), user('v')] }, 'messages', DATA_ERROR_CODES.badValue],
    [
      { chosen: [user('u'), assistant('a')], rejected: [user('u'), { role: 'assistant' }] },
      'rejected[1].content',
      DATA_ERROR_CODES.missingField,
    ],
  ])('rejects %j at field %s', (record, field, code) => {
    const error = dataErrorOf(() => parseRecord(record, { file: 'd.jsonl', line: 9 }));
    expect([error.field, error.code, error.line, error.file]).toEqual([field, code, 9, 'd.jsonl']);
  });

  it('parses with an explicit format, requiring that format’s fields', () => {
    expect(dataErrorOf(() => parseRecord({ prompt: 'p' }, { format: 'prompt_completion' })).field).toBe('completion');
    expect(parseRecord({ text: 't', prompt: 'p' }, { format: 'prompt_only' })).toEqual({
      kind: 'prompt_only',
      style: 'plain',
      prompt: 'p',
    });
  });
});
