//! JavaScript's `Number.prototype.toString()` for f64 (ECMA-262 Number::toString).

/// Formats `x` exactly as JavaScript's `String(x)` / `JSON.stringify` would.
///
/// JSON.stringify differs only for non-finite values (it prints `null`);
/// callers writing JSON handle that themselves.
pub fn js_number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        // Covers -0 too: JavaScript prints both zeros as "0".
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x < 0.0 {
        return format!("-{}", js_number_to_string(-x));
    }
    let (digits, n) = shortest_digits(x);
    let digits = prefer_even_on_tie(x, digits, n);
    layout(&digits, n)
}

/// Shortest round-trip decimal digits `d1…dk` and the exponent `n` such that
/// `x = 0.d1…dk × 10^n` (the `k` and `n` of the ECMAScript algorithm).
fn shortest_digits(x: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest digits that round-trip, choosing the
    // closest candidate as JavaScript does; exact ties are fixed up later.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// ECMAScript breaks a tie between two equally close shortest candidates by
/// taking the even one; Rust rounds the tie up (758514881134033.25 prints as
/// `…033.3` in Rust but `…033.2` in JavaScript). A tie means the exact value
/// of `x` is the `k`-digit lower candidate followed by a single `5`.
fn prefer_even_on_tie(x: f64, digits: String, n: i32) -> String {
    let k = digits.len();
    // Cheap filter: the correctly rounded (k+1)-digit form must end in 5.
    let (near, near_exp) = scientific_digits(x, k);
    if !near.ends_with('5') || near_exp + 1 != n {
        return digits;
    }
    // Exact check: 767 fractional digits hold any f64 exactly.
    let (exact, _) = scientific_digits(x, 767);
    let (head, tail) = exact.split_at(k.min(exact.len()));
    if !tail.starts_with('5') || !tail.bytes().skip(1).all(|b| b == b'0') {
        return digits;
    }
    let lower = head.to_string();
    let Some(upper) = increment(&lower) else {
        return digits;
    };
    let even = if last_digit_even(&lower) {
        lower
    } else {
        upper
    };
    let round_trips = format!("0.{even}e{n}").parse::<f64>() == Ok(x);
    if round_trips { even } else { digits }
}

/// The significant digits and decimal exponent of `x` printed with
/// `precision` digits after the point (correctly rounded by Rust).
fn scientific_digits(x: f64, precision: usize) -> (String, i32) {
    let sci = format!("{x:.precision$e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Adds one in the last decimal place; `None` if that needs an extra digit.
fn increment(digits: &str) -> Option<String> {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

fn last_digit_even(digits: &str) -> bool {
    // b'0' is even, so an ASCII digit's byte has the digit's parity.
    digits.bytes().last().is_some_and(|b| b.is_multiple_of(2))
}

/// Places the decimal point per the ECMAScript rules: plain notation for
/// exponents in (-6, 21], otherwise `d.ddde±n`.
fn layout(digits: &str, n: i32) -> String {
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e >= 0 { '+' } else { '-' };
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", e.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_javascript_table() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (0.000001234, "0.000001234"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (1152921504606846976.0, "1152921504606847000"),
            (123.456, "123.456"),
            // Ties between two shortest candidates go to the even digit.
            (758514881134033.0 + 0.25, "758514881134033.2"),
            (758514881134033.0 + 0.75, "758514881134033.8"),
            (1.5e300, "1.5e+300"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(js_number_to_string(*x), *want, "formatting {x:e}");
        }
    }

    #[test]
    fn powers_of_two_to_53() {
        assert_eq!(js_number_to_string(2f64.powi(53)), "9007199254740992");
        assert_eq!(js_number_to_string(2f64.powi(53) + 2.0), "9007199254740994");
    }

    #[test]
    fn output_round_trips() {
        for x in [
            0.1,
            2.5e-8,
            7e22,
            1.0 / 3.0,
            4.35,
            5e-324,
            1.7976931348623157e308,
        ] {
            let text = js_number_to_string(x);
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
        }
    }
}
