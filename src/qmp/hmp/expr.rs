//! HMP integer expressions (0.14 monitor.c `get_expr`): what `i`, `l` and `M`
//! arguments accept. Sums, products, `& | ^`, unary `+ - ~`, parentheses,
//! `'c'` character constants, `$reg` registers and `strtoull` numbers (decimal,
//! `0x` hex, leading-`0` octal), with 0.14's error texts. Arithmetic wraps as the
//! C `int64_t` code does on two's-complement hardware. Pure.

use crate::machine::devices::cfmt;

/// Deepest nesting evaluated, counting every open sum (the whole expression and
/// each parenthesis) and every unary operand. 0.14 recurses without a limit and
/// crashes on deep input; past this the expression is refused with its `TOO_DEEP` message.
pub const EXPR_DEPTH_MAX: usize = 256;

/// The message for an expression nested deeper than [`EXPR_DEPTH_MAX`].
pub const TOO_DEEP: &str = "expression too deeply nested";

/// Longest register name kept (`char buf[128]`).
pub const REGISTER_NAME_BYTES_MAX: usize = 127;

/// Register lookup: `$name` → value, `None` for an unknown register.
pub type Registers<'a> = &'a dyn Fn(&str) -> Option<i64>;

/// `qemu_isspace`.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

struct Eval<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    regs: Registers<'a>,
}

/// `get_expr`: evaluates an expression starting at `*pos` (leading blanks
/// skipped) and leaves `*pos` after it and the blanks that follow. An error is
/// the text 0.14 prints (without the newline).
pub fn get_expr(s: &str, pos: &mut usize, regs: Registers<'_>) -> Result<i64, &'static str> {
    let mut e = Eval {
        s: s.as_bytes(),
        pos: *pos,
        depth: 0,
        regs,
    };
    e.skip_space();
    let result = e.sum();
    *pos = e.pos;
    result
}

impl Eval<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    fn skip_space(&mut self) {
        while is_space(self.peek()) {
            self.pos += 1;
        }
    }

    /// `next()`: past the current character, then past blanks.
    fn next(&mut self) {
        if self.peek() != 0 {
            self.pos += 1;
            self.skip_space();
        }
    }

    fn enter(&mut self) -> Result<(), &'static str> {
        self.depth += 1;
        if self.depth > EXPR_DEPTH_MAX {
            return Err(TOO_DEEP);
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<i64, &'static str> {
        self.enter()?;
        let n = self.unary_inner();
        self.depth -= 1;
        n
    }

    fn unary_inner(&mut self) -> Result<i64, &'static str> {
        match self.peek() {
            b'+' => {
                self.next();
                self.unary()
            }
            b'-' => {
                self.next();
                Ok(self.unary()?.wrapping_neg())
            }
            b'~' => {
                self.next();
                Ok(!self.unary()?)
            }
            b'(' => {
                self.next();
                let n = self.sum()?;
                if self.peek() != b')' {
                    return Err("')' expected");
                }
                self.next();
                Ok(n)
            }
            b'\'' => {
                self.pos += 1;
                let c = self.peek();
                if c == 0 {
                    return Err("character constant expected");
                }
                self.pos += 1;
                if self.peek() != b'\'' {
                    return Err("missing terminating ' character");
                }
                self.next();
                // `char` is signed on x86.
                Ok(i64::from(i8::from_ne_bytes([c])))
            }
            b'$' => self.register(),
            0 => Err("unexpected end of expression"),
            _ => {
                let rest = std::str::from_utf8(&self.s[self.pos..]).unwrap_or_default();
                let Some((value, used)) = cfmt::strtoul_prefix(rest, 0) else {
                    return Err("invalid char in expression");
                };
                self.pos += used;
                self.skip_space();
                Ok(i64::from_ne_bytes(value.to_ne_bytes()))
            }
        }
    }

    fn register(&mut self) -> Result<i64, &'static str> {
        self.pos += 1;
        let start = self.pos;
        while matches!(self.peek(), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.') {
            self.pos += 1;
        }
        let end = self.pos.min(start + REGISTER_NAME_BYTES_MAX);
        let name = std::str::from_utf8(&self.s[start..end]).unwrap_or_default();
        self.skip_space();
        (self.regs)(name).ok_or("unknown register")
    }

    /// One level of left-associative binary operators: `operand (op operand)*`
    /// for the operators in `ops` (monitor.c's expr_prod, expr_logic and
    /// expr_sum share this shape).
    fn binary(
        &mut self,
        ops: &[u8],
        operand: fn(&mut Self) -> Result<i64, &'static str>,
        apply: fn(u8, i64, i64) -> Result<i64, &'static str>,
    ) -> Result<i64, &'static str> {
        let mut val = operand(self)?;
        loop {
            let op = self.peek();
            if !ops.contains(&op) {
                return Ok(val);
            }
            self.next();
            let val2 = operand(self)?;
            val = apply(op, val, val2)?;
        }
    }

    fn prod(&mut self) -> Result<i64, &'static str> {
        self.binary(b"*/%", Self::unary, |op, val, val2| match op {
            b'*' => Ok(val.wrapping_mul(val2)),
            _ if val2 == 0 => Err("division by zero"),
            b'/' => Ok(val.wrapping_div(val2)),
            _ => Ok(val.wrapping_rem(val2)),
        })
    }

    fn logic(&mut self) -> Result<i64, &'static str> {
        self.binary(b"&|^", Self::prod, |op, val, val2| match op {
            b'&' => Ok(val & val2),
            b'|' => Ok(val | val2),
            _ => Ok(val ^ val2),
        })
    }

    fn sum(&mut self) -> Result<i64, &'static str> {
        self.enter()?;
        let val = self.binary(b"+-", Self::logic, |op, val, val2| {
            Ok(if op == b'+' {
                val.wrapping_add(val2)
            } else {
                val.wrapping_sub(val2)
            })
        })?;
        self.depth -= 1;
        Ok(val)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_regs(_: &str) -> Option<i64> {
        None
    }

    fn eval(s: &str) -> Result<i64, &'static str> {
        let mut pos = 0;
        get_expr(s, &mut pos, &no_regs)
    }

    #[test]
    fn expr_values() {
        for (text, value) in [
            // Products before sums.
            ("1 + 2 * 3", 7),
            // 0.14's grammar: sum over logic over product, so this is 1 + 6.
            ("1 + 2 | 4", 7),
            ("6 & 3", 2),
            ("6 | 3", 7),
            ("6 ^ 3", 5),
            ("7 % 4 - 9 / 2", -1),
            ("0x10 + 010 + 10", 16 + 8 + 10),
            // A character constant is its code.
            ("'A'", 65),
            ("-~0", 1),
            // An overflowing number saturates, as strtoull does.
            ("99999999999999999999", -1),
            ("(0x8000000000000000) / -1", i64::MIN),
        ] {
            assert_eq!(eval(text), Ok(value), "{text:?}");
        }
    }

    #[test]
    fn expr_stops_at_a_second_number() {
        let mut pos = 0;
        assert_eq!(get_expr("0 100 file", &mut pos, &no_regs), Ok(0));
        assert_eq!(pos, 2);
    }

    #[test]
    fn expr_refusals_name_the_fault() {
        for (text, error) in [
            ("   ", "unexpected end of expression"),
            ("foo", "invalid char in expression"),
            ("1 / 0", "division by zero"),
            ("(1 + 2", "')' expected"),
            ("$eax", "unknown register"),
        ] {
            assert_eq!(eval(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn expr_known_register_reads_value() {
        let regs = |n: &str| (n == "pc").then_some(0xfff0);
        let mut pos = 0;
        assert_eq!(get_expr("$pc + 1", &mut pos, &regs), Ok(0xfff1));
    }

    // Depth counts open sums and unary operands: `1` alone is depth 2 (the
    // outer sum, the number), each unary operator adds one, each parenthesis
    // two (its unary and the sum inside).

    #[test]
    fn expr_unary_nesting_at_limit_is_evaluated() {
        let s = format!("{}1", "-".repeat(EXPR_DEPTH_MAX - 2));
        assert_eq!(eval(&s), Ok(1));
    }

    #[test]
    fn expr_unary_nesting_past_limit_is_refused() {
        let s = format!("{}1", "-".repeat(EXPR_DEPTH_MAX - 1));
        assert_eq!(eval(&s), Err(TOO_DEEP));
    }

    #[test]
    fn expr_parenthesis_nesting_at_limit_is_evaluated() {
        let levels = (EXPR_DEPTH_MAX - 2) / 2;
        let s = format!("{}1{}", "(".repeat(levels), ")".repeat(levels));
        assert_eq!(eval(&s), Ok(1));
    }

    #[test]
    fn expr_parenthesis_nesting_past_limit_is_refused() {
        let levels = (EXPR_DEPTH_MAX - 2) / 2;
        let s = format!("{}-1{}", "(".repeat(levels), ")".repeat(levels));
        assert_eq!(eval(&s), Err(TOO_DEEP));
    }

    #[test]
    fn expr_long_flat_sum_is_not_nested() {
        let s = format!("1{}", "+1".repeat(EXPR_DEPTH_MAX * 2));
        assert_eq!(eval(&s), Ok(i64::try_from(EXPR_DEPTH_MAX * 2 + 1).unwrap()));
    }

    #[test]
    fn expr_register_name_at_limit_is_looked_up_whole() {
        let name = "r".repeat(REGISTER_NAME_BYTES_MAX);
        let regs = |n: &str| (n.len() == REGISTER_NAME_BYTES_MAX).then_some(1);
        let mut pos = 0;
        assert_eq!(get_expr(&format!("${name}"), &mut pos, &regs), Ok(1));
    }

    #[test]
    fn expr_register_name_past_limit_is_truncated() {
        let name = "r".repeat(REGISTER_NAME_BYTES_MAX + 1);
        let regs = |n: &str| (n.len() == REGISTER_NAME_BYTES_MAX).then_some(1);
        let mut pos = 0;
        assert_eq!(get_expr(&format!("${name}"), &mut pos, &regs), Ok(1));
    }
}
