//! The benchmark harness at `--quick` sizes: every group runs against the real binary and
//! loopback peers and yields a figure, and the page is spliced without touching the
//! hand-written part. The figures of a debug build mean nothing; that they exist does.

// Options::full, GROUPS and the page path are for the bench target.
#[allow(dead_code)]
#[path = "../../benches/harness/suite.rs"]
mod suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_run_measures_every_row_and_writes_the_page() {
    let report = suite::run(&suite::Options::quick()).await;
    let figures: Vec<&str> = report.rows.iter().map(|r| r.figure.as_str()).collect();
    for wanted in [
        "durable ingest",
        "end-to-end",
        "fan-out",
        "latency",
        "isolation",
        "routing",
        "console: frame render",
        "console: resident memory",
        "start-up to first frame",
        "operator API: first page",
        "live stream to 3 attached consoles",
        "herald check",
        "memory:",
    ] {
        assert!(
            figures.iter().any(|f| f.contains(wanted)),
            "no {wanted:?} row in {figures:#?}"
        );
    }
    for r in &report.rows {
        assert!(
            r.measured.chars().any(|c| c.is_ascii_digit())
                && !r.measured.contains("NaN")
                && !r.measured.contains("inf"),
            "{}: measured {:?}",
            r.figure,
            r.measured
        );
        assert!(!r.baseline.is_empty() && !r.target.is_empty(), "{r:?}");
    }
    let memory = report
        .rows
        .iter()
        .find(|r| r.figure.starts_with("memory:"))
        .expect("memory row");
    assert!(memory.figure.contains(", 0 lost)"), "{}", memory.figure);

    let generated = suite::render(&report, "cargo bench --bench harness -- --quick");
    let page = format!(
        "# herald benchmarks\n\nintro by hand\n\n{}\nold figures\n{}\n\n## History\n\nkept by hand\n",
        suite::BEGIN,
        suite::END
    );
    let spliced = suite::splice(&page, &generated);
    assert!(spliced.contains("intro by hand") && spliced.contains("kept by hand"));
    assert!(!spliced.contains("old figures"));
    assert_eq!(spliced.matches(suite::BEGIN).count(), 1);
    for r in &report.rows {
        assert!(
            spliced.contains(&r.measured),
            "{} is on the page",
            r.measured
        );
    }
}
