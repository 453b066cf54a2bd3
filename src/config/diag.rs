//! Located problems in a configuration, printed the way compilers print them.

use std::fmt;

use super::yaml_pos::Pos;

/// How bad a problem is: an error makes the config unusable, a warning does not (unless
/// `check --strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The config cannot be used.
    Error,
    /// The config works but probably not as meant.
    Warning,
}

/// Where a problem is: in the file, or in a value given on the command line or in the
/// environment (which has no line to point at).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// A line and column of the config file.
    File(Pos),
    /// A command-line flag, such as `--webhook-http-headers`.
    Flag(String),
    /// An environment variable, such as `ATLANTIS_SLACK_TOKEN`.
    Env(String),
    /// A line and column of another file the config names (a `template-file:`).
    Other(String, Pos),
}

/// One problem, with extra lines (such as a caret under a regex) in `notes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where it is.
    pub location: Location,
    /// The message; where Atlantis has a text for the same problem, it is contained word
    /// for word.
    pub message: String,
    /// Lines printed under the message, indented.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            location,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// A warning at `location`.
    pub fn warning(location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            location,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// Adds lines printed under the message.
    #[must_use]
    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }
}

/// Every problem found in one config, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The file name as the user gave it, used as the prefix of every line.
    pub file: String,
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// An empty report for `file`.
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            diagnostics: Vec::new(),
        }
    }

    /// Adds a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == s).count()
    }

    /// Puts the problems in the order a reader scans a file: flags and environment first,
    /// then by line and column.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            a.location
                .cmp(&b.location)
                .then(a.severity.cmp(&b.severity))
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            match &d.location {
                Location::File(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.col)?,
                Location::Flag(name) => write!(f, "{name}: ")?,
                Location::Env(name) => write!(f, "${name}: ")?,
                Location::Other(file, p) => write!(f, "{file}:{}:{}: ", p.line, p.col)?,
            }
            writeln!(f, "{sev}: {}", d.message)?;
            for note in &d.notes {
                writeln!(f, "    {note}")?;
            }
        }
        Ok(())
    }
}
