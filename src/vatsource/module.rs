//! A module's `import` and `export` statements, rewritten into the body of a reference bundle's
//! function (see the parent module). Each statement is replaced in place by as many newlines as
//! it spanned; the `require` calls go on the bundle's first line and the `exports`
//! assignments after the body, so every other line keeps its number.

use super::lexer::{Kind, Token, tokenize};
use super::{Converted, PACKAGES, SourceError};

/// The local name given to an anonymous `export default`.
const DEFAULT_LOCAL: &str = "__default__";

/// Converts a module; see the parent module.
pub fn convert(source: &str, file: &str) -> Result<Converted, SourceError> {
    let all = tokenize(source, file)?;
    let tokens: Vec<Token> = all
        .iter()
        .copied()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    let mut module = Module {
        source,
        file,
        tokens: &tokens,
        edits: Vec::new(),
        requires: Vec::new(),
        exports: Vec::new(),
        star_exports: Vec::new(),
        external: Vec::new(),
    };
    module.statements()?;
    let mut edits = std::mem::take(&mut module.edits);
    if source.starts_with("#!") {
        let end = source.find('\n').unwrap_or(source.len());
        edits.push(Edit {
            start: 0,
            end,
            text: String::new(),
        });
    }
    for token in all.iter().filter(|t| t.kind != Kind::Punct) {
        let covered = edits
            .iter()
            .any(|e| e.start <= token.start && token.end <= e.end && e.end > e.start);
        if covered {
            continue;
        }
        let text = token.text(source);
        match token.kind {
            Kind::Comment => edits.push(Edit::replace(token, blank(text, " "))),
            Kind::Str | Kind::Template if has_ses_forbidden(text) => {
                edits.push(Edit::replace(token, escape_ses_forbidden(text)));
            }
            _ => {}
        }
    }
    edits.sort_by_key(|e| (e.start, e.end));
    let body = apply(source, &edits);
    Ok(Converted {
        code: module.wrap(&body),
        exports: module
            .exports
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        external: module.external,
    })
}

/// A replacement of `source[start..end]`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

impl Edit {
    fn replace(token: &Token, text: String) -> Edit {
        Edit {
            start: token.start,
            end: token.end,
            text,
        }
    }
}

fn apply(source: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for edit in edits {
        out.push_str(&source[at..edit.start]);
        out.push_str(&edit.text);
        at = edit.end;
    }
    out.push_str(&source[at..]);
    out
}

/// `text`'s newlines, after `filler` (so that the lines stay and tokens stay apart).
fn blank(text: &str, filler: &str) -> String {
    let mut out = filler.to_string();
    out.extend(text.chars().filter(|&c| c == '\n'));
    out
}

/// Whether a literal holds what SES rejects anywhere in a source: `import` followed by `(` or
/// a comment opener, or an HTML comment token.
fn has_ses_forbidden(text: &str) -> bool {
    escape_ses_forbidden(text) != text
}

/// The literal with `import(` written `\u0069mport(` and `<!--`, `-->` broken by a backslash,
/// which leaves the string's value as it was.
fn escape_ses_forbidden(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("import") {
            let after = rest[6..].trim_start();
            if after.starts_with('(') || after.starts_with("//") || after.starts_with("/*") {
                out.push_str("\\u0069mport");
                rest = &rest[6..];
                continue;
            }
        }
        if rest.starts_with("<!--") {
            out.push_str("<\\!--");
            rest = &rest[4..];
            continue;
        }
        if rest.starts_with("-->") {
            out.push_str("--\\>");
            rest = &rest[3..];
            continue;
        }
        if c == '\\' {
            // Keep escapes whole, so `\\import(` is not mistaken for an escape of ours.
            let escaped: String = rest.chars().take(2).collect();
            out.push_str(&escaped);
            rest = &rest[escaped.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The statements found so far and what they turn into.
struct Module<'s> {
    source: &'s str,
    file: &'s str,
    tokens: &'s [Token],
    edits: Vec<Edit>,
    /// `const <pattern> = require(<package>, <names>);` statements for the first line.
    requires: Vec<String>,
    /// (exported name, JavaScript expression for its value).
    exports: Vec<(String, String)>,
    /// Locals holding namespaces re-exported whole (`export * from`).
    star_exports: Vec<String>,
    external: Vec<String>,
}

impl<'s> Module<'s> {
    fn text(&self, i: usize) -> &'s str {
        self.tokens.get(i).map_or("", |t| t.text(self.source))
    }

    fn line(&self, i: usize) -> usize {
        match self.tokens.get(i).or(self.tokens.last()) {
            Some(t) => t.line,
            None => 1,
        }
    }

    fn is(&self, i: usize, kind: Kind, text: &str) -> bool {
        self.tokens
            .get(i)
            .is_some_and(|t| t.kind == kind && t.text(self.source) == text)
    }

    fn error(&self, i: usize, message: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.line(i), message)
    }

    /// Finds and rewrites every `import` and `export` statement.
    fn statements(&mut self) -> Result<(), SourceError> {
        let mut depth = 0usize;
        let mut i = 0;
        while i < self.tokens.len() {
            let token = self.tokens[i];
            let property = i > 0 && self.is(i - 1, Kind::Punct, ".");
            match (token.kind, token.text(self.source)) {
                (Kind::Punct, "(" | "[" | "{") => depth += 1,
                (Kind::Punct, ")" | "]" | "}") => depth = depth.saturating_sub(1),
                (Kind::Word, "import") if !property => {
                    if self.is(i + 1, Kind::Punct, "(") {
                        return Err(self.error(
                            i,
                            "dynamic import() is not supported in a vat: import packages statically",
                        ));
                    }
                    if self.is(i + 1, Kind::Punct, ".") {
                        return Err(self.error(i, "import.meta is not available to a vat"));
                    }
                    if depth == 0 {
                        let end = self.import(i)?;
                        self.remove(i, end);
                        i = end;
                        continue;
                    }
                }
                (Kind::Word, "export") if !property && depth == 0 => {
                    i = self.export(i)?;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }

    /// Replaces tokens `from..to` (exclusive) by their newlines.
    fn remove(&mut self, from: usize, to: usize) {
        let (start, end) = (self.tokens[from].start, self.tokens[to - 1].end);
        self.edits.push(Edit {
            start,
            end,
            text: blank(&self.source[start..end], ""),
        });
    }

    /// Index after an optional `;` at `i`.
    fn semicolon(&self, i: usize) -> usize {
        if self.is(i, Kind::Punct, ";") {
            i + 1
        } else {
            i
        }
    }

    /// The package named by the string token at `i`, checked.
    fn package(&mut self, i: usize) -> Result<String, SourceError> {
        let token = self.tokens.get(i).filter(|t| t.kind == Kind::Str);
        let Some(token) = token else {
            return Err(self.error(i, "expected a package name in quotes"));
        };
        let quoted = token.text(self.source);
        let name: String = serde_json::from_str(&format!("\"{}\"", &quoted[1..quoted.len() - 1]))
            .unwrap_or_else(|_| quoted[1..quoted.len() - 1].to_string());
        if name.starts_with('.') || name.starts_with('/') {
            return Err(self.error(
                i,
                format!(
                    "relative import '{name}': a vat source is one file importing only packages \
                     ({}); bundle a vat made of several files with a bundler into the iife format",
                    PACKAGES.join(", ")
                ),
            ));
        }
        if !PACKAGES.contains(&name.as_str()) {
            return Err(self.error(
                i,
                format!(
                    "package '{name}' is not provided to vats; they may import {}",
                    PACKAGES.join(", ")
                ),
            ));
        }
        if !self.external.contains(&name) {
            self.external.push(name.clone());
        }
        Ok(name)
    }

    /// `from '<package>'` at `i`: the package, and the index after it.
    fn source_clause(&mut self, i: usize) -> Result<(String, usize), SourceError> {
        if !self.is(i, Kind::Word, "from") {
            return Err(self.error(i, format!("expected `from`, found `{}`", self.text(i))));
        }
        Ok((self.package(i + 1)?, i + 2))
    }

    /// A name that may be a string (`"a-b"`) in import and export lists, and the index after it.
    fn module_export_name(&self, i: usize) -> Result<(String, usize), SourceError> {
        match self.tokens.get(i).map(|t| t.kind) {
            Some(Kind::Word) => Ok((self.text(i).to_string(), i + 1)),
            Some(Kind::Str) => {
                let quoted = self.text(i);
                Ok((quoted[1..quoted.len() - 1].to_string(), i + 1))
            }
            _ => Err(self.error(i, format!("expected a name, found `{}`", self.text(i)))),
        }
    }

    /// `{ a, b as c, }` at `i`: (outer name, inner name) pairs and the index after the `}`.
    fn specifiers(&self, mut i: usize) -> Result<(Vec<(String, String)>, usize), SourceError> {
        let mut pairs = Vec::new();
        i += 1;
        while !self.is(i, Kind::Punct, "}") {
            let (name, next) = self.module_export_name(i)?;
            i = next;
            let mut other = name.clone();
            if self.is(i, Kind::Word, "as") {
                (other, i) = self.module_export_name(i + 1)?;
            }
            pairs.push((name, other));
            if self.is(i, Kind::Punct, ",") {
                i += 1;
            } else if !self.is(i, Kind::Punct, "}") {
                return Err(
                    self.error(i, format!("expected `,` or `}}`, found `{}`", self.text(i)))
                );
            }
        }
        Ok((pairs, i + 1))
    }

    fn require(&mut self, pattern: &str, package: &str, names: &[&str]) {
        let names = serde_json::to_string(names).expect("strings serialize");
        let package = serde_json::to_string(package).expect("strings serialize");
        self.requires
            .push(format!("{pattern}require({package}, {names});"));
    }

    /// The `import` declaration at `i`; returns the index after it.
    fn import(&mut self, i: usize) -> Result<usize, SourceError> {
        let mut j = i + 1;
        if self.tokens.get(j).is_some_and(|t| t.kind == Kind::Str) {
            let package = self.package(j)?;
            self.require("", &package, &[]);
            return Ok(self.semicolon(j + 1));
        }
        let mut bindings: Vec<(String, String)> = Vec::new();
        let mut namespace = None;
        if self.tokens.get(j).is_some_and(|t| t.kind == Kind::Word)
            && !self.is(j, Kind::Word, "from")
        {
            bindings.push(("default".into(), self.text(j).to_string()));
            j += 1;
            if self.is(j, Kind::Punct, ",") {
                j += 1;
            }
        }
        if self.is(j, Kind::Punct, "*") {
            if !self.is(j + 1, Kind::Word, "as") {
                return Err(self.error(j, "expected `* as name`"));
            }
            namespace = Some(self.text(j + 2).to_string());
            j += 3;
        } else if self.is(j, Kind::Punct, "{") {
            let (pairs, next) = self.specifiers(j)?;
            bindings.extend(pairs);
            j = next;
        } else if bindings.is_empty() {
            return Err(self.error(j, format!("unexpected `{}` in import", self.text(j))));
        }
        let (package, next) = self.source_clause(j)?;
        let names: Vec<&str> = bindings.iter().map(|(n, _)| n.as_str()).collect();
        let mut patterns = Vec::new();
        if !bindings.is_empty() {
            let pairs: Vec<String> = bindings
                .iter()
                .map(|(name, local)| format!("{}: {local}", serde_json::Value::from(name.as_str())))
                .collect();
            patterns.push(format!("{{ {} }}", pairs.join(", ")));
        }
        patterns.extend(namespace);
        if patterns.is_empty() {
            self.require("", &package, &[]);
        }
        for (n, pattern) in patterns.iter().enumerate() {
            let names = if n == 0 { names.as_slice() } else { &[] };
            self.require(&format!("const {pattern} = "), &package, names);
        }
        Ok(self.semicolon(next))
    }

    /// The `export` statement at `i`; returns the index to go on from.
    fn export(&mut self, i: usize) -> Result<usize, SourceError> {
        let j = i + 1;
        match (self.tokens.get(j).map(|t| t.kind), self.text(j)) {
            (Some(Kind::Word), "default") => self.export_default(i),
            (Some(Kind::Word), "function" | "async" | "class") => {
                let name = self.declared_name(j)?;
                self.exports.push((name.clone(), name));
                self.remove(i, j);
                Ok(j)
            }
            (Some(Kind::Word), "const" | "let" | "var") => {
                self.remove(i, j);
                self.export_variables(j + 1)
            }
            (Some(Kind::Punct), "{") => {
                let (pairs, next) = self.specifiers(j)?;
                let end = if self.is(next, Kind::Word, "from") {
                    let (package, after) = self.source_clause(next)?;
                    let local = format!("__reexport{}__", self.requires.len());
                    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
                    self.require(&format!("const {local} = "), &package, &names);
                    for (name, exported) in pairs {
                        let value = format!("{local}[{}]", serde_json::Value::from(name));
                        self.exports.push((exported, value));
                    }
                    after
                } else {
                    self.exports
                        .extend(pairs.into_iter().map(|(local, exported)| (exported, local)));
                    next
                };
                let end = self.semicolon(end);
                self.remove(i, end);
                Ok(end)
            }
            (Some(Kind::Punct), "*") => {
                let local = format!("__reexport{}__", self.requires.len());
                let (exported, from) = if self.is(j + 1, Kind::Word, "as") {
                    let (name, next) = self.module_export_name(j + 2)?;
                    (Some(name), next)
                } else {
                    (None, j + 1)
                };
                let (package, after) = self.source_clause(from)?;
                self.require(&format!("const {local} = "), &package, &[]);
                match exported {
                    Some(name) => self.exports.push((name, local)),
                    None => self.star_exports.push(local),
                }
                let end = self.semicolon(after);
                self.remove(i, end);
                Ok(end)
            }
            _ => Err(self.error(j, format!("unexpected `{}` after export", self.text(j)))),
        }
    }

    /// The name declared by `[async] function [*] name` or `class name` at `j`.
    fn declared_name(&self, j: usize) -> Result<String, SourceError> {
        let mut k = j;
        if self.is(k, Kind::Word, "async") {
            k += 1;
        }
        k += 1;
        if self.is(k, Kind::Punct, "*") {
            k += 1;
        }
        match self.tokens.get(k) {
            Some(t) if t.kind == Kind::Word && !matches!(self.text(k), "extends") => {
                Ok(self.text(k).to_string())
            }
            _ => Err(self.error(k, "an exported declaration needs a name")),
        }
    }

    /// `export default …` at `i`.
    fn export_default(&mut self, i: usize) -> Result<usize, SourceError> {
        let j = i + 2;
        let function = self.is(j, Kind::Word, "function")
            || (self.is(j, Kind::Word, "async") && self.is(j + 1, Kind::Word, "function"));
        if function || self.is(j, Kind::Word, "class") {
            let name = self.declared_name(j).ok();
            let local = name.clone().unwrap_or_else(|| DEFAULT_LOCAL.into());
            self.exports.push(("default".into(), local));
            self.remove(i, j);
            if name.is_none() {
                // An anonymous declaration gets a name, right after `function`, `*` or `class`.
                let mut k = j + usize::from(self.is(j, Kind::Word, "async")) + 1;
                if self.is(k, Kind::Punct, "*") {
                    k += 1;
                }
                let at = self.tokens[k - 1].end;
                self.edits.push(Edit {
                    start: at,
                    end: at,
                    text: format!(" {DEFAULT_LOCAL}"),
                });
            }
            return Ok(j);
        }
        self.exports.push(("default".into(), DEFAULT_LOCAL.into()));
        let (start, end) = (self.tokens[i].start, self.tokens[i + 1].end);
        self.edits.push(Edit {
            start,
            end,
            text: format!("const {DEFAULT_LOCAL} ="),
        });
        Ok(j)
    }

    /// The declarators of `export const|let|var` from `i`: each name is exported; their
    /// initializers are left alone. Returns the index after the statement.
    fn export_variables(&mut self, mut i: usize) -> Result<usize, SourceError> {
        loop {
            if self.tokens.get(i).is_none_or(|t| t.kind != Kind::Word) {
                return Err(self.error(
                    i,
                    "exporting a destructuring pattern is not supported: declare the names, \
                     then `export { … }`",
                ));
            }
            let name = self.text(i).to_string();
            self.exports.push((name.clone(), name));
            i += 1;
            let mut depth = 0usize;
            loop {
                let Some(token) = self.tokens.get(i) else {
                    return Ok(i);
                };
                let text = token.text(self.source);
                if token.kind == Kind::Punct {
                    match text {
                        "(" | "[" | "{" => depth += 1,
                        ")" | "]" | "}" => depth = depth.saturating_sub(1),
                        ";" if depth == 0 => return Ok(i + 1),
                        "," if depth == 0 => break,
                        _ => {}
                    }
                } else if depth == 0 && self.ends_by_newline(i) {
                    return Ok(i);
                }
                i += 1;
            }
            i += 1;
        }
    }

    /// Whether automatic semicolon insertion ends a statement before token `i`: it starts a
    /// new line, the token before it ends a value, and it cannot continue one.
    fn ends_by_newline(&self, i: usize) -> bool {
        let (token, before) = (self.tokens[i], self.tokens[i - 1]);
        if token.line == before.line + self.source[before.start..before.end].matches('\n').count() {
            return false;
        }
        let before_text = before.text(self.source);
        let ends_value = match before.kind {
            Kind::Punct => matches!(before_text, ")" | "]" | "}"),
            Kind::Template => before_text.ends_with('`'),
            _ => true,
        };
        let continues = match token.kind {
            Kind::Word => matches!(token.text(self.source), "in" | "instanceof" | "of"),
            Kind::Punct | Kind::Regex => true,
            Kind::Template => false,
            Kind::Str | Kind::Comment => false,
        };
        ends_value && !continues
    }

    /// The bundle code around the rewritten `body`.
    fn wrap(&self, body: &str) -> String {
        let mut code = String::from("var __vatExports__ = (function (exports) {'use strict';");
        for require in &self.requires {
            code.push_str(require);
        }
        code.push_str(body);
        if !body.ends_with('\n') {
            code.push('\n');
        }
        code.push(';');
        for local in &self.star_exports {
            code.push_str(&format!(
                "for (const name of Object.keys({local})) if (name !== 'default') exports[name] = {local}[name];"
            ));
        }
        for (name, value) in &self.exports {
            code.push_str(&format!(
                "exports[{}] = {value};",
                serde_json::Value::from(name.as_str())
            ));
        }
        code.push_str("return exports;})({});\n");
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "var __vatExports__ = (function (exports) {'use strict';";

    fn code(source: &str) -> String {
        convert(source, "v.js").unwrap().code
    }

    fn error(source: &str) -> String {
        convert(source, "v.js").unwrap_err().to_string()
    }

    #[test]
    fn imports_become_checked_requires_on_the_first_line() {
        let source = "import { E, Far as F } from '@endo/far';\n\
                      import * as patterns from \"@endo/patterns\"\n\
                      import utils, { makeDefaultExo } from '@metamask/kernel-utils';\n\
                      import '@endo/marshal';\n\
                      f(E, F);\n";
        let converted = convert(source, "v.js").unwrap();
        assert_eq!(
            converted.code,
            format!(
                "{HEAD}const {{ \"E\": E, \"Far\": F }} = require(\"@endo/far\", [\"E\",\"Far\"]);\
                 const patterns = require(\"@endo/patterns\", []);\
                 const {{ \"default\": utils, \"makeDefaultExo\": makeDefaultExo }} = \
                 require(\"@metamask/kernel-utils\", [\"default\",\"makeDefaultExo\"]);\
                 require(\"@endo/marshal\", []);\n\n\n\nf(E, F);\n;return exports;}})({{}});\n"
            )
        );
        assert_eq!(
            converted.external,
            [
                "@endo/far",
                "@endo/patterns",
                "@metamask/kernel-utils",
                "@endo/marshal"
            ]
        );
    }

    #[test]
    fn exports_of_every_form_are_collected_after_the_body() {
        let source = "export function buildRootObject() {}\n\
                      export async function* gen() {}\n\
                      export class C extends Object {}\n\
                      export const a = f(1, 2), b = { x: [3] }\n\
                      export let c\n\
                      const d = 1, e = 2;\n\
                      export { d, e as ee, };\n\
                      export { Far as MyFar } from '@endo/far';\n\
                      export * as pats from '@endo/patterns';\n\
                      export * from '@endo/marshal';\n\
                      export default harden({ d });\n";
        let converted = convert(source, "v.js").unwrap();
        assert_eq!(
            converted.exports,
            [
                "buildRootObject",
                "gen",
                "C",
                "a",
                "b",
                "c",
                "d",
                "ee",
                "MyFar",
                "pats",
                "default"
            ]
        );
        let code = converted.code;
        let lines: Vec<&str> = code.lines().collect();
        assert!(
            lines[0].ends_with(" function buildRootObject() {}"),
            "{code}"
        );
        assert_eq!(lines[1], " async function* gen() {}");
        assert_eq!(lines[3], " const a = f(1, 2), b = { x: [3] }");
        assert_eq!(lines[6], "");
        assert_eq!(lines[10], "const __default__ = harden({ d });");
        assert!(code.contains(
            "exports[\"a\"] = a;exports[\"b\"] = b;exports[\"c\"] = c;exports[\"d\"] = d;\
             exports[\"ee\"] = e;exports[\"MyFar\"] = __reexport0__[\"Far\"];\
             exports[\"pats\"] = __reexport1__;exports[\"default\"] = __default__;"
        ));
        assert!(code.contains("if (name !== 'default') exports[name] = __reexport2__[name];"));
    }

    #[test]
    fn anonymous_default_declarations_get_a_name() {
        assert!(code("export default function () {}").contains(" function __default__ () {}"));
        assert!(code("export default async function* () {}").contains("function* __default__ ()"));
        assert!(code("export default class {}").contains(" class __default__ {}"));
        let named = convert("export default function buildRootObject() {}", "v.js").unwrap();
        assert_eq!(named.exports, ["default"]);
        assert!(
            named
                .code
                .contains("exports[\"default\"] = buildRootObject;")
        );
    }

    #[test]
    fn import_and_export_inside_literals_and_comments_are_left_alone() {
        let source = "const s = 'import { x } from \"y\"'; // export const z = 1\n\
                      const t = `export ${ `import ${'a'}` } function`;\n\
                      /* import '@endo/far'; */ const r = /export {/g;\n\
                      const o = { import: 1, export: 2 }; o.import; o.export;\n\
                      export const buildRootObject = () => s + t + r;\n";
        let converted = convert(source, "v.js").unwrap();
        assert_eq!(converted.exports, ["buildRootObject"]);
        assert!(converted.external.is_empty());
        assert!(converted.code.contains("'import { x } from \"y\"'"));
        assert!(
            !converted.code.contains("export const z"),
            "comments are removed"
        );
        assert!(
            !converted.code.contains("/* import"),
            "comments are removed"
        );
        assert!(converted.code.contains("/export {/g"));
        assert_eq!(converted.code.lines().count(), source.lines().count() + 1);
    }

    #[test]
    fn what_ses_rejects_in_strings_is_escaped_without_changing_the_value() {
        let source = "const s = 'import(x) <!-- -->'; const t = `a import (b)`;";
        let code = code(source);
        assert!(code.contains(r"'\u0069mport(x) <\!-- --\>'"), "{code}");
        assert!(code.contains(r"`a \u0069mport (b)`"), "{code}");
        let hashbang = convert("#!/usr/bin/env node\nexport const a = 1;", "v.js").unwrap();
        assert!(!hashbang.code.contains("#!"));
    }

    #[test]
    fn unsupported_forms_are_errors_naming_file_and_line() {
        for (source, message) in [
            (
                "\nconst m = import('@endo/far');",
                "v.js:2: dynamic import() is not supported",
            ),
            ("f(import.meta.url)", "v.js:1: import.meta is not available"),
            (
                "a;\n\nimport { x } from './x.js';",
                "v.js:3: relative import './x.js'",
            ),
            (
                "import { x } from 'lodash';",
                "v.js:1: package 'lodash' is not provided to vats",
            ),
            (
                "export const { a, b } = o;",
                "v.js:1: exporting a destructuring pattern",
            ),
            (
                "import { a b } from '@endo/far';",
                "v.js:1: expected `,` or `}`, found `b`",
            ),
            ("import x;", "v.js:1: expected `from`, found `;`"),
            ("export 1;", "v.js:1: unexpected `1` after export"),
        ] {
            let error = error(source);
            assert!(error.starts_with(message), "{source}: {error}");
        }
    }

    #[test]
    fn statements_end_where_javascript_inserts_semicolons() {
        let source = "export const a = b\n  .c, d = e\nf()\nexport let g = h\n  in i\nj()";
        let converted = convert(source, "v.js").unwrap();
        assert_eq!(converted.exports, ["a", "d", "g"]);
    }
}
