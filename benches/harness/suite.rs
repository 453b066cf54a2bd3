//! The benchmark suite: every figure of BENCHMARKS.md, each measured beside its baseline in
//! the same run, and the page they are written to. The bench target `harness` runs it in
//! full; the integration tests run it with `quick` sizes to keep it from rotting.

#[path = "api.rs"]
mod api;
#[path = "check.rs"]
mod check;
#[path = "console.rs"]
mod console;
#[path = "delivery.rs"]
mod delivery;
#[path = "herald.rs"]
pub mod herald;
#[path = "ingest.rs"]
mod ingest;
#[path = "net.rs"]
pub mod net;
#[path = "replicas.rs"]
mod replicas;
#[path = "routing.rs"]
mod routing;
#[path = "soak.rs"]
mod soak;
#[path = "templates.rs"]
mod templates;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Options {
    /// Small sizes everywhere: proves every row runs, measures nothing worth publishing.
    pub quick: bool,
    /// Events in the journal for the console rows.
    pub console_events: u64,
    /// Length of the memory soak.
    pub soak: Duration,
    /// Only these groups (empty: all).
    pub only: Vec<String>,
}

impl Options {
    pub fn full() -> Self {
        Self {
            quick: false,
            console_events: 1_000_000,
            soak: Duration::from_secs(600),
            only: Vec::new(),
        }
    }

    pub fn quick() -> Self {
        Self {
            quick: true,
            console_events: 1_000,
            soak: Duration::from_secs(3),
            only: Vec::new(),
        }
    }

    /// Picks `full` or `quick` sizes.
    pub fn size(&self, full: u64, quick: u64) -> u64 {
        if self.quick { quick } else { full }
    }

    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == group)
    }
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub figure: String,
    /// The figure.
    pub measured: String,
    /// The baseline measured in the same run, with its value.
    pub baseline: String,
    /// measured / baseline, where that means something.
    pub ratio: String,
    /// The target.
    pub target: String,
    /// Whether the target is met.
    pub met: bool,
    /// Why a missed target is missed and what would close the gap.
    pub gap: &'static str,
}

/// Everything a run produced.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Extra tables (the soak's minutes), already in Markdown.
    pub details: Vec<(String, String)>,
    pub took: Duration,
}

/// Groups in the order they run; the console's journal fill is the slowest part but the
/// soak is the longest, so it runs last.
pub const GROUPS: [&str; 11] = [
    "ingest",
    "delivery",
    "latency",
    "isolation",
    "replicas",
    "routing",
    "console",
    "api",
    "check",
    "templates",
    "soak",
];

/// Runs the suite, printing each row as it is measured.
pub async fn run(o: &Options) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    for group in GROUPS {
        if !o.wants(group) {
            continue;
        }
        eprintln!("harness: {group} ...");
        let t = Instant::now();
        let rows = match group {
            "ingest" => ingest::rows(o).await,
            "delivery" => delivery::rows(o).await,
            "latency" => delivery::latency_rows(o).await,
            "isolation" => delivery::isolation_rows(o).await,
            "replicas" => replicas::rows(o).await,
            "routing" => routing::rows(o),
            "console" => console::rows(o).await,
            "api" => api::rows(o).await,
            "check" => check::rows(o),
            "templates" => templates::rows(o),
            _ => {
                let (rows, table) = soak::rows(o).await;
                report.details.push(("Memory over time".into(), table));
                rows
            }
        };
        for r in &rows {
            eprintln!(
                "  {} | {} | {} | {} | {} {}",
                r.figure,
                r.measured,
                r.baseline,
                r.ratio,
                r.target,
                if r.met { "met" } else { "MISSED" }
            );
        }
        eprintln!("harness: {group} took {:.1} s", t.elapsed().as_secs_f64());
        report.rows.extend(rows);
    }
    report.took = started.elapsed();
    report
}

/// `1234567.8` → `1,234,568`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i128;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of a few runs.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// What machine this is, for the page.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB, Linux {kernel}, {rustc}")
}

fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Marks the part of BENCHMARKS.md the harness owns; the rest of the page (the history
/// of what was fixed, before and after) is written by hand and kept.
pub const BEGIN: &str =
    "<!-- harness:begin (written by `cargo bench --bench harness`; edit outside) -->";
pub const END: &str = "<!-- harness:end -->";

/// The generated part of the page.
pub fn render(report: &Report, command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}");
    let _ = writeln!(
        s,
        "Command: `{command}` (took {:.0} s). Measured {} on {}. Everything runs on 127.0.0.1 on this one machine: the load generator, herald and the receivers share the cores.\n",
        report.took.as_secs_f64(),
        today(),
        machine()
    );
    let _ = writeln!(
        s,
        "| figure | measured | baseline (same run) | ratio | target | |\n|---|---|---|---|---|---|"
    );
    for r in &report.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.figure,
            r.measured,
            r.baseline,
            r.ratio,
            r.target,
            if r.met { "met" } else { "**missed**" }
        );
    }
    let missed: Vec<&Row> = report.rows.iter().filter(|r| !r.met).collect();
    if !missed.is_empty() {
        let _ = writeln!(s, "\nMissed targets, why, and what would close the gap:\n");
        for r in missed {
            let _ = writeln!(s, "- **{}**: {}", r.figure, r.gap);
        }
    }
    for (title, table) in &report.details {
        let _ = writeln!(s, "\n### {title}\n\n{table}");
    }
    let _ = writeln!(s, "{END}");
    s
}

/// Puts the generated part into the page: between the markers if they are there, else
/// after the page's first heading.
pub fn splice(page: &str, generated: &str) -> String {
    match (page.find(BEGIN), page.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{}{}",
                &page[..b],
                generated,
                &page[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("# herald benchmarks\n\n{generated}\n{page}"),
    }
}
