//! Plain ES-module vat sources, turned into the reference bundle format (spec §7.1) without a
//! JavaScript engine, so that both `ocapctl bundle` and the daemon can do it.
//!
//! A vat source is one module that imports only the packages the vat runtime provides
//! ([`PACKAGES`]). Its `import` declarations become calls to `require(package, names)`, a
//! function the runtime hands to the bundle's code (it checks that each imported name exists),
//! and its `export`s become properties of the bundle's `exports`. Everything else is left where
//! it was, so line numbers in the vat's stack traces are the source's. Comments are removed and
//! `import(` inside strings is escaped, because SES refuses to evaluate either.
//!
//! Relative imports are refused rather than inlined: a vat made of several files can be bundled
//! by any bundler into the `iife` format, which `ocapd` runs as it is.

mod lexer;
mod module;

use serde_json::{Value, json};

/// The packages a vat source may import, all provided by the vat runtime at run time (in
/// `vat-runtime/src/packages.js`, from the versions the npm lockfile pins; `@metamask/kernel-utils`
/// is our own equivalent of the reference's `makeDefaultExo` and `makeDefaultInterface`).
pub const PACKAGES: [&str; 7] = [
    "@endo/eventual-send",
    "@endo/exo",
    "@endo/far",
    "@endo/marshal",
    "@endo/patterns",
    "@metamask/kernel-utils",
    "@metamask/kernel-utils/exo",
];

/// Why a source cannot be turned into a bundle, at `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct SourceError {
    /// The source's name, as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl SourceError {
    fn new(file: &str, line: usize, message: impl Into<String>) -> SourceError {
        SourceError {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

/// A module turned into the code of a reference bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// `var __vatExports__ = (function (exports) {…; return exports;})({});`
    pub code: String,
    /// The module's export names, in source order.
    pub exports: Vec<String>,
    /// The packages it imports, each once, in source order.
    pub external: Vec<String>,
}

/// Whether a file name says it holds an ES module (rather than a bundle's JSON).
pub fn is_module_path(path: &str) -> bool {
    path.ends_with(".js") || path.ends_with(".mjs")
}

/// Turns the module `source` (named `file` in errors) into bundle code. The module must export
/// `buildRootObject`, as every vat does.
pub fn convert(source: &str, file: &str) -> Result<Converted, SourceError> {
    let converted = module::convert(source, file)?;
    if !converted.exports.iter().any(|e| e == "buildRootObject") {
        return Err(SourceError::new(
            file,
            1,
            "the module does not export buildRootObject, so it cannot be a vat",
        ));
    }
    Ok(converted)
}

/// The reference bundle (`{"moduleFormat":"iife","code",…}`) of the module `source`.
pub fn bundle(source: &str, file: &str) -> Result<Value, SourceError> {
    let converted = convert(source, file)?;
    Ok(json!({
        "moduleFormat": "iife",
        "code": converted.code,
        "exports": converted.exports,
        "external": converted.external,
    }))
}
