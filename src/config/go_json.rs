//! The syntax errors Go's `encoding/json` reports, word for word, for the one place where
//! Atlantis reads JSON from its operator: `--webhook-http-headers`. A malformed value gets
//! the same sentence from herald as from Atlantis (`unexpected end of JSON input`,
//! ``invalid character 't' after top-level value``), so a search for it finds both.
//!
//! A recursive-descent walk over the bytes that reports what Go's scanner (`checkValid`)
//! reports at the first byte it refuses; at the end of the input Go's scanner is fed a
//! space, so a value cut inside a literal or a number is "invalid character ' '".

/// Go's error for `text` when it is not valid JSON; `None` when it is.
pub fn syntax_error(text: &str) -> Option<String> {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    s.value().and_then(|()| s.end_top()).err()
}

/// Go nests at most this deep (`maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

type Step = Result<(), String>;

const EOF: &str = "unexpected end of JSON input";

/// `invalid character 'c' <context>`, with the byte quoted as Go's `quoteChar` does.
fn invalid(c: u8, context: &str) -> String {
    let quoted = match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => format!("'{}'", go_quote(char::from(c))),
    };
    format!("invalid character {quoted} {context}")
}

/// The inside of Go's `strconv.Quote` for one character.
fn go_quote(c: char) -> String {
    match c {
        '\x07' => r"\a".into(),
        '\x08' => r"\b".into(),
        '\x0C' => r"\f".into(),
        '\n' => r"\n".into(),
        '\r' => r"\r".into(),
        '\t' => r"\t".into(),
        '\x0B' => r"\v".into(),
        '\\' => r"\\".into(),
        c if u32::from(c) < 0x20 || c == '\x7F' => format!(r"\x{:02x}", u32::from(c)),
        // Go's IsPrint: C1 controls, no-break space and soft hyphen are not printable.
        c if ('\u{80}'..='\u{A0}').contains(&c) || c == '\u{AD}' => {
            format!(r"\u{:04x}", u32::from(c))
        }
        c => c.to_string(),
    }
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// A value, after optional white space.
    fn value(&mut self) -> Step {
        self.space();
        let Some(c) = self.peek() else {
            return Err(EOF.into());
        };
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            c => Err(invalid(c, "looking for beginning of value")),
        }
    }

    fn nest(&mut self) -> Step {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("exceeded max depth".into());
        }
        Ok(())
    }

    fn object(&mut self) -> Step {
        self.nest()?;
        self.i += 1;
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.space();
            match self.peek() {
                None => return Err(EOF.into()),
                Some(b'"') => self.string()?,
                Some(c) => return Err(invalid(c, "looking for beginning of object key string")),
            }
            self.space();
            match self.peek() {
                None => return Err(EOF.into()),
                Some(b':') => self.i += 1,
                Some(c) => return Err(invalid(c, "after object key")),
            }
            self.value()?;
            self.space();
            match self.peek() {
                None => return Err(EOF.into()),
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                Some(c) => return Err(invalid(c, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Step {
        self.nest()?;
        self.i += 1;
        self.space();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.space();
            match self.peek() {
                None => return Err(EOF.into()),
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                Some(c) => return Err(invalid(c, "after array element")),
            }
        }
    }

    fn string(&mut self) -> Step {
        self.i += 1;
        loop {
            let Some(c) = self.peek() else {
                return Err(EOF.into());
            };
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(invalid(b' ', "in string escape code"));
                    };
                    self.i += 1;
                    match e {
                        b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                        b'u' => {
                            for _ in 0..4 {
                                let Some(h) = self.peek() else {
                                    return Err(invalid(
                                        b' ',
                                        "in \\u hexadecimal character escape",
                                    ));
                                };
                                if !h.is_ascii_hexdigit() {
                                    return Err(invalid(h, "in \\u hexadecimal character escape"));
                                }
                                self.i += 1;
                            }
                        }
                        e => return Err(invalid(e, "in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                _ => {}
            }
        }
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Step {
        if self.peek() == Some(b'-') {
            self.i += 1;
            match self.peek() {
                Some(b'0'..=b'9') => {}
                c => return Err(invalid(c.unwrap_or(b' '), "in numeric literal")),
            }
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            match self.peek() {
                Some(b'0'..=b'9') => self.digits(),
                c => {
                    let c = c.unwrap_or(b' ');
                    return Err(invalid(c, "after decimal point in numeric literal"));
                }
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.peek() {
                Some(b'0'..=b'9') => self.digits(),
                c => return Err(invalid(c.unwrap_or(b' '), "in exponent of numeric literal")),
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Step {
        let name = std::str::from_utf8(word).unwrap_or_default();
        self.i += 1;
        for &want in &word[1..] {
            match self.peek() {
                Some(c) if c == want => self.i += 1,
                c => {
                    return Err(invalid(
                        c.unwrap_or(b' '),
                        &format!("in literal {name} (expecting '{}')", char::from(want)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Only white space may follow the top-level value.
    fn end_top(&mut self) -> Step {
        self.space();
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(invalid(c, "after top-level value")),
        }
    }
}
