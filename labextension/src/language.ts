/**
 * The chain language as a CodeMirror 6 StreamLanguage.
 *
 * Its classes and patterns come from chainmagic/dsl/token_classes.json (copied here at build time),
 * and the state machine below is the twin of chainmagic/dsl/highlight.py: the browser test holds the
 * two to the same answer. Every token carries two tags: one of its own, which gives it the class
 * `cm-chain-<class>` (what tests and user CSS can select), and a standard one (string, propertyName,
 * ...), which JupyterLab's theme colours in light and dark alike.
 */
import {
  LanguageSupport,
  StreamLanguage,
  StreamParser,
  StringStream,
  syntaxHighlighting
} from '@codemirror/language';
import { Compartment, EditorState, Extension, Prec } from '@codemirror/state';
import { Tag, tagHighlighter, tags } from '@lezer/highlight';

import rules from './token_classes.json';

type ClassName = keyof typeof rules.classes;
type PatternName = keyof typeof rules.patterns;

/** What a line needs from the lines before it. */
interface State {
  line: number;
  depth: number;
  quote: string;
  optionSeen: boolean;
  lastWasEscape: boolean;
}

// Anchored copies of the shared patterns: StringStream.match wants a match at the current position.
const patterns = Object.fromEntries(
  Object.entries(rules.patterns).map(([name, source]) => [name, new RegExp(`^(?:${source})`)])
) as Record<PatternName, RegExp>;

const builtins = new Set<string>(rules.builtins);
const constants = new Set<string>(rules.constants);

/** A standard tag from its JSON spelling: `name`, `name.modifier` or `modifier(name)`. */
function standardTag(spec: string): Tag {
  const table = tags as unknown as Record<string, Tag & ((tag: Tag) => Tag)>;
  const call = /^(\w+)\((\w+)\)$/.exec(spec);
  if (call) {
    return table[call[1]](table[call[2]]);
  }
  const [base, ...modifiers] = spec.split('.');
  return modifiers.reduce((tag, modifier) => table[modifier](tag), table[base] as Tag);
}

const ownTags = Object.fromEntries(
  Object.keys(rules.classes).map(name => [name, Tag.define()])
) as Record<ClassName, Tag>;

// Token names are prefixed: StreamLanguage maps a few legacy names ("variable", "builtin") by itself,
// before looking at our table, and would drop our own tag from them.
const PREFIX = 'chain_';

const tokenTable = Object.fromEntries(
  Object.entries(rules.classes).map(([name, info]) => [
    PREFIX + name,
    [ownTags[name as ClassName], standardTag(info.tag)]
  ])
);

function stringToken(stream: StringStream, state: State): ClassName {
  if (stream.match(state.quote)) {
    state.quote = '';
    return 'string';
  }
  if (state.line > 0) {
    if (stream.match(patterns.brace_escape)) {
      return 'string';
    }
    if (stream.match(patterns.template_variable)) {
      return 'variable';
    }
  }
  if (stream.match(patterns.escape)) {
    state.lastWasEscape = stream.eol();
    return 'string';
  }
  if (!stream.match(patterns.string_text)) {
    stream.next();
  }
  return 'string';
}

function nameClass(value: string, stream: StringStream, state: State): ClassName {
  const rest = stream.string.slice(stream.pos);
  const magicLine = state.line === 0;
  if (constants.has(value)) {
    return 'constant';
  }
  if (patterns.before_assign.test(rest)) {
    return state.depth === 0 && !magicLine ? 'definition' : 'argument';
  }
  if (magicLine) {
    return state.optionSeen ? 'name' : 'definition';
  }
  if (patterns.before_colon.test(rest)) {
    return 'key';
  }
  return builtins.has(value) ? 'builtin' : 'name';
}

const ORDER: PatternName[] = [
  'comment',
  'magic',
  'option',
  'string_open',
  'pick',
  'number',
  'pipe'
];

function token(stream: StringStream, state: State): string | null {
  if (stream.sol()) {
    startLine(state);
  }
  if (state.quote) {
    return stringToken(stream, state);
  }
  const magicLine = state.line === 0;
  if (stream.match(patterns.space)) {
    return null;
  }
  for (const cls of ORDER) {
    if ((cls === 'magic' || cls === 'option') && !magicLine) {
      continue;
    }
    if (cls === 'option' && stream.pos > 0 && !/\s/.test(stream.string[stream.pos - 1])) {
      continue;
    }
    const match = stream.match(patterns[cls]) as RegExpMatchArray | null;
    if (match) {
      if (cls === 'string_open') {
        state.quote = match[0].replace(/^[rRuUbBfF]+/, '');
        return 'string';
      }
      if (cls === 'option') {
        state.optionSeen = true;
      }
      return cls;
    }
  }
  const name = stream.match(patterns.name) as RegExpMatchArray | null;
  if (name) {
    return nameClass(name[0], stream, state);
  }
  if (stream.match(patterns.open)) {
    state.depth += 1;
    return 'bracket';
  }
  if (stream.match(patterns.close)) {
    state.depth = Math.max(0, state.depth - 1);
    return 'bracket';
  }
  if (stream.match(patterns.punctuation)) {
    return 'punctuation';
  }
  stream.next();
  return null;
}

/** A new line: the line counter moves on, and a one-quote string left open ends (Python's rule). */
function startLine(state: State): void {
  if (state.line >= 0 && state.quote.length === 1 && !state.lastWasEscape) {
    state.quote = '';
  }
  state.lastWasEscape = false;
  state.line += 1;
}

export const chainParser: StreamParser<State> = {
  name: rules.language,
  startState: () => ({ line: -1, depth: 0, quote: '', optionSeen: false, lastWasEscape: false }),
  copyState: state => ({ ...state }),
  token: (stream, state) => {
    const cls = token(stream, state);
    return cls === null ? null : PREFIX + cls;
  },
  blankLine: state => startLine(state),
  languageData: { commentTokens: { line: '#' } },
  tokenTable
};

/** `cm-chain-<class>` on every token, whatever the theme; JupyterLab's own style gives the colours. */
export const chainClasses = tagHighlighter(
  (Object.keys(ownTags) as ClassName[]).map(name => ({
    tag: ownTags[name],
    class: `${rules.cssPrefix}${name}`
  }))
);

const streamLanguage = StreamLanguage.define(chainParser);

export function chainLanguage(): LanguageSupport {
  return new LanguageSupport(streamLanguage, [syntaxHighlighting(chainClasses)]);
}

const MAGIC_LINE = new RegExp(`^%%(?:${rules.magics.join('|')})(?![A-Za-z0-9_])`);

/** Whether a cell is written in the chain language: its first line opens with a chain magic. */
export function isChainCell(firstLine: string): boolean {
  return MAGIC_LINE.test(firstLine);
}

/**
 * For a code cell's editor: the chain language, outranking the cell's own (Python's), while the first
 * line is a chain magic; nothing otherwise. Every change of the document is checked as it happens (a
 * transaction extender adds the switch to the very transaction that changed the first line).
 * `source` is the cell's text when the editor is made. Our classes are harmless on Python: its syntax
 * tree has none of our tags.
 */
export function chainCellExtension(source: string): Extension {
  const slot = new Compartment();
  const on = Prec.highest(streamLanguage);
  const content = (chain: boolean): Extension => (chain ? on : []);
  return [
    slot.of(content(isChainCell(source.split('\n', 1)[0]))),
    EditorState.transactionExtender.of(tr => {
      if (!tr.docChanged) {
        return null;
      }
      const chain = isChainCell(tr.newDoc.line(1).text);
      return chain === (slot.get(tr.startState) === on)
        ? null
        : { effects: slot.reconfigure(content(chain)) };
    }),
    syntaxHighlighting(chainClasses)
  ];
}

export const MIME_TYPE = rules.mimeType;
export const LANGUAGE_NAME = rules.language;
