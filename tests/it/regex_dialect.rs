//! herald's filters against Go's own `regexp` (Debian's golang-go; CI installs it): the same
//! patterns accepted, the same matches on any input, the same error text for a pattern Go
//! refuses. A differential test over generated patterns and inputs, and the cases that
//! once differed, by name.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use herald::config::Filter;
use serde_json::{Value, json};

/// Builds the Go reference program once per test run.
fn oracle() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("herald-re2oracle-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let bin = dir.join("re2oracle");
            let src = crate::support::repo_file("tests/go/re2oracle.go");
            let out = Command::new("go")
                .args(["build", "-o"])
                .arg(&bin)
                .arg(&src)
                .env("GOCACHE", dir.join("cache"))
                .env("GOPATH", dir.join("gopath"))
                .env("HOME", &dir)
                .env("GOFLAGS", "-mod=mod")
                .env("GOTOOLCHAIN", "local")
                .output()
                .expect("Go is installed (Debian's golang-go; .ci/run installs it)");
            assert!(
                out.status.success(),
                "go build: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            bin
        })
        .clone()
}

/// What Go says of each (pattern, inputs) case.
fn go(cases: &[(String, Vec<String>)]) -> Vec<Value> {
    let lines: Vec<Value> = cases
        .iter()
        .map(|(p, inputs)| json!({"pattern": p, "inputs": inputs}))
        .collect();
    ask_go(&lines)
}

/// Runs the oracle over JSON request lines.
fn ask_go(lines: &[Value]) -> Vec<Value> {
    let mut child = Command::new(oracle())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("oracle runs");
    let mut input = String::new();
    for line in lines {
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle ends");
    writer.join().expect("writer").expect("write");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// What herald says of the same case, in the oracle's form.
fn herald(pattern: &str, inputs: &[String]) -> Value {
    match Filter::compile(pattern) {
        Err(p) => json!({"error": p.message}),
        Ok(f) => json!({"matches": inputs
            .iter()
            .map(|s| f.find(s).map(|r| json!([r.start, r.end])).unwrap_or(Value::Null))
            .collect::<Vec<_>>()}),
    }
}

fn compare(cases: &[(String, Vec<String>)]) {
    let reference = go(cases);
    assert_eq!(reference.len(), cases.len(), "one answer per case");
    let mut differ = Vec::new();
    for ((pattern, inputs), want) in cases.iter().zip(&reference) {
        let got = herald(pattern, inputs);
        if &got != want {
            differ.push(format!("{pattern:?}:\n  go:     {want}\n  herald: {got}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        differ.len(),
        cases.len(),
        differ
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Characters chosen to tell the dialects apart: ASCII and its neighbours, letters and
/// digits of other scripts, case-folding oddities (Kelvin sign, long s, final sigma), a
/// combining mark.
const ALPHABET: &[&str] = &[
    "a", "b", "c", "k", "s", "z", "A", "B", "K", "S", "Z", "0", "1", "7", "9", "_", "-", " ", "\n",
    "\t", ".", "/", "&", "{", "}", "[", "]", "é", "É", "ï", "ß", "\u{212A}", "\u{17F}", "Σ", "σ",
    "ς", "\u{663}", "中", "\u{301}", "ǅ", "ﬀ", "Ⅳ", "ⅳ",
];

/// Pieces of pattern, valid and not, with every escape class and repetition form.
const ATOMS: &[&str] = &[
    "a",
    "b",
    "k",
    "s",
    "K",
    "S",
    "é",
    "ß",
    "\u{212A}",
    "Σ",
    "σ",
    "中",
    ".",
    "^",
    "$",
    r"\d",
    r"\D",
    r"\w",
    r"\W",
    r"\s",
    r"\S",
    r"\b",
    r"\B",
    r"\A",
    r"\z",
    r"\pL",
    r"\PL",
    r"\p{Lu}",
    r"\p{Ll}",
    r"\p{Greek}",
    r"\p{^Greek}",
    r"\pN",
    r"\p{Nd}",
    r"\p{Han}",
    r"\pM",
    r"\p{Any}",
    r"\p{Foo}",
    r"\p{greek}",
    "[a-z]",
    "[^a-z]",
    "[[:alpha:]]",
    "[[:^digit:]]",
    "[[:word:]]",
    "[[:foo:]]",
    r"[\d-z]",
    "[a-z&&[^aeiou]]",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[z-a]",
    r"[\w\s]",
    r"[^\W\d]",
    r"[\p{Greek}0-9]",
    "[é-ï]",
    "[",
    "]",
    r"\Qa.b\E",
    r"\Q*",
    r"\141",
    r"\0",
    r"\8",
    r"\x41",
    r"\x{263A}",
    r"\x{110000}",
    r"\xZ",
    r"\C",
    r"\e",
    r"\_",
    r"\-",
    r"\.",
    "{",
    "}",
    "{x",
    "a{",
    "(",
    ")",
    "(?:",
    "(?i)",
    "(?i:",
    "(?s)",
    "(?m)",
    "(?U)",
    "(?-i)",
    "(?i-s:",
    "(?x)",
    "(?P<n>",
    "(?P<1n>",
    "(?P=n)",
    "|",
    "\\",
];

const REPEATS: &[&str] = &[
    "", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{0}", "{1,3}", "{2,}", "{3,1}", "{1001}",
    "{1000}", "{01}", "{,2}", "**", "++", "*+", "{2}{3}", "{2}*", "{x}",
];

fn pattern(rng: &mut fastrand::Rng) -> String {
    let mut p = String::new();
    let mut open = 0;
    for _ in 0..rng.usize(1..6) {
        match rng.u8(..10) {
            0 => {
                p.push_str(["(", "(?:", "(?i:", "(?s:"][rng.usize(..4)]);
                open += 1;
            }
            1 if open > 0 => {
                p.push(')');
                open -= 1;
            }
            2 => p.push('|'),
            _ => p.push_str(ATOMS[rng.usize(..ATOMS.len())]),
        }
        p.push_str(REPEATS[rng.usize(..REPEATS.len())]);
    }
    // Close most groups, so that more patterns get as far as matching.
    if rng.u8(..4) > 0 {
        p.push_str(&")".repeat(open));
    }
    p
}

fn input(rng: &mut fastrand::Rng) -> String {
    (0..rng.usize(0..8))
        .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
        .collect()
}

#[test]
fn filters_agree_with_go_on_generated_patterns_and_inputs() {
    let n: usize = std::env::var("HERALD_REGEX_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let cases: Vec<(String, Vec<String>)> = (0..n)
        .map(|_| {
            let p = pattern(&mut rng);
            let inputs = (0..12).map(|_| input(&mut rng)).collect();
            (p, inputs)
        })
        .collect();
    compare(&cases);
}

#[test]
fn the_cases_that_differed_from_atlantis_now_agree_with_go() {
    let inputs = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(String, Vec<String>)> = [
        (r"^prod-\d$", inputs(&["prod-3", "prod-\u{663}"])),
        (r"^fix/\w+$", inputs(&["fix/cafe", "fix/café"])),
        (r"\bve\b", inputs(&["naïve", "ve", "nave"])),
        ("[a-z&&[^aeiou]]", inputs(&["&", "b", "a", "[", "]"])),
        (r"\Qv1.2\E", inputs(&["v1.2", "v1x2"])),
        ("a{", inputs(&["a{", "a"])),
        ("x{1,2,3}", inputs(&["x{1,2,3}", "xx"])),
        (r"\141b", inputs(&["ab", "141b"])),
        ("a**", inputs(&["a"])),
        ("[0-9]++", inputs(&["1"])),
        ("w{1001}", inputs(&["w"])),
        ("^(prod", inputs(&["prod"])),
        ("(?i)k", inputs(&["k", "K", "\u{212A}"])),
        ("(?i)[^k]", inputs(&["\u{212A}", "x"])),
        (r"(?i)\W", inputs(&["\u{212A}", "\u{17F}", "!"])),
    ]
    .into_iter()
    .map(|(p, i)| (p.to_string(), i))
    .collect();
    compare(&cases);
    // Named groups in Go 1.22's `(?<name>…)` form, as current Atlantis builds take them
    // (the Go here may be older, so this one is checked against its meaning instead).
    let f = Filter::compile("^(?<env>prod|stage)-[0-9]+$").expect("accepted");
    assert!(f.is_match("prod-12") && !f.is_match("dev-1"));
}

#[test]
fn malformed_header_json_gets_go_encoding_json_words() {
    // Valid header values, cut and spliced with JSON's own characters and a few others.
    let seeds = [
        r#"{"Authorization": "Bearer t", "X-Custom": ["a", "b"]}"#,
        r#"{"a": 1.5e-3, "b": [true, false, null], "c": {"d": "\u00e9\n"}}"#,
        r#"[1, -0, 2.0, "x"]"#,
    ];
    let pieces = [
        "", "{", "}", "[", "]", "\"", ":", ",", "t", "tru", "nul", "-", "0", "01", "1.", "1e",
        "1e+", ".5", "\\", "\\x", "\\u12", "\\u12G4", "\n", "\u{1}", "'", "é", "\u{a0}", " ", "x",
    ];
    let mut rng = fastrand::Rng::with_seed(11);
    let mut texts: Vec<String> = vec![
        String::new(),
        "true false".into(),
        "{\"a\": tru}".into(),
        "{\"a\" 1}".into(),
        "[1 2]".into(),
        "{\"a\": \"\u{1}\"}".into(),
    ];
    for _ in 0..1500 {
        let seed = seeds[rng.usize(..seeds.len())];
        let mut cut = rng.usize(..=seed.len());
        while !seed.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut t = seed[..cut].to_string();
        t.push_str(pieces[rng.usize(..pieces.len())]);
        if rng.bool() {
            let mut more = rng.usize(cut..=seed.len());
            while !seed.is_char_boundary(more) {
                more -= 1;
            }
            t.push_str(&seed[more..]);
        }
        texts.push(t);
    }
    let lines: Vec<Value> = texts.iter().map(|t| json!({"json": t})).collect();
    let reference = ask_go(&lines);
    let mut differ = Vec::new();
    for (t, want) in texts.iter().zip(&reference) {
        let got = match herald::config::go_json::syntax_error(t) {
            Some(e) => json!({"error": e}),
            None => json!({"ok": true}),
        };
        if &got != want {
            differ.push(format!("{t:?}: go {want}, herald {got}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
