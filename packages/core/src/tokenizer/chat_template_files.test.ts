import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TokenizerError } from '../errors/errors';
import { CHAT_TEMPLATE_FILE, selectChatTemplate } from './chat_template_files';
import { loadTokenizer, Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train_bpe';

// Fixture: tools/golden/hub_checkpoints.py renders chat_template.jinja with jinja2 as transformers does.
const FIXTURE = path.join(__dirname, '..', '..', 'test', 'fixtures', 'hub', 'chat_template');

interface Expected {
  messages: { role: string; content: string }[];
  specialTokens: Record<string, string>;
  rendered: { withGenerationPrompt: string; withoutGenerationPrompt: string };
  badRolesError: string;
}

describe('chat template files', () => {
  let root: string;
  let expected: Expected;
  let tokenizerJson: unknown;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-chat-template-'));
    expected = JSON.parse(await fs.readFile(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
    tokenizerJson = trainByteLevelBpe(['hello world', 'chat template'], { vocabSize: 300, specialTokens: Object.values(expected.specialTokens) });
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  /** A tokenizer directory whose template is only in chat_template.jinja (as transformers 5 saves it). */
  async function jinjaOnlyDirectory(name: string, config: Record<string, unknown> = {}): Promise<string> {
    const directory = path.join(root, name);
    await fs.mkdir(directory, { recursive: true });
    await fs.writeFile(path.join(directory, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    await fs.writeFile(path.join(directory, 'tokenizer_config.json'), JSON.stringify({ ...expected.specialTokens, ...config }));
    await fs.copyFile(path.join(FIXTURE, CHAT_TEMPLATE_FILE), path.join(directory, CHAT_TEMPLATE_FILE));
    return directory;
  }

  it('a template only in chat_template.jinja renders exactly as transformers renders it', async () => {
    const tokenizer = await loadTokenizer(await jinjaOnlyDirectory('plain'));
    expect(tokenizer.applyChatTemplate(expected.messages as never, { addGenerationPrompt: true })).toBe(expected.rendered.withGenerationPrompt);
    expect(tokenizer.applyChatTemplate(expected.messages.slice(0, 3) as never)).toBe(expected.rendered.withoutGenerationPrompt);
    expect(() => tokenizer.applyChatTemplate([{ role: 'tool', content: 'x' }] as never)).toThrow(expected.badRolesError);
  });

  it('chat_template.jinja replaces a chat_template in tokenizer_config.json (transformers: it clobbers the config)', async () => {
    const tokenizer = await loadTokenizer(await jinjaOnlyDirectory('both', { chat_template: 'stale {{ messages | length }}' }));
    expect(tokenizer.applyChatTemplate(expected.messages as never, { addGenerationPrompt: true })).toBe(expected.rendered.withGenerationPrompt);
  });

  it('save writes chat_template.jinja beside tokenizer_config.json, and a reload renders the same', async () => {
    const tokenizer = await loadTokenizer(await jinjaOnlyDirectory('source'));
    const saved = path.join(root, 'saved');
    await tokenizer.save(saved);
    expect(await fs.readFile(path.join(saved, CHAT_TEMPLATE_FILE), 'utf8')).toBe(await fs.readFile(path.join(FIXTURE, CHAT_TEMPLATE_FILE), 'utf8'));
    const reloaded = await loadTokenizer(saved);
    expect(reloaded.applyChatTemplate(expected.messages as never, { addGenerationPrompt: true })).toBe(expected.rendered.withGenerationPrompt);
  });

  it('the list form [{name, template}] picks "default"; without one it is a TokenizerError naming the names', () => {
    const list = [
      { name: 'tool_use', template: 'tools' },
      { name: 'default', template: '{{ messages[0].content }}!' },
    ];
    const tokenizer = new Tokenizer(tokenizerJson, { ...expected.specialTokens, chat_template: list });
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('hi!');
    expect(() => selectChatTemplate([{ name: 'tool_use', template: 'x' }], 'dir/tokenizer_config.json')).toThrow(/"tool_use".*default/);
    expect(() => selectChatTemplate([{ name: 'default' }], 'dir/tokenizer_config.json')).toThrow(TokenizerError);
    expect(() => selectChatTemplate(42, 'dir/tokenizer_config.json')).toThrow(/dir\/tokenizer_config.json/);
  });

  it('a chat_template.jinja that is not UTF-8 is a TokenizerError naming the file', async () => {
    const directory = await jinjaOnlyDirectory('bad-utf8');
    await fs.writeFile(path.join(directory, CHAT_TEMPLATE_FILE), Buffer.from([0x7b, 0x7b, 0xff, 0xfe, 0x7d, 0x7d]));
    await expect(loadTokenizer(directory)).rejects.toThrow(/chat_template.jinja is not valid UTF-8/);
  });
});
