/**
 * Oniguruma → JavaScript regular expressions. The `tokenizers` library compiles a tokenizer.json's Split
 * patterns with Oniguruma (Ruby-style syntax), whose meaning differs from a JavaScript RegExp in places that
 * change how text splits: `\s` is Unicode White_Space (JS adds U+FEFF and omits U+0085), `\d` is any decimal
 * digit, `.` stops only at "\n", `^`/`$` are line anchors, `(?i:…)` scopes case-insensitivity (Node 20 has no
 * regexp modifiers), `?+ *+ ++` are possessive while `{n,m}+` repeats the repeat. `onigurumaToJs` rewrites a
 * pattern into a `u`-flag RegExp source with the same matches, and throws on anything it cannot translate
 * exactly (naming the construct and its offset), so a loaded tokenizer never splits differently in silence.
 */

/** Unicode White_Space, what Oniguruma's `\s` means. */
const SPACE = String.raw`\p{White_Space}`;
const NOT_SPACE = String.raw`\P{White_Space}`;

/** POSIX-style property names whose Oniguruma meaning differs from (or is absent in) JavaScript's. */
const POSIX_NAMES = new Set([
  "alnum",
  "alpha",
  "blank",
  "cntrl",
  "digit",
  "graph",
  "lower",
  "print",
  "punct",
  "space",
  "upper",
  "xdigit",
  "word",
]);

/** General categories and properties that are closed under case mapping, so `(?i:…)` does not change them. */
const CASE_CLOSED =
  /^(L|Letter|M|Mark|Mn|Mc|Me|N|Number|Nd|Nl|No|P[cdseifo]?|S[mcko]?|Z[slp]?|C[cfon]?|White_Space|Han|Hiragana|Katakana|Hangul|Arabic|Hebrew|Thai|Devanagari|Any|ASCII)$/;

let casedCodePoints: number[] | undefined;
const foldClassCache = new Map<number, number[]>();
let multiFolds: string[] | undefined;

/** Code points with a case mapping; the only ones that can be case-equivalent to another. */
function cased(): number[] {
  if (!casedCodePoints) {
    casedCodePoints = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const s = String.fromCodePoint(cp);
      if (s.toLowerCase() !== s || s.toUpperCase() !== s) casedCodePoints.push(cp);
    }
  }
  return casedCodePoints;
}

/** The code points that match `cp` case-insensitively (simple case folding), `cp` first. */
function foldClass(cp: number): number[] {
  let found = foldClassCache.get(cp);
  if (!found) {
    const re = new RegExp(`^\\u{${cp.toString(16)}}$`, "iu");
    found = [cp, ...cased().filter((other) => other !== cp && re.test(String.fromCodePoint(other)))];
    foldClassCache.set(cp, found);
  }
  return found;
}

/** Strings of several characters that a single character case-folds to ("ss" for ß, "fi" for ﬁ, ...). */
function multiCharFolds(): string[] {
  if (!multiFolds) {
    const set = new Set<string>();
    for (const cp of cased()) {
      const folded = String.fromCodePoint(cp).toUpperCase().toLowerCase();
      if ([...folded].length > 1) set.add(folded);
    }
    multiFolds = [...set];
  }
  return multiFolds;
}

function hasMultiCharFold(cp: number): boolean {
  return [...String.fromCodePoint(cp).toUpperCase().toLowerCase()].length > 1;
}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** A literal code point as a JS regexp atom (outside or inside a class). */
function literal(cp: number): string {
  const ch = String.fromCodePoint(cp);
  return /[A-Za-z0-9 _]/.test(ch) || (cp > 0x7f && !/\s/u.test(ch)) ? ch : hex(cp);
}

interface Item {
  /** JS source of one class item or one atom. */
  source: string;
  /** The literal code point it stands for, when it is one (for the case-folding checks). */
  cp?: number;
}

class Translator {
  private pos = 0;
  private groups = 0;

  constructor(private readonly pattern: string) {}

  translate(): string {
    const out = this.alternation(false);
    if (this.pos < this.pattern.length) this.fail(`unbalanced ")"`);
    return out;
  }

  fail(construct: string, at = this.pos): never {
    throw new Error(`${construct} at offset ${at} is not supported (no exact JavaScript equivalent)`);
  }

  private peek(offset = 0): string | undefined {
    return this.pattern[this.pos + offset];
  }

  private alternation(ci: boolean): string {
    const branches = [this.sequence(ci)];
    while (this.peek() === "|") {
      this.pos++;
      branches.push(this.sequence(ci));
    }
    return branches.join("|");
  }

  private sequence(ci: boolean): string {
    let out = "";
    let run = "";
    const checkRun = () => {
      if (ci && run.length > 1) {
        const lower = run.toLowerCase();
        const bad = multiCharFolds().find((f) => lower.includes(f));
        if (bad !== undefined)
          this.fail(
            `case-insensitive ${JSON.stringify(run)} (a single character case-folds to ${JSON.stringify(bad)})`,
          );
      }
      run = "";
    };
    while (this.pos < this.pattern.length && this.peek() !== "|" && this.peek() !== ")") {
      const start = this.pos;
      const atom = this.atom(ci);
      if (atom === undefined) continue;
      const quantified = this.quantifiers(atom.source, start);
      if (quantified === atom.source && atom.cp !== undefined) run += String.fromCodePoint(atom.cp);
      else checkRun();
      out += quantified;
    }
    checkRun();
    return out;
  }

  /** One atom, or undefined for something that emits nothing (a comment). */
  private atom(ci: boolean): Item | undefined {
    const start = this.pos;
    const ch = this.pattern.codePointAt(this.pos)!;
    const c = String.fromCodePoint(ch);
    switch (c) {
      case "(":
        return this.group(ci);
      case "[":
        return { source: this.charClass(ci) };
      case ".":
        this.pos++;
        return { source: "[^\\n]" };
      case "^":
        this.pos++;
        return { source: "(?:(?<![^\\n]))" };
      case "$":
        this.pos++;
        return { source: "(?:(?![^\\n]))" };
      case "\\":
        return this.escapeAtom(ci);
      case "*":
      case "+":
      case "?":
        return this.fail(`quantifier "${c}" with nothing to repeat`, start);
    }
    this.pos += c.length;
    return this.literalAtom(ch, ci);
  }

  private literalAtom(cp: number, ci: boolean): Item {
    if (!ci) return { source: literal(cp), cp };
    if (hasMultiCharFold(cp))
      this.fail(`case-insensitive ${JSON.stringify(String.fromCodePoint(cp))} (folds to several characters)`);
    const equivalents = foldClass(cp);
    return { source: equivalents.length === 1 ? literal(cp) : `[${equivalents.map(literal).join("")}]`, cp };
  }

  private group(ci: boolean): Item | undefined {
    const start = this.pos;
    const rest = this.pattern.slice(this.pos);
    let prefix: string;
    let open: string;
    let bodyCi = ci;
    let atomic = false;
    if (rest.startsWith("(?#")) {
      const end = this.pattern.indexOf(")", this.pos);
      if (end < 0) this.fail("unterminated comment", start);
      this.pos = end + 1;
      return undefined;
    }
    if (rest.startsWith("(?:")) [prefix, open] = ["(?:", "(?:"];
    else if (rest.startsWith("(?>")) [prefix, open, atomic] = ["(?>", "(?:", true];
    else if (rest.startsWith("(?=")) [prefix, open] = ["(?=", "(?="];
    else if (rest.startsWith("(?!")) [prefix, open] = ["(?!", "(?!"];
    else if (rest.startsWith("(?<=")) [prefix, open] = ["(?<=", "(?<="];
    else if (rest.startsWith("(?<!")) [prefix, open] = ["(?<!", "(?<!"];
    else if (rest.startsWith("(?i:")) [prefix, open, bodyCi] = ["(?i:", "(?:", true];
    else if (/^\(\?(<[A-Za-z_]\w*>|'[A-Za-z_]\w*')/.test(rest)) {
      prefix = /^\(\?(<[A-Za-z_]\w*>|'[A-Za-z_]\w*')/.exec(rest)![0];
      open = "(?:";
    } else if (rest.startsWith("(?")) {
      const flags = /^\(\?[^:)]*[:)]?/.exec(rest)![0];
      return this.fail(`group or option "${flags}"`, start);
    } else [prefix, open] = ["(", "(?:"];
    this.pos += prefix.length;
    const body = this.alternation(bodyCi);
    if (this.peek() !== ")") this.fail(`unterminated group "${prefix}"`, start);
    this.pos++;
    // A lookaround cannot take a quantifier in a u-flag RegExp; a wrapper makes every group quantifiable.
    const source = atomic ? this.atomic(body) : open === "(?:" ? `(?:${body})` : `(?:${open}${body}))`;
    return { source };
  }

  /** An atomic group: the lookahead matches greedily once and the backreference consumes exactly that. */
  private atomic(body: string): string {
    const name = `a${++this.groups}`;
    return `(?:(?=(?<${name}>${body}))\\k<${name}>)`;
  }

  private quantifiers(atom: string, start: number): string {
    let out = atom;
    for (;;) {
      const rest = this.pattern.slice(this.pos);
      const simple = /^[?*+]/.exec(rest);
      const interval = /^\{(\d*)(?:(,)(\d*))?\}/.exec(rest);
      if (simple) {
        this.pos++;
        const q = simple[0];
        const next = this.peek();
        if (next === "+") {
          this.pos++;
          out = this.atomic(`${out}${q}`);
        } else if (next === "?") {
          this.pos++;
          out = `(?:${out}${q}?)`;
        } else out = `(?:${out}${q})`;
      } else if (
        interval &&
        (interval[1] !== "" || interval[3] !== "") &&
        !(interval[1] === "" && !interval[2])
      ) {
        this.pos += interval[0].length;
        const min = interval[1] === "" ? "0" : interval[1];
        const body = interval[2] ? `${min},${interval[3]}` : min;
        if (this.peek() === "?") {
          if (!interval[2]) this.fail(`"{${body}}?" (optional in Oniguruma, lazy elsewhere)`, start);
          this.pos++;
          out = `(?:${out}{${body}}?)`;
        } else out = `(?:${out}{${body}})`;
        // "{n,m}+" is not possessive in Oniguruma's Ruby syntax: the loop goes on and "+" repeats the repeat.
      } else return out;
    }
  }

  private escapeAtom(ci: boolean): Item {
    const start = this.pos;
    const next = this.peek(1);
    if (next === undefined) this.fail("a trailing backslash", start);
    const simpleMap: Record<string, string> = {
      s: `[${SPACE}]`,
      S: `[${NOT_SPACE}]`,
      d: "\\p{Nd}",
      D: "\\P{Nd}",
      A: "(?:(?<![\\s\\S]))",
      z: "(?:(?![\\s\\S]))",
      Z: "(?:(?=\\n?(?![\\s\\S])))",
    };
    if (next! in simpleMap) {
      this.pos += 2;
      return { source: simpleMap[next!]! };
    }
    if (next === "p" || next === "P") return { source: this.property(ci) };
    const cp = this.escapedCodePoint(false);
    return this.literalAtom(cp, ci);
  }

  /** `\p{Name}`, `\p{^Name}`, `\P{Name}` as a JS property escape. */
  private property(ci: boolean): string {
    const start = this.pos;
    const m = /^\\([pP])\{(\^?)([^}]*)\}/.exec(this.pattern.slice(this.pos));
    if (!m) return this.fail("a property escape without {Name}", start);
    this.pos += m[0].length;
    const negated = (m[1] === "P") !== (m[2] === "^");
    const name = m[3]!;
    if (POSIX_NAMES.has(name.toLowerCase().replace(/[\s_-]/g, "")))
      this.fail(`\\p{${name}} (a POSIX class)`, start);
    let js: string | undefined;
    for (const candidate of [name, `Script=${name}`]) {
      try {
        new RegExp(`\\p{${candidate}}`, "u");
        js = candidate;
        break;
      } catch {}
    }
    if (js === undefined) this.fail(`\\p{${name}} (unknown to JavaScript)`, start);
    if (ci && !CASE_CLOSED.test(name))
      this.fail(`\\p{${name}} inside (?i:…) (it matches every case there)`, start);
    return `\\${negated ? "P" : "p"}{${js}}`;
  }

  /** A backslash escape that stands for one character. */
  private escapedCodePoint(inClass: boolean): number {
    const start = this.pos;
    const next = this.peek(1)!;
    const controls: Record<string, number> = { t: 9, n: 10, r: 13, f: 12, v: 11, a: 7, e: 0x1b };
    if (next in controls) {
      this.pos += 2;
      return controls[next]!;
    }
    const rest = this.pattern.slice(this.pos);
    const x =
      /^\\x(?:\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{1,2}))/.exec(rest) ?? /^\\u([0-9A-Fa-f]{4})/.exec(rest);
    if (x) {
      this.pos += x[0].length;
      const cp = Number.parseInt(x[1] ?? x[2]!, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        this.fail(`escape ${x[0]} (not a character)`, start);
      return cp;
    }
    if (/[A-Za-z0-9]/.test(next)) this.fail(`escape "\\${next}"${inClass ? " inside [...]" : ""}`, start);
    const cp = this.pattern.codePointAt(this.pos + 1)!;
    this.pos += 1 + String.fromCodePoint(cp).length;
    return cp;
  }

  private charClass(ci: boolean): string {
    const { negated, items } = this.classBody(ci);
    if (items.length === 0) return negated ? "[\\s\\S]" : "[]";
    return `[${negated ? "^" : ""}${items.join("")}]`;
  }

  /** A class's items from "[" to its "]"; a nested plain class ([a[bc]], Oniguruma's union) adds its items. */
  private classBody(ci: boolean): { negated: boolean; items: string[] } {
    const start = this.pos;
    this.pos++;
    let negated = false;
    if (this.peek() === "^") {
      negated = true;
      this.pos++;
    }
    const items: string[] = [];
    const add = (lo: number, hi: number) => {
      if (!ci) {
        items.push(lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`);
        return;
      }
      if (hi - lo > 5000) this.fail("a case-insensitive range of more than 5000 characters", start);
      for (let cp = lo; cp <= hi; cp++) {
        if (hasMultiCharFold(cp))
          this.fail(`case-insensitive ${JSON.stringify(String.fromCodePoint(cp))} in [...]`, start);
        for (const eq of foldClass(cp)) items.push(literal(eq));
      }
    };
    let first = true;
    for (;;) {
      if (this.pos >= this.pattern.length) this.fail("unterminated [...]", start);
      const c = this.peek()!;
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === "[") {
        if (this.peek(1) === ":" || this.peek(1) === "^")
          this.fail("a POSIX bracket or negated class inside [...]");
        items.push(...this.classBody(ci).items);
        continue;
      }
      if (c === "&" && this.peek(1) === "&") this.fail('class intersection "&&"');
      let lo: number;
      if (c === "\\") {
        const n = this.peek(1);
        const sets: Record<string, string> = { s: SPACE, S: NOT_SPACE, d: "\\p{Nd}", D: "\\P{Nd}" };
        if (n !== undefined && n in sets) {
          this.pos += 2;
          items.push(sets[n]!);
          continue;
        }
        if (n === "p" || n === "P") {
          items.push(this.property(ci));
          continue;
        }
        lo = this.escapedCodePoint(true);
      } else {
        lo = this.pattern.codePointAt(this.pos)!;
        this.pos += String.fromCodePoint(lo).length;
      }
      if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined) {
        this.pos++;
        let hi: number;
        if (this.peek() === "\\") {
          if (/^\\[sSdDpP]/.test(this.pattern.slice(this.pos))) this.fail("a range ending in a class escape");
          hi = this.escapedCodePoint(true);
        } else if (this.peek() === "[") {
          return this.fail("a nested class inside [...]");
        } else {
          hi = this.pattern.codePointAt(this.pos)!;
          this.pos += String.fromCodePoint(hi).length;
        }
        if (hi < lo) this.fail("a range out of order", start);
        add(lo, hi);
      } else add(lo, lo);
    }
    return { negated, items };
  }
}

/**
 * The source of a `u`-flag RegExp matching what `pattern` matches in Oniguruma (as the `tokenizers` library
 * compiles it). Throws an Error naming the construct and offset for anything without an exact translation.
 */
export function onigurumaToJs(pattern: string): string {
  const source = new Translator(pattern).translate();
  try {
    new RegExp(source, "gu");
  } catch (error) {
    throw new Error(`it does not compile as a JavaScript RegExp (${(error as Error).message})`, {
      cause: error,
    });
  }
  return source;
}
