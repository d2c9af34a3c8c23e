/**
 * What the apps' i18n tests check, with the TypeScript compiler API (tests only; nothing here runs in an
 * app): every visible string of a component comes from the catalogue, the English and Chinese catalogues
 * have the same keys with the same placeholders, and every key is used.
 *
 * Visible strings are JSX text, text-bearing attributes (title, aria-label, placeholder, alt, label) and
 * string literals in the places a JSX expression's value comes from (`{x ? "On" : "Off"}`), plus any
 * sentence-like literal elsewhere in a component file. Text inside <Kbd>, <kbd>, <code> and <pre> is a key
 * or code and stays as written.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

export type Catalogue = { [key: string]: string | Catalogue };

export interface Finding {
  file: string;
  line: number;
  text: string;
}

const TEXT_ATTRIBUTES = new Set(["title", "aria-label", "placeholder", "alt", "label", "aria-description"]);
const VERBATIM_ELEMENTS = new Set(["Kbd", "kbd", "code", "pre"]);
const TRANSLATORS = new Set(["useTranslations", "getTranslations"]);
const hasLetters = (text: string) => /[A-Za-z]/.test(text);
/** "Rank best to worst", "Saved.", "Loading the next task…": words with a capital start or a sentence end. */
const sentenceLike = (text: string) =>
  /[A-Za-z]{2,}\s+[A-Za-z]{2,}/.test(text) && (/^[A-Z][a-z]/.test(text) || /[a-z][.?!…:]$/.test(text));

/** The source files below `dirs` (.ts and .tsx, no declarations). */
export function sourceFiles(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.tsx?$/.test(name) && !name.endsWith(".d.ts")) out.push(full);
    }
  };
  for (const dir of dirs) walk(dir);
  return out.sort();
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(
    file,
    readFileSync(file, "utf8"),
    ts.ScriptTarget.Latest,
    true,
    ts.ScriptKind.TSX,
  );
}

const lineOf = (source: ts.SourceFile, node: ts.Node) =>
  source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;

/** The literals a JSX expression can evaluate to (branches of ?:, either side of ?? || &&, +, templates). */
function resultLiterals(expression: ts.Expression, out: ts.Node[]): void {
  if (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression)) out.push(expression);
  else if (ts.isTemplateExpression(expression)) out.push(expression);
  else if (ts.isParenthesizedExpression(expression)) resultLiterals(expression.expression, out);
  else if (ts.isConditionalExpression(expression)) {
    resultLiterals(expression.whenTrue, out);
    resultLiterals(expression.whenFalse, out);
  } else if (ts.isBinaryExpression(expression)) {
    const op = expression.operatorToken.kind;
    if (op === ts.SyntaxKind.AmpersandAmpersandToken) resultLiterals(expression.right, out);
    if (
      op === ts.SyntaxKind.BarBarToken ||
      op === ts.SyntaxKind.QuestionQuestionToken ||
      op === ts.SyntaxKind.PlusToken
    ) {
      resultLiterals(expression.left, out);
      resultLiterals(expression.right, out);
    }
  }
}

function literalText(node: ts.Node): string {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node))
    return [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(" ");
  return node.getText();
}

function insideVerbatim(node: ts.Node): boolean {
  for (let p: ts.Node | undefined = node.parent; p; p = p.parent) {
    if (ts.isJsxElement(p) && VERBATIM_ELEMENTS.has(p.openingElement.tagName.getText())) return true;
  }
  return false;
}

/** Whether a literal is an argument of a translator (t("key")), a className, an import or a type. */
function excusedLiteral(node: ts.Node): boolean {
  const parent = node.parent;
  if (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent) || ts.isLiteralTypeNode(parent))
    return true;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return true;
  if (ts.isCallExpression(parent)) return true;
  // new Error("…"): a developer's message (server start-up, invariants), not a page's.
  if (ts.isNewExpression(parent)) return true;
  if (ts.isElementAccessExpression(parent)) return true;
  if (ts.isBinaryExpression(parent) && /=|!|<|>/.test(parent.operatorToken.getText())) return true;
  if (ts.isCaseClause(parent)) return true;
  for (let p: ts.Node | undefined = parent; p; p = p.parent) {
    if (ts.isJsxAttribute(p)) return !TEXT_ATTRIBUTES.has(p.name.getText());
    if (ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.expression.text === "useMemo")
      return false;
  }
  return false;
}

/** Visible strings written into the components of `files` instead of taken from the catalogue. */
export function untranslatedLiterals(files: string[]): Finding[] {
  const findings: Finding[] = [];
  for (const file of files) {
    const source = parse(file);
    const flag = (node: ts.Node, text: string) =>
      findings.push({ file, line: lineOf(source, node), text: text.trim().replace(/\s+/g, " ") });
    const visit = (node: ts.Node): void => {
      if (ts.isJsxText(node) && hasLetters(node.text) && !insideVerbatim(node)) flag(node, node.text);
      else if (ts.isJsxAttribute(node) && TEXT_ATTRIBUTES.has(node.name.getText()) && node.initializer) {
        if (ts.isStringLiteral(node.initializer) && hasLetters(node.initializer.text))
          flag(node, node.initializer.text);
      } else if (
        ts.isJsxExpression(node) &&
        node.expression &&
        !insideVerbatim(node) &&
        !(ts.isJsxAttribute(node.parent) && !TEXT_ATTRIBUTES.has(node.parent.name.getText()))
      ) {
        const literals: ts.Node[] = [];
        resultLiterals(node.expression, literals);
        for (const literal of literals)
          if (hasLetters(literalText(literal))) flag(literal, literalText(literal));
      } else if (
        (ts.isStringLiteral(node) ||
          ts.isNoSubstitutionTemplateLiteral(node) ||
          ts.isTemplateExpression(node)) &&
        !ts.isJsxExpression(node.parent) &&
        sentenceLike(literalText(node)) &&
        !excusedLiteral(node)
      ) {
        flag(node, literalText(node));
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  // A literal found both as a JSX result and as a sentence is one finding.
  const seen = new Set<string>();
  findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return findings.filter((f) => {
    const key = `${f.file}:${f.line}:${f.text}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Every key of a catalogue, dotted: "Annotator.submit". */
export function flatKeys(catalogue: Catalogue, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(catalogue)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string") out.set(full, value);
    else for (const [k, v] of flatKeys(value, full)) out.set(k, v);
  }
  return out;
}

/** The placeholders and tags of an ICU message: "{count}", "<strong>" (what a translation must keep). */
export function placeholders(message: string): string[] {
  const names = new Set<string>();
  argumentNames(message, names);
  for (const m of message.matchAll(/<(\w+)>/g)) names.add(`<${m[1]}>`);
  return [...names].sort();
}

/** The index of the brace closing the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return text.length;
}

/** ICU arguments ({name}, {count, plural, one {…} other {…}}), into the branches of plural and select. */
function argumentNames(message: string, out: Set<string>): void {
  for (let i = message.indexOf("{"); i !== -1; i = message.indexOf("{", i)) {
    const end = closing(message, i);
    const body = message.slice(i + 1, end);
    const [name = "", type = "", ...rest] = body.split(",");
    out.add(`{${name.trim()}}`);
    if (/^\s*(plural|select|selectordinal)\s*$/.test(type)) {
      const branches = rest.join(",");
      for (let j = branches.indexOf("{"); j !== -1; j = branches.indexOf("{", j)) {
        const branchEnd = closing(branches, j);
        argumentNames(branches.slice(j + 1, branchEnd), out);
        j = branchEnd + 1;
      }
    }
    i = end + 1;
  }
}

export interface KeyUse {
  /** Dotted keys used literally: t("submit") in namespace Annotator → "Annotator.submit". */
  keys: Set<string>;
  /** Prefixes of keys built at run time: t(`keys.${what}`) → "Keys.keys.". */
  prefixes: Set<string>;
  /** Namespaces with a key chosen at run time (t(name)): their keys count as used when written as a literal. */
  dynamic: Set<string>;
  /** Every string literal of the sources, for the dynamic namespaces. */
  literals: Set<string>;
}

/** Which catalogue keys the sources use, through useTranslations("Ns") / getTranslations("Ns") and t(…). */
export function keyUse(files: string[]): KeyUse {
  const use: KeyUse = { keys: new Set(), prefixes: new Set(), dynamic: new Set(), literals: new Set() };
  for (const file of files) {
    const source = parse(file);
    // Translators by the function that declares them (each component has its own `t`).
    const namespaces = new Map<ts.Node, Map<string, string>>();
    const scopeOf = (node: ts.Node): ts.Node => {
      let p = node.parent;
      while (p && !ts.isFunctionLike(p) && !ts.isSourceFile(p)) p = p.parent;
      return p ?? source;
    };
    const declare = (node: ts.Node, name: string, ns: string) => {
      const scope = scopeOf(node);
      if (!namespaces.has(scope)) namespaces.set(scope, new Map());
      namespaces.get(scope)!.set(name, ns);
    };
    const lookup = (node: ts.Node, name: string): string | undefined => {
      for (let scope: ts.Node = scopeOf(node); ; scope = scopeOf(scope)) {
        const ns = namespaces.get(scope)?.get(name);
        if (ns !== undefined || ts.isSourceFile(scope)) return ns;
      }
    };
    const translatorNamespace = (expression: ts.Expression | undefined): string | undefined => {
      let e = expression;
      while (e && (ts.isAwaitExpression(e) || ts.isParenthesizedExpression(e))) e = e.expression;
      if (!e || !ts.isCallExpression(e) || !ts.isIdentifier(e.expression)) return undefined;
      if (!TRANSLATORS.has(e.expression.text)) return undefined;
      const arg = e.arguments[0];
      return arg && ts.isStringLiteral(arg) ? arg.text : "";
    };
    const bindings = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && node.initializer) {
        if (ts.isIdentifier(node.name)) {
          const ns = translatorNamespace(node.initializer);
          if (ns !== undefined) declare(node, node.name.text, ns);
        } else if (ts.isArrayBindingPattern(node.name)) {
          // const [a, t] = await Promise.all([…, getTranslations("Ns")])
          let init: ts.Expression = node.initializer;
          if (ts.isAwaitExpression(init)) init = init.expression;
          const list = ts.isCallExpression(init) ? init.arguments[0] : undefined;
          if (list && ts.isArrayLiteralExpression(list)) {
            node.name.elements.forEach((element, i) => {
              if (!ts.isBindingElement(element) || !ts.isIdentifier(element.name)) return;
              const ns = translatorNamespace(list.elements[i]);
              if (ns !== undefined) declare(node, element.name.text, ns);
            });
          }
        }
      }
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) use.literals.add(node.text);
      ts.forEachChild(node, bindings);
    };
    bindings(source);
    const calls = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        let callee = node.expression;
        if (
          ts.isPropertyAccessExpression(callee) &&
          ["rich", "markup", "raw", "has"].includes(callee.name.text)
        )
          callee = callee.expression;
        const ns = ts.isIdentifier(callee) ? lookup(node, callee.text) : undefined;
        const arg = node.arguments[0];
        if (ns !== undefined && arg) {
          const dotted = (key: string) => (ns ? `${ns}.${key}` : key);
          if (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg))
            use.keys.add(dotted(arg.text));
          else if (ts.isTemplateExpression(arg)) use.prefixes.add(dotted(arg.head.text));
          else use.dynamic.add(ns);
        }
      }
      ts.forEachChild(node, calls);
    };
    calls(source);
  }
  return use;
}

/** The catalogue keys nothing uses, and the keys used that the catalogue lacks. */
export function unusedAndMissing(catalogue: Catalogue, use: KeyUse): { unused: string[]; missing: string[] } {
  const keys = flatKeys(catalogue);
  const used = (key: string) => {
    if (use.keys.has(key)) return true;
    for (const prefix of use.prefixes) if (key.startsWith(prefix)) return true;
    for (const ns of use.dynamic) {
      if (key.startsWith(`${ns}.`) && use.literals.has(key.slice(ns.length + 1))) return true;
    }
    return false;
  };
  const isPrefixOfSome = (key: string) => [...keys.keys()].some((k) => k === key || k.startsWith(`${key}.`));
  return {
    unused: [...keys.keys()].filter((key) => !used(key)),
    missing: [...use.keys].filter((key) => !isPrefixOfSome(key)),
  };
}
