//! C library number parsing and formatting as QEMU 0.14 relies on it: `strtoul`,
//! `strtol`, `sscanf("%x")`, `sscanf("%d")`, `strtod` prefixes and `printf("%.17g")`.
//!
//! qdev property parsers, QemuOpts validation and `qemu_opts_from_qdict` accept or
//! reject client text exactly by these rules, so the model reproduces them rather
//! than using Rust's stricter parsers. Pure functions, no I/O, no locale.

/// `strtoul(s, &end, base)` followed by 0.14's `*end != '\0' || end == s` check.
/// Returns the value C would store (negative input wraps, overflow saturates).
pub fn strtoul_full(s: &str, base: u32) -> Option<u64> {
    let (value, used) = strtoul_prefix(s, base)?;
    (used == s.len()).then_some(value)
}

/// An optional `-` or `+` at `i`, as strtol and sscanf take it: whether it was a
/// minus, and the index after it.
fn sign(b: &[u8], i: usize) -> (bool, usize) {
    match b.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

/// A decimal number as `strtol` and `sscanf("%d")` read it: leading white
/// space, an optional sign, then digits. Returns whether it was negative, the
/// digits and the index after them; `None` when there are no digits.
fn decimal(s: &str) -> Option<(bool, &[u8], usize)> {
    let b = s.as_bytes();
    let (negative, start) = sign(b, skip_space(b, 0));
    let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    (end > start).then(|| (negative, &b[start..end], end))
}

/// `strtol(s, &end, 10)` without the whole-string check: the value (saturated)
/// and the bytes consumed; `None` when no digits were found.
pub fn strtol_prefix(s: &str) -> Option<(i64, usize)> {
    let (negative, digits, end) = decimal(s)?;
    let value = digits.iter().fold(0i64, |v, d| {
        v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some((if negative { -value } else { value }, end))
}

/// `strtol(s, &end, 10)` with the whole-string check, as `parse_int32` uses it.
pub fn strtol_full(s: &str) -> Option<i64> {
    let (value, used) = strtol_prefix(s)?;
    (used == s.len()).then_some(value)
}

/// C `atoi`: [`strtol_prefix`]'s value; no digits give 0.
pub fn atoi(s: &str) -> i64 {
    strtol_prefix(s).map_or(0, |(value, _)| value)
}

/// `strtoul` without the whole-string check: the value and the bytes consumed
/// (`None` when no digits were found, i.e. `end == s`).
pub fn strtoul_prefix(s: &str, base: u32) -> Option<(u64, usize)> {
    let b = s.as_bytes();
    let mut i = skip_space(b, 0);
    let negative;
    (negative, i) = sign(b, i);
    let mut radix = base;
    let hex_prefix = b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if (radix == 0 || radix == 16) && hex_prefix {
        radix = 16;
        i += 2;
    } else if radix == 0 {
        radix = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| char::from(*c).to_digit(radix)) {
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    if overflow {
        return Some((u64::MAX, i));
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        i,
    ))
}

/// One `%x` conversion of `sscanf`: leading blanks, an optional sign and `0x`,
/// then hex digits. Returns the value (as `unsigned int`) and the bytes consumed.
pub fn scan_hex(s: &str) -> Option<(u32, usize)> {
    let (value, used) = strtoul_prefix(s, 16)?;
    // sscanf stores into an unsigned int: the low 32 bits.
    let low = u32::try_from(value & u64::from(u32::MAX)).expect("masked to 32 bits");
    Some((low, used))
}

/// One `%d` conversion of `sscanf` (trailing text is ignored, as in 0.14).
pub fn scan_int(s: &str) -> Option<i32> {
    scan_int_prefix(s).map(|(value, _)| value)
}

/// One `%d` conversion of `sscanf`: the value and the bytes consumed.
pub fn scan_int_prefix(s: &str) -> Option<(i32, usize)> {
    let (negative, digits, end) = decimal(s)?;
    // An int keeps the low 32 bits, as 0.14's sscanf does on overflow.
    let value = digits
        .iter()
        .fold(0i64, |v, d| (v * 10 + i64::from(d - b'0')) & 0xFFFF_FFFF);
    let value = if negative { -value } else { value };
    let low = u32::try_from(value & 0xFFFF_FFFF).expect("masked to 32 bits");
    Some((i32::from_ne_bytes(low.to_ne_bytes()), end))
}

/// The length of the longest prefix `strtod` would consume (0 when none).
pub fn strtod_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = skip_space(b, 0);
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        digits += j - frac_start;
        if digits > 0 {
            i = j;
        }
    }
    if digits == 0 {
        return 0;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

/// `printf("%.17g", f)` for finite and non-finite doubles.
pub fn format_g17(f: f64) -> String {
    const PRECISION: i32 = 17;
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // The exponent %e would print with PRECISION - 1 fraction digits.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, f);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} output has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (PRECISION - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{f:.decimals$}")).to_owned()
    }
}

fn trim_fraction(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_base0_accepts_hex_octal_decimal() {
        assert_eq!(strtoul_full("0x1f", 0), Some(31));
        assert_eq!(strtoul_full("017", 0), Some(15));
        assert_eq!(strtoul_full("17", 0), Some(17));
    }

    #[test]
    fn strtoul_trailing_garbage_is_rejected() {
        assert_eq!(strtoul_full("12k", 0), None);
        assert_eq!(strtoul_full("", 0), None);
    }

    #[test]
    fn strtoul_negative_wraps_like_c() {
        assert_eq!(strtoul_full("-1", 0), Some(u64::MAX));
    }

    #[test]
    fn strtoul_overflow_saturates() {
        assert_eq!(strtoul_full("99999999999999999999999", 10), Some(u64::MAX));
    }

    #[test]
    fn strtol_rejects_hex() {
        assert_eq!(strtol_full("0x10"), None);
        assert_eq!(strtol_full("-5"), Some(-5));
    }

    #[test]
    fn scan_hex_reads_prefix_and_reports_length() {
        assert_eq!(scan_hex("1f.2"), Some((31, 2)));
        assert_eq!(scan_hex("0x5"), Some((5, 3)));
        assert_eq!(scan_hex("zz"), None);
    }

    #[test]
    fn scan_int_ignores_trailing_text() {
        assert_eq!(scan_int("3abc"), Some(3));
        assert_eq!(scan_int("abc"), None);
    }

    #[test]
    fn strtod_prefix_stops_at_suffix() {
        // A sign, a point and an exponent count only with digits.
        let rows = [
            ("1.5M", 3),
            ("k", 0),
            ("2e3x", 3),
            ("2e+3x", 4),
            ("2e-3", 4),
            ("2e+x", 1),
            ("-2.5x", 4),
            (" +7", 3),
            ("-.5", 3),
            ("5.", 2),
            (".x", 0),
            ("-", 0),
        ];
        for (text, len) in rows {
            assert_eq!(strtod_prefix_len(text), len, "{text:?}");
        }
    }

    #[test]
    fn g17_formats_like_printf() {
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(100.0), "100");
        assert_eq!(format_g17(1e-5), "1.0000000000000001e-05");
    }
}
