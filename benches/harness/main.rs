//! The benchmark harness: `cargo bench --bench harness` runs every figure of BENCHMARKS.md
//! beside its baseline and rewrites the page's generated part.
//!
//! Options (after `--`): `--quick` (small sizes, for a smoke run; the page is not written
//! unless `--out` says where), `--only GROUP[,GROUP]` (ingest, delivery, latency,
//! isolation, routing, console, api, check, soak), `--soak-minutes M` (default 10), `--console-events N` (default 1,000,000),
//! `--out FILE` (default BENCHMARKS.md in the project).

#[path = "suite.rs"]
mod suite;

use std::path::PathBuf;

/// The binary's allocator, so what runs in this process (the in-process ingest) allocates
/// as `herald` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Duration;

fn main() {
    let mut o = suite::Options::full();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--quick" => {
                o = suite::Options {
                    only: o.only,
                    ..suite::Options::quick()
                }
            }
            "--only" => o.only = value("--only").split(',').map(str::to_string).collect(),
            "--soak-minutes" => {
                let m: f64 = value("--soak-minutes").parse().expect("--soak-minutes M");
                o.soak = Duration::from_secs_f64(m * 60.0);
            }
            "--console-events" => {
                o.console_events = value("--console-events")
                    .parse()
                    .expect("--console-events N");
            }
            "--out" => out = Some(value("--out").into()),
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            other => {
                eprintln!(
                    "harness: unknown option {other:?}; see the top of benches/harness/main.rs"
                );
                std::process::exit(2);
            }
        }
    }
    for g in &o.only {
        if !suite::GROUPS.contains(&g.as_str()) {
            eprintln!(
                "harness: no group {g:?}; groups: {}",
                suite::GROUPS.join(", ")
            );
            std::process::exit(2);
        }
    }
    let out = out.or_else(|| {
        (!o.quick).then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"))
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(suite::run(&o));
    let mut command = String::from("cargo bench --bench harness");
    let passed: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if !passed.is_empty() {
        command = format!("{command} -- {}", passed.join(" "));
    }
    let generated = suite::render(&report, &command);
    println!("{generated}");
    if let Some(out) = out {
        let page = std::fs::read_to_string(&out).unwrap_or_default();
        std::fs::write(&out, suite::splice(&page, &generated)).expect("write BENCHMARKS.md");
        eprintln!("harness: wrote {}", out.display());
    }
    let missed = report.rows.iter().filter(|r| !r.met).count();
    eprintln!(
        "harness: {} figures, {} met, {missed} missed, {:.0} s",
        report.rows.len(),
        report.rows.len() - missed,
        report.took.as_secs_f64()
    );
}
