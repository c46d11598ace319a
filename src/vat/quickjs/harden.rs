//! A native `harden` for SES: SES uses a `globalThis.harden` that exists before it loads (as XS
//! provides one; ours is made in `vat-runtime/src/prelude.js`) instead of its own, which, written
//! in JavaScript, was a third of a trivial delivery in QuickJS. This is the same algorithm as
//! SES's `makeHardener` (`ses/src/make-hardener.js`), done by QuickJS's C API:
//!
//! - a value already hardened, or a primitive, is left as it is;
//! - otherwise every object reachable from the root through own properties (string and symbol
//!   keys, enumerable or not: data values, getters and setters) and prototypes is frozen
//!   (`Object.freeze`; a typed array is made non-extensible and its non-index properties
//!   read-only and non-configurable, its elements staying writable, as in SES), each object
//!   frozen before its properties are read, so that a proxy cannot add any meanwhile;
//! - only when all of them are frozen are they recorded as hardened (in a `WeakSet`, so that
//!   they may still be collected); if anything throws, nothing is recorded and the exception
//!   goes to the caller.
//!
//! Proxy traps may run JavaScript during the walk, even `harden` itself: the walk keeps no state
//! outside its own call.

use rquickjs::{Ctx, Function, Object, Value, qjs};
use std::collections::HashSet;
use std::mem::MaybeUninit;

/// Installs `ocapHost.harden(root, hardened, has, add)`: the walk, over the `WeakSet`
/// `hardened` and its methods `has` and `add`. `prelude.js` makes `globalThis.harden` of it, with
/// the set in a JavaScript closure: a Rust closure holding JavaScript objects would hide them
/// from QuickJS's cycle collector.
pub fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    let harden = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>,
         root: Value<'js>,
         set: Object<'js>,
         has: Function<'js>,
         add: Function<'js>|
         -> rquickjs::Result<Value<'js>> {
            harden(&ctx, &Hardened { set, has, add }, root)
        },
    )?;
    host.set("harden", harden)
}

/// The objects hardened so far, and the `WeakSet` methods to ask and record.
struct Hardened<'js> {
    set: Object<'js>,
    has: Function<'js>,
    add: Function<'js>,
}

impl<'js> Hardened<'js> {
    fn has(&self, value: &Value<'js>) -> rquickjs::Result<bool> {
        let answer = self.call(&self.has, value)?;
        // SAFETY: `answer` is the owned result of `has`, read and freed here.
        unsafe {
            let ctx = self.set.ctx().as_raw().as_ptr();
            let truthy = qjs::JS_ToBool(ctx, answer) == 1;
            qjs::JS_FreeValue(ctx, answer);
            Ok(truthy)
        }
    }

    fn add(&self, value: &Value<'js>) -> rquickjs::Result<()> {
        let set = self.call(&self.add, value)?;
        // SAFETY: `set` is the owned result of `add` (the set), freed here.
        unsafe { qjs::JS_FreeValue(self.set.ctx().as_raw().as_ptr(), set) };
        Ok(())
    }

    /// `method.call(set, value)`, straight through QuickJS (this runs for every object `harden`
    /// meets); the result is the caller's to free.
    fn call(&self, method: &Function<'js>, value: &Value<'js>) -> rquickjs::Result<qjs::JSValue> {
        let mut argv = [value.as_raw()];
        // SAFETY: the function, `this` and the argument are live values of this context, which
        // QuickJS only borrows for the call.
        let result = unsafe {
            qjs::JS_Call(
                self.set.ctx().as_raw().as_ptr(),
                method.as_raw(),
                self.set.as_raw(),
                1,
                argv.as_mut_ptr(),
            )
        };
        if unsafe { qjs::JS_IsException(result) } {
            return Err(rquickjs::Error::Exception);
        }
        Ok(result)
    }
}

fn harden<'js>(
    ctx: &Ctx<'js>,
    hardened: &Hardened<'js>,
    root: Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    let mut walk = Walk {
        hardened,
        queue: Vec::new(),
        queued: HashSet::new(),
    };
    walk.enqueue(&root)?;
    let mut next = 0;
    while next < walk.queue.len() {
        let object = walk.queue[next].clone();
        freeze(ctx, &object)?;
        let (values, prototype) = outbound(ctx, &object)?;
        walk.enqueue(&prototype)?;
        for value in &values {
            walk.enqueue(value)?;
        }
        next += 1;
    }
    for object in &walk.queue {
        hardened.add(object)?;
    }
    Ok(root)
}

/// The objects of one `harden` call still to freeze, in the order SES visits them.
struct Walk<'a, 'js> {
    hardened: &'a Hardened<'js>,
    queue: Vec<Value<'js>>,
    /// Identities of the queued objects. They stay alive in `queue` for the whole call, so an
    /// address cannot be reused by another object meanwhile.
    queued: HashSet<usize>,
}

impl<'js> Walk<'_, 'js> {
    fn enqueue(&mut self, value: &Value<'js>) -> rquickjs::Result<()> {
        if !value.is_object() {
            return Ok(());
        }
        let id = identity(value);
        if self.queued.contains(&id) || self.is_hardened(value)? {
            return Ok(());
        }
        self.queued.insert(id);
        self.queue.push(value.clone());
        Ok(())
    }

    /// Whether `value` was hardened before. An extensible object was not (hardened objects are
    /// frozen), which spares asking the set about most new objects; a proxy is always asked,
    /// as asking it whether it is extensible would run its trap.
    fn is_hardened(&self, value: &Value<'js>) -> rquickjs::Result<bool> {
        // SAFETY: `value` is a live object of this context.
        let extensible = unsafe {
            !qjs::JS_IsProxy(value.as_raw())
                && qjs::JS_IsExtensible(value.ctx().as_raw().as_ptr(), value.as_raw()) == 1
        };
        if extensible {
            return Ok(false);
        }
        self.hardened.has(value)
    }
}

fn identity(value: &Value<'_>) -> usize {
    // SAFETY: `value` is an object (checked by the caller), whose payload is its pointer.
    unsafe { qjs::JS_VALUE_GET_PTR(value.as_raw()) as usize }
}

/// `Object.freeze`, or for a typed array what SES does instead (freezing one with elements
/// throws).
fn freeze<'js>(ctx: &Ctx<'js>, object: &Value<'js>) -> rquickjs::Result<()> {
    let raw_ctx = ctx.as_raw().as_ptr();
    // SAFETY: `object` is a live object of this context.
    unsafe {
        if qjs::JS_GetTypedArrayType(object.as_raw()) < 0 {
            return check(qjs::JS_FreezeObject(raw_ctx, object.as_raw()));
        }
        check(qjs::JS_PreventExtensions(raw_ctx, object.as_raw()))?;
    }
    for (atom, descriptor) in own_properties(ctx, object)? {
        if is_integer_index(ctx, atom.raw)? {
            continue;
        }
        let mut flags = qjs::JS_PROP_HAS_CONFIGURABLE | qjs::JS_PROP_THROW;
        if !descriptor.accessor {
            flags |= qjs::JS_PROP_HAS_WRITABLE;
        }
        let undefined = qjs::JS_UNDEFINED;
        // SAFETY: `atom` is held by `atom`; no values are given, only attributes changed.
        let done = unsafe {
            qjs::JS_DefineProperty(
                raw_ctx,
                object.as_raw(),
                atom.raw,
                undefined,
                undefined,
                undefined,
                flags as i32,
            )
        };
        check(done)?;
    }
    Ok(())
}

/// What `object` links to: its own properties' values, getters and setters, and its prototype.
fn outbound<'js>(
    ctx: &Ctx<'js>,
    object: &Value<'js>,
) -> rquickjs::Result<(Vec<Value<'js>>, Value<'js>)> {
    let mut values = Vec::new();
    for (_, descriptor) in own_properties(ctx, object)? {
        values.extend(descriptor.values);
    }
    let prototype = match object.as_object() {
        Some(o) => o
            .get_prototype()
            .map(Object::into_value)
            .unwrap_or_else(|| Value::new_null(ctx.clone())),
        None => Value::new_null(ctx.clone()),
    };
    Ok((values, prototype))
}

/// A property key, freed when dropped.
struct OwnedAtom<'js> {
    ctx: Ctx<'js>,
    raw: qjs::JSAtom,
}

impl Drop for OwnedAtom<'_> {
    fn drop(&mut self) {
        // SAFETY: the atom was duplicated for this value alone.
        unsafe { qjs::JS_FreeAtom(self.ctx.as_raw().as_ptr(), self.raw) }
    }
}

/// What `harden` needs of a property descriptor.
struct Descriptor<'js> {
    accessor: bool,
    /// The value, or the getter and setter.
    values: Vec<Value<'js>>,
}

/// Every own property of `object` (string and symbol keys, enumerable or not), with its
/// descriptor, in the order of `Reflect.ownKeys`.
fn own_properties<'js>(
    ctx: &Ctx<'js>,
    object: &Value<'js>,
) -> rquickjs::Result<Vec<(OwnedAtom<'js>, Descriptor<'js>)>> {
    let raw_ctx = ctx.as_raw().as_ptr();
    let mut table: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
    let mut length: u32 = 0;
    let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_SYMBOL_MASK) as i32;
    // SAFETY: on success QuickJS hands over `length` entries, each atom owned by the table.
    let names = unsafe {
        check(qjs::JS_GetOwnPropertyNames(
            raw_ctx,
            &mut table,
            &mut length,
            object.as_raw(),
            flags,
        ))?;
        let entries = std::slice::from_raw_parts(table, length as usize);
        let names: Vec<OwnedAtom> = entries
            .iter()
            .map(|entry| OwnedAtom {
                ctx: ctx.clone(),
                raw: qjs::JS_DupAtom(raw_ctx, entry.atom),
            })
            .collect();
        qjs::JS_FreePropertyEnum(raw_ctx, table, length);
        names
    };
    let mut properties = Vec::with_capacity(names.len());
    for atom in names {
        if let Some(descriptor) = own_property(ctx, object, &atom)? {
            properties.push((atom, descriptor));
        }
    }
    Ok(properties)
}

/// The descriptor of `object`'s own property `atom`, if it has one.
fn own_property<'js>(
    ctx: &Ctx<'js>,
    object: &Value<'js>,
    atom: &OwnedAtom<'js>,
) -> rquickjs::Result<Option<Descriptor<'js>>> {
    let mut raw = MaybeUninit::<qjs::JSPropertyDescriptor>::uninit();
    // SAFETY: when found (1), QuickJS fills the descriptor with values the caller owns, which
    // are wrapped at once so that they are freed.
    unsafe {
        let found = qjs::JS_GetOwnProperty(
            ctx.as_raw().as_ptr(),
            raw.as_mut_ptr(),
            object.as_raw(),
            atom.raw,
        );
        check(found)?;
        if found == 0 {
            return Ok(None);
        }
        let raw = raw.assume_init();
        let value = Value::from_raw(ctx.clone(), raw.value);
        let getter = Value::from_raw(ctx.clone(), raw.getter);
        let setter = Value::from_raw(ctx.clone(), raw.setter);
        let accessor = raw.flags & qjs::JS_PROP_GETSET as i32 != 0;
        let values = if accessor {
            vec![getter, setter]
        } else {
            vec![value]
        };
        Ok(Some(Descriptor { accessor, values }))
    }
}

/// Whether `atom` is a canonical integer index (`"0"`, `"17"`, not `"01"` or `"-0"`): a typed
/// array's element.
fn is_integer_index(ctx: &Ctx<'_>, atom: qjs::JSAtom) -> rquickjs::Result<bool> {
    // SAFETY: the string QuickJS returns is owned, and wrapped at once.
    let key = unsafe {
        Value::from_raw(
            ctx.clone(),
            qjs::JS_AtomToValue(ctx.as_raw().as_ptr(), atom),
        )
    };
    let Some(key) = key.as_string() else {
        return Ok(false);
    };
    let key = key.to_string()?;
    let Ok(number) = key.parse::<f64>() else {
        return Ok(false);
    };
    Ok(number.fract() == 0.0 && number.abs() < 1e21 && format!("{}", number as i128) == key)
}

/// A QuickJS status (negative: an exception is pending) as a result.
fn check(status: i32) -> rquickjs::Result<()> {
    if status < 0 {
        Err(rquickjs::Error::Exception)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::vat::quickjs::{Engine, Limits};

    /// Evaluates `script` in a locked-down vat context (SES's `harden` being ours).
    fn eval(script: &str) -> Vec<serde_json::Value> {
        let engine = Engine::new("v1", vec![], Limits::default()).unwrap();
        engine.context.with(|ctx| {
            let json: String = ctx
                .eval(format!("JSON.stringify((() => {{ {script} }})())"))
                .unwrap_or_else(|e| panic!("{e}: {:?}", ctx.catch()));
            serde_json::from_str(&json).unwrap()
        })
    }

    #[test]
    fn everything_reachable_is_frozen_and_the_root_returned() {
        let got = eval(
            "const proto = { p: {} };
             const o = Object.create(proto);
             o.a = { b: {} };
             o[Symbol('s')] = {};
             Object.defineProperty(o, 'hidden', { value: {}, enumerable: false });
             Object.defineProperty(o, 'g', { get: function g() { throw Error('called'); },
               configurable: true });
             const frozenOnly = Object.freeze({ c: {} });
             const s = Object.getOwnPropertySymbols(o)[0];
             return [
               harden(o) === o, harden(3), harden('x'), harden(null) === null,
               [o, o.a, o.a.b, o[s], o.hidden, proto, proto.p,
                Object.getOwnPropertyDescriptor(o, 'g').get].every(Object.isFrozen),
               Object.isFrozen(harden(frozenOnly).c),
               Object.isFrozen(harden(function f() {}).prototype),
             ];",
        );
        assert_eq!(
            got,
            serde_json::json!([true, 3, "x", true, true, true, true])
                .as_array()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn a_typed_array_keeps_writable_elements_but_nothing_else() {
        let got = eval(
            "const ta = new Uint8Array(2);
             ta.extra = {};
             harden(ta);
             ta[0] = 5;
             const d = Object.getOwnPropertyDescriptor(ta, 'extra');
             let added = true;
             try { ta.more = 1; } catch { added = false; }
             return [ta[0], Object.isExtensible(ta), d.writable, d.configurable,
                     Object.isFrozen(ta.extra), added];",
        );
        assert_eq!(
            got,
            serde_json::json!([5, false, false, false, true, false])
                .as_array()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn a_throwing_proxy_fails_the_call_and_records_nothing() {
        let got = eval(
            "let fail = true;
             const inner = {};
             const p = new Proxy({ inner }, { ownKeys(t) {
               if (fail) { throw Error('no keys'); }
               harden({ during: {} });
               return Reflect.ownKeys(t);
             } });
             const holder = { p };
             let error = '';
             try { harden(holder); } catch (e) { error = e.message; }
             const before = Object.isFrozen(inner);
             fail = false;
             harden(holder);
             return [error, before, Object.isFrozen(inner), Object.isFrozen(holder)];",
        );
        assert_eq!(
            got,
            serde_json::json!(["no keys", false, true, true])
                .as_array()
                .unwrap()
                .clone()
        );
    }
}
