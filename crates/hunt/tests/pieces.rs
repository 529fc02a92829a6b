//! A large log read in pieces by several threads gives exactly what one thread reading it whole
//! gives: the same sightings on the same lines, the same counts. So does a compressed log,
//! whose lines are handed out in blocks.

use std::io::Write;

use ward_hunt::hunt::Input;
use ward_hunt::{Hunter, IndicatorSet, RuleSet};

#[test]
fn pieces_and_whole_agree_line_for_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut n = 0u64;
    let mut expected_hits = Vec::new();
    let mut written = 0u64;
    // ~40 MB: more than two pieces' minimum, so three threads cut it in three.
    while written < 40 << 20 {
        n += 1;
        // Lines of varying length, so piece boundaries fall inside lines.
        let ip = if n.is_multiple_of(9973) {
            expected_hits.push(n);
            "203.0.113.66".to_owned()
        } else {
            format!("10.{}.{}.{}", n % 200, (n / 200) % 250, n % 250 + 1)
        };
        let pad = "x".repeat((n % 97) as usize);
        let line = if n.is_multiple_of(50_000) {
            "this line is not an access log line\n".to_owned()
        } else {
            format!(
                "{ip} - - [15/May/2025:10:00:00 +0000] \"GET /p/{pad}?n={n} HTTP/1.1\" 200 {n} \"-\" \"agent/{n}\"\n"
            )
        };
        written += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    drop(out);

    let rules = RuleSet::new();
    let mut indicators = IndicatorSet::new();
    indicators.add_list("ips.txt", "203.0.113.66\n", false);
    indicators.finish();
    let run = |threads| {
        Hunter {
            rules: &rules,
            indicators: &indicators,
            format: None,
            threads,
            now: chrono::Utc::now(),
        }
        .run(&[Input::Path(path.clone())], &|_| {})
    };
    let whole = run(1);
    let pieces = run(3);
    // The same lines in memory (what `ward hunt --follow` hands over) are cut the same way.
    let memory = Hunter {
        rules: &rules,
        indicators: &indicators,
        format: None,
        threads: 3,
        now: chrono::Utc::now(),
    }
    .run(
        &[Input::Memory {
            name: "big.log".into(),
            bytes: std::sync::Arc::new(std::fs::read(&path).unwrap()),
        }],
        &|_| {},
    );
    let lines = |r: &ward_hunt::Report| r.sightings.iter().map(|s| s.line).collect::<Vec<_>>();
    assert_eq!(lines(&whole), expected_hits);
    assert_eq!(lines(&pieces), expected_hits);
    assert_eq!(lines(&memory), expected_hits);
    assert_eq!(memory.files.len(), 1, "one file, read in pieces");
    assert_eq!(memory.files[0].lines, n);
    assert_eq!(memory.files[0].bytes, written);
    assert_eq!(whole.files.len(), 1);
    assert_eq!(pieces.files.len(), 1);
    assert_eq!(pieces.files[0].lines, n);
    assert_eq!(whole.files[0].lines, n);
    assert_eq!(pieces.files[0].bytes, written);
    assert_eq!(pieces.files[0].unreadable, n / 50_000);
    assert_eq!(
        pieces.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
        whole.problems.iter().map(|p| p.line).collect::<Vec<_>>()
    );
    assert_eq!(whole.problems[0].line, 50_000);

    // Compressed, the log cannot be cut: one thread reads it and every thread hunts through
    // blocks of its lines. The same again.
    let gz_path = dir.path().join("big.log.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&path).unwrap(), &mut gz).unwrap();
    gz.finish().unwrap();
    for threads in [1, 3] {
        let report = Hunter {
            rules: &rules,
            indicators: &indicators,
            format: None,
            threads,
            now: chrono::Utc::now(),
        }
        .run(&[Input::Path(gz_path.clone())], &|_| {});
        assert_eq!(lines(&report), expected_hits, "{threads} threads");
        assert_eq!(report.files.len(), 1);
        assert_eq!(report.files[0].lines, n);
        assert_eq!(report.files[0].bytes, written);
        assert_eq!(report.files[0].unreadable, n / 50_000);
        assert_eq!(
            report.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            whole.problems.iter().map(|p| p.line).collect::<Vec<_>>()
        );
    }
}
