//! The runtime scripts (`scripts.rs`) as precompiled QuickJS bytecode. The first vat of the
//! process compiles each script and keeps its bytecode; every later vat reads that instead of
//! parsing the JavaScript again. Bytecode is only ever what this process wrote, with this
//! QuickJS, which is what makes reading it sound.

use rquickjs::{Ctx, Error, Value, qjs};
use std::ffi::CString;
use std::sync::OnceLock;

/// The bytecode of each of [`super::scripts::ALL`], once compiled.
static CACHE: [OnceLock<Vec<u8>>; super::scripts::ALL.len()] =
    [const { OnceLock::new() }; super::scripts::ALL.len()];

/// Runs script `index` of [`super::scripts::ALL`] in `ctx` as a strict global script, from its
/// bytecode, compiling it first if no vat of this process has yet.
pub fn evaluate(ctx: &Ctx<'_>, index: usize) -> rquickjs::Result<()> {
    let bytes = match CACHE[index].get() {
        Some(bytes) => bytes,
        None => {
            let (name, source) = super::scripts::ALL[index];
            let compiled = compile(ctx, &file_name(name), source)?;
            CACHE[index].get_or_init(|| compiled)
        }
    };
    run(ctx, bytes)
}

/// The file name of runtime script `name` in stack frames: under a `node_modules` folder, which
/// SES's concise stack traces leave out as infrastructure (as they leave out SES and liveslots
/// on Node), so that a vat's stack shows the vat's own frames.
fn file_name(name: &str) -> String {
    format!("ocapd/node_modules/vat-runtime/{name}.js")
}

/// `source` compiled (not run) as a strict global script named `name`, as bytecode.
fn compile(ctx: &Ctx<'_>, name: &str, source: &str) -> rquickjs::Result<Vec<u8>> {
    let code = CString::new(source)?;
    let file = CString::new(name)?;
    let raw = ctx.as_raw().as_ptr();
    // Strict, as `Ctx::eval` evaluates by default (SES refuses to start in sloppy mode).
    let flags = (qjs::JS_EVAL_TYPE_GLOBAL
        | qjs::JS_EVAL_FLAG_STRICT
        | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    // SAFETY: the strings outlive the call; the result is owned by `function`, which frees it.
    let function = unsafe {
        let value = qjs::JS_Eval(
            raw,
            code.as_ptr(),
            source.len() as qjs::size_t,
            file.as_ptr(),
            flags,
        );
        Value::from_raw(ctx.clone(), value)
    };
    if function.is_exception() {
        return Err(Error::Exception);
    }
    let mut length: qjs::size_t = 0;
    let flags = qjs::JS_WRITE_OBJ_BYTECODE as i32;
    // SAFETY: `function` is alive; the buffer QuickJS returns is copied, then freed with the
    // context's allocator, as JS_WriteObject requires.
    unsafe {
        let buffer = qjs::JS_WriteObject(raw, &mut length, function.as_raw(), flags);
        if buffer.is_null() {
            return Err(Error::Exception);
        }
        let bytes = std::slice::from_raw_parts(buffer, length as usize).to_vec();
        qjs::js_free(raw, buffer.cast());
        Ok(bytes)
    }
}

/// Reads bytecode written by [`compile`] and runs it.
fn run(ctx: &Ctx<'_>, bytes: &[u8]) -> rquickjs::Result<()> {
    let raw = ctx.as_raw().as_ptr();
    let flags = qjs::JS_READ_OBJ_BYTECODE as i32;
    // SAFETY: `bytes` is bytecode this process's QuickJS wrote (see the module comment).
    // JS_EvalFunction takes ownership of the function; its result is owned by `result`.
    let result = unsafe {
        let function = qjs::JS_ReadObject(raw, bytes.as_ptr(), bytes.len() as qjs::size_t, flags);
        if qjs::JS_IsException(function) {
            return Err(Error::Exception);
        }
        Value::from_raw(ctx.clone(), qjs::JS_EvalFunction(raw, function))
    };
    if result.is_exception() {
        return Err(Error::Exception);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    #[test]
    fn bytecode_runs_like_the_source_and_errors_keep_their_place() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let bytes = compile(&ctx, "answer", "globalThis.answer = 6 * 7;").unwrap();
            run(&ctx, &bytes).unwrap();
            assert_eq!(ctx.globals().get::<_, i32>("answer").unwrap(), 42);
            let error = compile(&ctx, "broken", "let a = 1;\nlet b = ;").unwrap_err();
            let text = super::super::describe(&ctx, error);
            assert!(text.contains("broken:2"), "{text}");
            let bytes = compile(&ctx, "thrower", "throw Error('at run time');").unwrap();
            let error = run(&ctx, &bytes).unwrap_err();
            assert!(super::super::describe(&ctx, error).contains("at run time"));
        });
    }
}
