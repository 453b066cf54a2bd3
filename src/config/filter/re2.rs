//! Go's regular-expression syntax, as Atlantis compiles `workspace-regex` and `branch-regex`
//! (`regexp.Compile`: RE2 syntax with the Perl flags), read into a regex-syntax HIR that
//! regex-automata then runs.
//!
//! This is a port of the parser of Go's `regexp/syntax` (parse.go), step for step where it
//! decides what is accepted and with which error, so a pattern means here what it means to
//! Atlantis: `\d \w \s \b` are ASCII, `[a-z&&b]` is a plain class, `\Q…\E` quotes, a `{` that
//! starts no valid repetition is a literal, `\141` is octal, `a**` and counts over 1,000 are
//! refused, and a refused pattern gets Go's error code and the offending text. What it builds
//! is matched by the same leftmost-first engine Go's `regexp` semantics describe.

use regex_syntax::hir::{
    Class, ClassUnicode, ClassUnicodeRange, Dot, Hir, HirKind, Look, Repetition,
};

/// Go's error codes (`regexp/syntax.ErrorCode`), worded as Go words them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid character class`
    InvalidCharClass,
    /// `invalid character class range`
    InvalidCharRange,
    /// `invalid escape sequence`
    InvalidEscape,
    /// `invalid named capture`
    InvalidNamedCapture,
    /// `invalid or unsupported Perl syntax`
    InvalidPerlOp,
    /// `invalid nested repetition operator`
    InvalidRepeatOp,
    /// `invalid repeat count`
    InvalidRepeatSize,
    /// `missing closing ]`
    MissingBracket,
    /// `missing closing )`
    MissingParen,
    /// `missing argument to repetition operator`
    MissingRepeatArgument,
    /// `trailing backslash at end of expression`
    TrailingBackslash,
    /// `unexpected )`
    UnexpectedParen,
    /// `expression nests too deeply`
    NestingDepth,
}

impl ErrorCode {
    /// Go's text for the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidCharClass => "invalid character class",
            ErrorCode::InvalidCharRange => "invalid character class range",
            ErrorCode::InvalidEscape => "invalid escape sequence",
            ErrorCode::InvalidNamedCapture => "invalid named capture",
            ErrorCode::InvalidPerlOp => "invalid or unsupported Perl syntax",
            ErrorCode::InvalidRepeatOp => "invalid nested repetition operator",
            ErrorCode::InvalidRepeatSize => "invalid repeat count",
            ErrorCode::MissingBracket => "missing closing ]",
            ErrorCode::MissingParen => "missing closing )",
            ErrorCode::MissingRepeatArgument => "missing argument to repetition operator",
            ErrorCode::TrailingBackslash => "trailing backslash at end of expression",
            ErrorCode::UnexpectedParen => "unexpected )",
            ErrorCode::NestingDepth => "expression nests too deeply",
        }
    }
}

/// A pattern Go refuses: the code, the offending text (as Go reports it), and where in the
/// pattern (a byte offset) the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Go's code.
    pub code: ErrorCode,
    /// The text Go quotes.
    pub expr: String,
    /// Byte offset of the problem.
    pub offset: usize,
}

impl std::fmt::Display for SyntaxError {
    /// Exactly Go's `(*syntax.Error).Error()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "error parsing regexp: {}: `{}`",
            self.code.as_str(),
            self.expr
        )
    }
}

/// The deepest nesting Go accepts.
const MAX_HEIGHT: usize = 1000;
/// The largest repeat count Go accepts.
const MAX_REPEAT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flags {
    fold: bool,
    one_line: bool,
    dot_nl: bool,
    non_greedy: bool,
}

/// `syntax.Perl`: one-line, no fold, `.` without `\n`, greedy.
const PERL: Flags = Flags {
    fold: false,
    one_line: true,
    dot_nl: false,
    non_greedy: false,
};

enum Item {
    /// An expression, its height (as Go counts nesting) and its weight: the largest
    /// product of repeat counts on a path down from it, which Go caps at 1,000.
    Expr(Hir, usize, i64),
    /// `(`: the flags to restore at `)`, whether it captures, and where it stands.
    LeftParen(Flags, bool, usize),
    /// `|` between alternatives.
    Bar,
}

struct Parser<'a> {
    whole: &'a str,
    flags: Flags,
    stack: Vec<Item>,
}

/// Parses `pattern` as Go's `regexp.Compile` does.
///
/// # Errors
/// Go's error for a pattern Go refuses.
pub fn parse(pattern: &str) -> Result<Hir, SyntaxError> {
    let mut p = Parser {
        whole: pattern,
        flags: PERL,
        stack: Vec::new(),
    };
    p.run()
}

fn err(code: ErrorCode, expr: &str, whole: &str) -> SyntaxError {
    // `expr` is a slice of `whole` wherever Go quotes part of the pattern.
    let offset = if expr.is_empty() {
        whole.len()
    } else {
        (expr.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize)
    };
    SyntaxError {
        code,
        expr: expr.to_string(),
        offset: offset.min(whole.len()),
    }
}

/// `t` without its first character, and that character (Go's `nextRune`; the pattern is
/// valid UTF-8 already).
fn next(t: &str) -> (Option<char>, &str) {
    let mut chars = t.chars();
    let c = chars.next();
    (c, chars.as_str())
}

impl<'a> Parser<'a> {
    fn run(&mut self) -> Result<Hir, SyntaxError> {
        let whole = self.whole;
        let mut t = whole;
        let mut last_repeat: &str = "";
        while !t.is_empty() {
            let mut repeat: &str = "";
            match t.as_bytes()[0] {
                b'(' => {
                    if t.len() >= 2 && t.as_bytes()[1] == b'?' {
                        t = self.perl_flags(t)?;
                    } else {
                        let at = whole.len() - t.len();
                        self.stack.push(Item::LeftParen(self.flags, true, at));
                        t = &t[1..];
                    }
                }
                b'|' => {
                    self.concat()?;
                    self.stack.push(Item::Bar);
                    t = &t[1..];
                }
                b')' => {
                    self.right_paren(t)?;
                    t = &t[1..];
                }
                b'^' => {
                    self.push(Hir::look(if self.flags.one_line {
                        Look::Start
                    } else {
                        Look::StartLF
                    }));
                    t = &t[1..];
                }
                b'$' => {
                    self.push(Hir::look(if self.flags.one_line {
                        Look::End
                    } else {
                        Look::EndLF
                    }));
                    t = &t[1..];
                }
                b'.' => {
                    self.push(Hir::dot(if self.flags.dot_nl {
                        Dot::AnyChar
                    } else {
                        Dot::AnyCharExceptLF
                    }));
                    t = &t[1..];
                }
                b'[' => t = self.class(t)?,
                b'*' | b'+' | b'?' => {
                    let before = t;
                    let (min, max) = match t.as_bytes()[0] {
                        b'*' => (0, -1),
                        b'+' => (1, -1),
                        _ => (0, 1),
                    };
                    t = self.repeat(min, max, before, &t[1..], last_repeat, false)?;
                    repeat = before;
                }
                b'{' => {
                    let before = t;
                    match parse_repeat(t) {
                        None => {
                            // Not a repetition: `{` is a literal.
                            self.literal('{');
                            t = &t[1..];
                        }
                        Some((min, max, after)) => {
                            if !(0..=MAX_REPEAT).contains(&min)
                                || max > MAX_REPEAT
                                || (max >= 0 && min > max)
                            {
                                return Err(err(
                                    ErrorCode::InvalidRepeatSize,
                                    &before[..before.len() - after.len()],
                                    whole,
                                ));
                            }
                            t = self.repeat(min, max, before, after, last_repeat, true)?;
                            repeat = before;
                        }
                    }
                }
                b'\\' => t = self.backslash(t)?,
                _ => {
                    let (c, rest) = next(t);
                    if let Some(c) = c {
                        self.literal(c);
                    }
                    t = rest;
                }
            }
            last_repeat = repeat;
        }
        self.concat()?;
        self.alternate()?;
        if self.stack.len() != 1 {
            // Go quotes the whole pattern; the caret goes under the `(` left open.
            let open = self.stack.iter().rev().find_map(|i| match i {
                Item::LeftParen(_, _, at) => Some(*at),
                _ => None,
            });
            return Err(SyntaxError {
                code: ErrorCode::MissingParen,
                expr: whole.to_string(),
                offset: open.unwrap_or(whole.len()),
            });
        }
        match self.stack.pop() {
            Some(Item::Expr(h, _, _)) => Ok(h),
            _ => Err(SyntaxError {
                code: ErrorCode::MissingParen,
                expr: whole.to_string(),
                offset: whole.len(),
            }),
        }
    }

    fn push(&mut self, h: Hir) {
        self.stack.push(Item::Expr(h, 1, 1));
    }

    fn push_height(&mut self, h: Hir, height: usize, weight: i64) -> Result<(), SyntaxError> {
        if height > MAX_HEIGHT {
            return Err(SyntaxError {
                code: ErrorCode::NestingDepth,
                expr: self.whole.to_string(),
                offset: 0,
            });
        }
        self.stack.push(Item::Expr(h, height, weight));
        Ok(())
    }

    /// A literal character; under `(?i)` any character of its case-folding orbit.
    fn literal(&mut self, c: char) {
        let h = if self.flags.fold {
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            Hir::class(Class::Unicode(class))
        } else {
            Hir::literal(c.encode_utf8(&mut [0; 4]).as_bytes())
        };
        self.push(h);
    }

    /// Replaces the expressions above the nearest `(` or `|` by their concatenation.
    fn concat(&mut self) -> Result<(), SyntaxError> {
        let start = self
            .stack
            .iter()
            .rposition(|i| !matches!(i, Item::Expr(..)))
            .map_or(0, |i| i + 1);
        let items: Vec<Item> = self.stack.drain(start..).collect();
        let (hirs, height, weight) = exprs(items);
        let height = if hirs.len() > 1 {
            height + 1
        } else {
            height.max(1)
        };
        self.push_height(Hir::concat(hirs), height, weight)
    }

    /// Replaces the alternatives above the nearest `(` by their alternation.
    fn alternate(&mut self) -> Result<(), SyntaxError> {
        let start = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::LeftParen(..)))
            .map_or(0, |i| i + 1);
        let items: Vec<Item> = self
            .stack
            .drain(start..)
            .filter(|i| !matches!(i, Item::Bar))
            .collect();
        let (hirs, height, weight) = exprs(items);
        let height = if hirs.len() > 1 {
            height + 1
        } else {
            height.max(1)
        };
        self.push_height(Hir::alternation(hirs), height, weight)
    }

    fn right_paren(&mut self, _t: &str) -> Result<(), SyntaxError> {
        self.concat()?;
        self.alternate()?;
        let n = self.stack.len();
        let unexpected = || SyntaxError {
            code: ErrorCode::UnexpectedParen,
            expr: self.whole.to_string(),
            offset: self.whole.len() - _t.len(),
        };
        if n < 2 {
            return Err(unexpected());
        }
        let Some(Item::Expr(sub, height, weight)) = self.stack.pop() else {
            return Err(unexpected());
        };
        match self.stack.pop() {
            Some(Item::LeftParen(flags, capture, _)) => {
                self.flags = flags;
                // A capture is a node of its own in Go's tree; a plain group is not.
                let height = if capture { height + 1 } else { height };
                self.push_height(sub, height, weight)
            }
            _ => Err(unexpected()),
        }
    }

    /// Applies a repetition operator to the expression before it (Go's `repeat`).
    fn repeat(
        &mut self,
        min: i64,
        max: i64,
        before: &'a str,
        mut after: &'a str,
        last_repeat: &'a str,
        counted: bool,
    ) -> Result<&'a str, SyntaxError> {
        let mut greedy = !self.flags.non_greedy;
        if let Some(rest) = after.strip_prefix('?') {
            after = rest;
            greedy = !greedy;
        }
        if !last_repeat.is_empty() {
            // Perl forbids stacking repetition operators: `a**` is an error.
            return Err(err(
                ErrorCode::InvalidRepeatOp,
                &last_repeat[..last_repeat.len() - after.len()],
                self.whole,
            ));
        }
        let Some(Item::Expr(sub, height, weight)) = self.stack.pop() else {
            return Err(err(
                ErrorCode::MissingRepeatArgument,
                &before[..before.len() - after.len()],
                self.whole,
            ));
        };
        // Go's `repeatIsValid`: counts multiplied down any path stay within 1,000 (a
        // count of at most 0 cuts the path; `*`, `+` and `?` count 1).
        let m = if max < 0 { min } else { max };
        let weight = if counted && max == 0 {
            1
        } else {
            m.max(1).saturating_mul(weight)
        };
        if counted && (min >= 2 || max >= 2) && max != 0 && weight > MAX_REPEAT {
            return Err(err(
                ErrorCode::InvalidRepeatSize,
                &before[..before.len() - after.len()],
                self.whole,
            ));
        }
        let rep = Hir::repetition(Repetition {
            min: u32::try_from(min).unwrap_or(0),
            max: u32::try_from(max).ok(),
            greedy,
            sub: Box::new(sub),
        });
        self.push_height(rep, height + 1, weight)?;
        Ok(after)
    }

    /// `(?…`: a named capture, or flags with or without a group (Go's `parsePerlFlags`).
    fn perl_flags(&mut self, s: &'a str) -> Result<&'a str, SyntaxError> {
        let b = s.as_bytes();
        let starts_with_p = s.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let starts_with_name = s.len() > 3 && b[2] == b'<';
        if starts_with_p || starts_with_name {
            let expr_start = if starts_with_name { 3 } else { 4 };
            let Some(end) = s.find('>') else {
                return Err(err(ErrorCode::InvalidNamedCapture, s, self.whole));
            };
            let capture = &s[..=end];
            let name = &s[expr_start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err(err(ErrorCode::InvalidNamedCapture, capture, self.whole));
            }
            let at = self.whole.len() - s.len();
            self.stack.push(Item::LeftParen(self.flags, true, at));
            return Ok(&s[end + 1..]);
        }
        let mut t = &s[2..];
        let mut flags = self.flags;
        let mut negate = false;
        let mut saw_flag = false;
        while let (Some(c), rest) = next(t) {
            t = rest;
            match c {
                'i' | 'm' | 's' | 'U' => {
                    let on = !negate;
                    match c {
                        'i' => flags.fold = on,
                        'm' => flags.one_line = !on,
                        's' => flags.dot_nl = on,
                        _ => flags.non_greedy = on,
                    }
                    saw_flag = true;
                }
                '-' => {
                    if negate {
                        break;
                    }
                    negate = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negate && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        let at = self.whole.len() - s.len();
                        self.stack.push(Item::LeftParen(self.flags, false, at));
                    }
                    self.flags = flags;
                    return Ok(t);
                }
                _ => break,
            }
        }
        Err(err(
            ErrorCode::InvalidPerlOp,
            &s[..s.len() - t.len()],
            self.whole,
        ))
    }

    /// A backslash outside a class.
    fn backslash(&mut self, t: &'a str) -> Result<&'a str, SyntaxError> {
        let b = t.as_bytes();
        if b.len() >= 2 {
            match b[1] {
                b'A' => {
                    self.push(Hir::look(Look::Start));
                    return Ok(&t[2..]);
                }
                b'b' => {
                    self.push(Hir::look(Look::WordAscii));
                    return Ok(&t[2..]);
                }
                b'B' => {
                    self.push(Hir::look(Look::WordAsciiNegate));
                    return Ok(&t[2..]);
                }
                b'C' => return Err(err(ErrorCode::InvalidEscape, &t[..2], self.whole)),
                b'Q' => {
                    let (lit, rest) = t[2..].split_once("\\E").unwrap_or((&t[2..], ""));
                    for c in lit.chars() {
                        self.literal(c);
                    }
                    return Ok(rest);
                }
                b'z' => {
                    self.push(Hir::look(Look::End));
                    return Ok(&t[2..]);
                }
                _ => {}
            }
        }
        if b.len() >= 2 && (b[1] == b'p' || b[1] == b'P') {
            let (class, rest) = self.unicode_class(t)?;
            self.push(Hir::class(Class::Unicode(class)));
            return Ok(rest);
        }
        if let Some((class, rest)) = self.perl_class(t) {
            self.push(Hir::class(Class::Unicode(class)));
            return Ok(rest);
        }
        let (c, rest) = self.escape(t)?;
        self.push_codepoint(c);
        Ok(rest)
    }

    /// A literal code point; a surrogate (which `\x{D800}` can name) matches nothing in
    /// valid UTF-8, as in Go.
    fn push_codepoint(&mut self, c: u32) {
        match char::from_u32(c) {
            Some(c) => self.literal(c),
            None => self.push(Hir::fail()),
        }
    }

    /// An escape that stands for one character (Go's `parseEscape`).
    fn escape(&self, s: &'a str) -> Result<(u32, &'a str), SyntaxError> {
        let t = &s[1..];
        let (Some(c), mut t) = next(t) else {
            return Err(err(ErrorCode::TrailingBackslash, "", self.whole));
        };
        let invalid = |t: &str| {
            Err(err(
                ErrorCode::InvalidEscape,
                &s[..s.len() - t.len()],
                self.whole,
            ))
        };
        let octal = |t: &str| {
            t.as_bytes()
                .first()
                .is_some_and(|b| (b'0'..=b'7').contains(b))
        };
        match c {
            '1'..='7' if !octal(t) => invalid(t),
            '0'..='7' => {
                let mut r = u32::from(c) - u32::from('0');
                for _ in 1..3 {
                    if !octal(t) {
                        break;
                    }
                    r = r * 8 + u32::from(t.as_bytes()[0] - b'0');
                    t = &t[1..];
                }
                Ok((r, t))
            }
            'x' => {
                if t.is_empty() {
                    return invalid(t);
                }
                let (c, rest) = next(t);
                t = rest;
                if c == Some('{') {
                    let mut n = 0;
                    let mut r: u32 = 0;
                    loop {
                        let (c, rest) = next(t);
                        let Some(c) = c else {
                            return invalid(t);
                        };
                        t = rest;
                        if c == '}' {
                            break;
                        }
                        let Some(v) = c.to_digit(16) else {
                            return invalid(t);
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return invalid(t);
                        }
                        n += 1;
                    }
                    if n == 0 {
                        return invalid(t);
                    }
                    return Ok((r, t));
                }
                let x = c.and_then(|c| c.to_digit(16));
                let (c, rest) = next(t);
                t = rest;
                match (x, c.and_then(|c| c.to_digit(16))) {
                    (Some(x), Some(y)) => Ok((x * 16 + y, t)),
                    _ => invalid(t),
                }
            }
            'a' => Ok((0x07, t)),
            'f' => Ok((0x0C, t)),
            'n' => Ok((0x0A, t)),
            'r' => Ok((0x0D, t)),
            't' => Ok((0x09, t)),
            'v' => Ok((0x0B, t)),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((u32::from(c), t)),
            _ => invalid(t),
        }
    }

    /// `\d \s \w` and their negations: ASCII, as in Go (folded under `(?i)`).
    fn perl_class(&self, s: &'a str) -> Option<(ClassUnicode, &'a str)> {
        let b = s.as_bytes();
        if b.len() < 2 || b[0] != b'\\' {
            return None;
        }
        let (ranges, negated): (&[(char, char)], bool) = match b[1] {
            b'd' => (DIGIT, false),
            b'D' => (DIGIT, true),
            b's' => (PERL_SPACE, false),
            b'S' => (PERL_SPACE, true),
            b'w' => (WORD, false),
            b'W' => (WORD, true),
            _ => return None,
        };
        Some((self.group(ranges, negated), &s[2..]))
    }

    /// A fixed group, folded under `(?i)` before it is negated (Go's `appendGroup`).
    fn group(&self, ranges: &[(char, char)], negated: bool) -> ClassUnicode {
        let mut class =
            ClassUnicode::new(ranges.iter().map(|&(a, b)| ClassUnicodeRange::new(a, b)));
        if self.flags.fold {
            class.case_fold_simple();
        }
        if negated {
            class.negate();
        }
        class
    }

    /// `\pL`, `\p{Greek}`, `\P{…}`, `\p{^…}` (Go's `parseUnicodeClass`), with Go's names.
    fn unicode_class(&self, s: &'a str) -> Result<(ClassUnicode, &'a str), SyntaxError> {
        let mut negated = s.as_bytes()[1] == b'P';
        let (c, mut t) = next(&s[2..]);
        let (seq, mut name) = if c == Some('{') {
            let Some(end) = s.find('}') else {
                return Err(err(ErrorCode::InvalidCharRange, s, self.whole));
            };
            t = &s[end + 1..];
            (&s[..=end], &s[3..end])
        } else {
            let seq = &s[..s.len() - t.len()];
            (seq, &seq[2..])
        };
        if let Some(n) = name.strip_prefix('^') {
            negated = !negated;
            name = n;
        }
        let Some(mut class) = unicode_table(name) else {
            return Err(err(ErrorCode::InvalidCharRange, seq, self.whole));
        };
        if self.flags.fold {
            class.case_fold_simple();
        }
        if negated {
            class.negate();
        }
        Ok((class, t))
    }

    /// `[…]` (Go's `parseClass`, with the Perl flags: `-` may stand anywhere, and a negated
    /// class matches `\n`).
    fn class(&mut self, s: &'a str) -> Result<&'a str, SyntaxError> {
        let mut t = &s[1..];
        let mut negated = false;
        if let Some(rest) = t.strip_prefix('^') {
            negated = true;
            t = rest;
        }
        let mut class = ClassUnicode::empty();
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(end) = t[2..].find(":]")
            {
                let name = &t[..end + 4];
                let Some((ranges, neg)) = posix_group(name) else {
                    return Err(err(ErrorCode::InvalidCharRange, name, self.whole));
                };
                class.union(&self.group(ranges, neg));
                t = &t[end + 4..];
                continue;
            }
            if t.len() >= 2 && t.starts_with('\\') && matches!(t.as_bytes()[1], b'p' | b'P') {
                let (c, rest) = self.unicode_class(t)?;
                class.union(&c);
                t = rest;
                continue;
            }
            if let Some((c, rest)) = self.perl_class(t) {
                class.union(&c);
                t = rest;
                continue;
            }
            let range_start = t;
            let (lo, rest) = self.class_char(t, s)?;
            t = rest;
            let mut hi = lo;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, rest) = self.class_char(&t[1..], s)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return Err(err(
                        ErrorCode::InvalidCharRange,
                        &range_start[..range_start.len() - t.len()],
                        self.whole,
                    ));
                }
            }
            let mut range = codepoints(lo, hi);
            if self.flags.fold {
                range.case_fold_simple();
            }
            class.union(&range);
        }
        t = &t[1..];
        if negated {
            class.negate();
        }
        self.push(Hir::class(Class::Unicode(class)));
        Ok(t)
    }

    fn class_char(&self, s: &'a str, whole_class: &'a str) -> Result<(u32, &'a str), SyntaxError> {
        if s.is_empty() {
            return Err(err(ErrorCode::MissingBracket, whole_class, self.whole));
        }
        if s.starts_with('\\') {
            return self.escape(s);
        }
        let (c, rest) = next(s);
        Ok((c.map_or(0, u32::from), rest))
    }
}

/// `{min}`, `{min,}` or `{min,max}` at the start of `s` (Go's `parseRepeat`): the counts
/// (`max` -1 for none; a count over 10^8 reads -1 too, which the caller refuses) and what
/// follows; `None` when `s` starts no repetition, and the `{` is then a literal.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (mut min, s) = parse_int(s)?;
    let (max, s) = match s.strip_prefix(',') {
        None => (min, s),
        Some("") => return None,
        Some(rest) if rest.starts_with('}') => (-1, rest),
        Some(rest) => {
            let (max, rest) = parse_int(rest)?;
            if max < 0 {
                // A max too large to read makes the pair invalid.
                min = -1;
            }
            (max, rest)
        }
    };
    let rest = s.strip_prefix('}')?;
    Some((min, max, rest))
}

/// A decimal count without leading zeros; -1 when it is too large (Go's `parseInt`).
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits >= 2 && s.starts_with('0')) {
        return None;
    }
    let mut n: i64 = 0;
    for b in s[..digits].bytes() {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some((n, &s[digits..]))
}

/// The expressions of `items`, the greatest of their heights and of their weights.
fn exprs(items: Vec<Item>) -> (Vec<Hir>, usize, i64) {
    let (mut height, mut weight) = (0, 1);
    let hirs = items
        .into_iter()
        .filter_map(|i| match i {
            Item::Expr(h, n, w) => {
                height = height.max(n);
                weight = weight.max(w);
                Some(h)
            }
            _ => None,
        })
        .collect();
    (hirs, height, weight)
}

/// Code points `lo..=hi` as a class, without the surrogates no `char` can be.
fn codepoints(lo: u32, hi: u32) -> ClassUnicode {
    let mut ranges = Vec::new();
    let mut push = |a: u32, b: u32| {
        if let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b))
            && a <= b
        {
            ranges.push(ClassUnicodeRange::new(a, b));
        }
    };
    if hi < 0xD800 || lo > 0xDFFF {
        push(lo, hi);
    } else {
        if lo < 0xD800 {
            push(lo, 0xD7FF);
        }
        if hi > 0xDFFF {
            push(0xE000, hi);
        }
    }
    ClassUnicode::new(ranges)
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const PERL_SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0C', '\r'), (' ', ' ')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

/// `[:name:]` and `[:^name:]`: Go's POSIX groups (ASCII).
fn posix_group(name: &str) -> Option<(&'static [(char, char)], bool)> {
    let (negated, bare) = match name.strip_prefix("[:^") {
        Some(rest) => (true, rest),
        None => (false, name.strip_prefix("[:")?),
    };
    let ranges: &'static [(char, char)] = match bare.strip_suffix(":]")? {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7F')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1F'), ('\x7F', '\x7F')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    };
    Some((ranges, negated))
}

/// Go's Unicode general categories (`unicode.Categories`).
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Go's script names (`unicode.Scripts`, Unicode 15 as in the Go releases Atlantis is built
/// with), spelled and cased exactly so.
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// The class of a Go Unicode table name (`Any`, a category or a script), read from
/// regex-syntax's Unicode tables.
fn unicode_table(name: &str) -> Option<ClassUnicode> {
    if name == "Any" {
        return Some(ClassUnicode::new([ClassUnicodeRange::new(
            '\0',
            '\u{10FFFF}',
        )]));
    }
    if name == "Cs" {
        // Surrogates: no character of valid UTF-8 is one.
        return Some(ClassUnicode::empty());
    }
    let query = if CATEGORIES.contains(&name) {
        format!(r"\p{{gc={name}}}")
    } else if SCRIPTS.binary_search(&name).is_ok() {
        format!(r"\p{{sc={name}}}")
    } else {
        return None;
    };
    match regex_syntax::Parser::new().parse(&query).ok()?.into_kind() {
        HirKind::Class(Class::Unicode(c)) => Some(c),
        // A table of one character (Zl, Zp) comes back as a literal.
        HirKind::Literal(lit) => {
            let c = std::str::from_utf8(&lit.0).ok()?.chars().next()?;
            Some(ClassUnicode::new([ClassUnicodeRange::new(c, c)]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_sorted_for_the_binary_search() {
        assert!(SCRIPTS.windows(2).all(|w| w[0] < w[1]));
        for s in SCRIPTS.iter().chain(CATEGORIES) {
            assert!(unicode_table(s).is_some(), "{s}");
        }
    }

    #[test]
    fn go_errors_word_for_word() {
        let e = |p: &str| parse(p).expect_err(p).to_string();
        assert_eq!(
            e("^(prod"),
            "error parsing regexp: missing closing ): `^(prod`"
        );
        assert_eq!(
            e("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            e("[0-9]++"),
            "error parsing regexp: invalid nested repetition operator: `++`"
        );
        assert_eq!(
            e("w{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            e(r"\8"),
            "error parsing regexp: invalid escape sequence: `\\8`"
        );
        assert_eq!(e("x)"), "error parsing regexp: unexpected ): `x)`");
        assert_eq!(
            e("[z-a]"),
            "error parsing regexp: invalid character class range: `z-a`"
        );
        assert_eq!(
            e("a\\"),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
    }
}
