//! The live progress display of `image add --wait` / `image wait`: one line redrawn in
//! place on a terminal, one line per change otherwise (CI logs). Always on stderr, so
//! stdout stays clean for `--json`.

use std::io::{IsTerminal as _, Write as _};
use std::time::Instant;

use serde_json::Value;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

pub struct Progress {
    tty: bool,
    start: Instant,
    last: String,
    tick: usize,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: String::new(),
            tick: 0,
        }
    }

    /// Shows `line` (redrawn on a terminal; printed once per change otherwise).
    pub fn show(&mut self, line: &str) {
        let secs = self.start.elapsed().as_secs_f32();
        let mut err = std::io::stderr().lock();
        if self.tty {
            self.tick += 1;
            let _ = write!(
                err,
                "\r\x1b[2K{} {line} \x1b[2m{secs:.1}s\x1b[0m",
                SPINNER[self.tick % SPINNER.len()]
            );
            let _ = err.flush();
        } else if line != self.last {
            let _ = writeln!(err, "[{secs:6.1}s] {line}");
        }
        self.last = line.to_owned();
    }

    /// Ends the display with a final line.
    pub fn done(&mut self, line: &str) {
        let secs = self.start.elapsed().as_secs_f32();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\r\x1b[2K✔ {line} \x1b[2m{secs:.1}s\x1b[0m");
        } else {
            let _ = writeln!(err, "[{secs:6.1}s] {line}");
        }
    }

    /// Clears a redrawn line (before an error is printed).
    pub fn clear(&mut self) {
        if self.tty && !self.last.is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// Bytes for people: 1.5 MB, 812 kB, 12 B.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The line for an image record: its analysis status, and while analysing the staging
/// progress the API reports (`customs_progress`: `layers_staged`/`layers_total`,
/// `layers_reused`, `bytes_staged`/`bytes_total`).
pub fn describe(rec: &Value) -> String {
    let status = rec
        .get("analysis_status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let mut line = match status {
        "not_analyzed" => "queued for analysis".to_owned(),
        "analyzing" => "analysing".to_owned(),
        "analyzed" => "analysed".to_owned(),
        other => other.to_owned(),
    };
    let Some(p) = rec.get("customs_progress").filter(|p| p.is_object()) else {
        return line;
    };
    if status != "analyzing" {
        return line;
    }
    let num = |k: &str| p.get(k).and_then(Value::as_u64);
    if let (Some(d), Some(t)) = (num("layers_staged"), num("layers_total")) {
        if d < t {
            line = format!("{line}: fetching layers {d}/{t}");
        } else {
            line = format!("{line}: {t}/{t} layers staged, cataloguing");
        }
        if let Some(r) = num("layers_reused").filter(|r| *r > 0) {
            line = format!("{line} ({r} reused)");
        }
    }
    match (num("bytes_staged"), num("bytes_total")) {
        (Some(d), Some(t)) if t > 0 => {
            line = format!(
                "{line}, {} / {} ({}%)",
                bytes(d),
                bytes(t),
                d.min(t) * 100 / t
            );
        }
        (Some(d), _) => line = format!("{line}, {}", bytes(d)),
        _ => {}
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_status_and_progress() {
        assert_eq!(
            describe(&json!({"analysis_status": "not_analyzed"})),
            "queued for analysis"
        );
        let rec = json!({"analysis_status": "analyzing", "customs_progress": {"layers_total": 5, "layers_staged": 2, "layers_reused": 1, "bytes_total": 3_000_000, "bytes_staged": 1_500_000}});
        assert_eq!(
            describe(&rec),
            "analysing: fetching layers 2/5 (1 reused), 1.5 MB / 3.0 MB (50%)"
        );
        let rec = json!({"analysis_status": "analyzing", "customs_progress": {"layers_total": 3, "layers_staged": 3, "layers_reused": 0, "bytes_total": 1000, "bytes_staged": 1000}});
        assert_eq!(
            describe(&rec),
            "analysing: 3/3 layers staged, cataloguing, 1.0 kB / 1.0 kB (100%)"
        );
        assert_eq!(
            describe(&json!({"analysis_status": "analyzing"})),
            "analysing"
        );
    }

    #[test]
    fn bytes_are_readable() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(812_000), "812.0 kB");
    }
}
