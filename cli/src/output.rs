//! Tables and colours for people; JSON for scripts.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use serde_json::Value;

/// A terminal colour (ANSI SGR code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
    Dim,
    Bold,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Self::Red => "31",
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Magenta => "35",
            Self::Cyan => "36",
            Self::Dim => "2",
            Self::Bold => "1",
        }
    }
}

/// How to print: JSON or text, coloured or not.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub json: bool,
    pub colour: bool,
}

impl Style {
    /// Colour only for a terminal, and never with `--no-color` or `NO_COLOR`.
    pub fn detect(json: bool, no_colour: bool) -> Self {
        let colour = !json
            && !no_colour
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        Self { json, colour }
    }

    pub fn paint(&self, text: &str, c: Option<Colour>) -> String {
        match c {
            Some(c) if self.colour => format!("\x1b[{}m{text}\x1b[0m", c.code()),
            _ => text.to_owned(),
        }
    }
}

/// The colour of a vulnerability severity.
pub fn severity_colour(s: &str) -> Option<Colour> {
    match s.to_ascii_lowercase().as_str() {
        "critical" => Some(Colour::Magenta),
        "high" => Some(Colour::Red),
        "medium" => Some(Colour::Yellow),
        "low" => Some(Colour::Cyan),
        "negligible" | "unknown" => Some(Colour::Dim),
        _ => None,
    }
}

/// The colour of a status word: analysis states, verdicts, gate actions, up/down.
pub fn status_colour(s: &str) -> Option<Colour> {
    match s.to_ascii_lowercase().as_str() {
        "pass" | "go" | "analyzed" | "up" | "true" | "success" | "active" => Some(Colour::Green),
        "fail" | "stop" | "analysis_failed" | "down" | "failure" | "error" => Some(Colour::Red),
        "warn" | "analyzing" | "not_analyzed" | "pending" => Some(Colour::Yellow),
        _ => None,
    }
}

/// A cell: text and an optional colour.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    colour: Option<Colour>,
}

impl<T: Into<String>> From<T> for Cell {
    fn from(t: T) -> Self {
        Self {
            text: t.into(),
            colour: None,
        }
    }
}

impl Cell {
    pub fn coloured(text: impl Into<String>, colour: Option<Colour>) -> Self {
        Self {
            text: text.into(),
            colour,
        }
    }
}

/// A plain text table: a bold header, left-aligned columns padded to their widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, style: &Style) -> String {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.text.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: Vec<(String, Option<Colour>)>| {
            let last = cells.len().saturating_sub(1);
            for (i, (text, colour)) in cells.into_iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    width[i] - text.chars().count() + 2
                };
                let _ = write!(out, "{}{}", style.paint(&text, colour), " ".repeat(pad));
            }
            out.push('\n');
        };
        line(
            &mut out,
            self.header
                .iter()
                .map(|h| (h.clone(), Some(Colour::Bold)))
                .collect(),
        );
        for r in &self.rows {
            line(
                &mut out,
                (0..cols)
                    .map(|i| {
                        r.get(i)
                            .map_or((String::new(), None), |c| (c.text.clone(), c.colour))
                    })
                    .collect(),
            );
        }
        out
    }
}

/// `key: value` lines, keys padded.
pub fn fields(style: &Style, pairs: &[(&str, Cell)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(
            out,
            "{}{} {}",
            style.paint(&format!("{k}:"), Some(Colour::Bold)),
            " ".repeat(w - k.len()),
            style.paint(&v.text, v.colour)
        );
    }
    out
}

/// A JSON value as one display string ("" for null; strings unquoted).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints a typed value as indented JSON, streamed to stdout.
pub fn print_serialized(v: &impl serde::Serialize) -> Result<(), serde_json::Error> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    // As `outln!`: a closed stdout (`| head`) is not an error.
    let _ = writeln!(out).and_then(|()| out.flush());
    Ok(())
}

pub fn print_json(v: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_and_colour_only_when_asked() {
        let mut t = Table::new(&["A", "BB"]);
        t.row(vec![
            "long cell".into(),
            Cell::coloured("High", severity_colour("High")),
        ]);
        let plain = t.render(&Style {
            json: false,
            colour: false,
        });
        assert_eq!(plain, "A          BB\nlong cell  High\n");
        let coloured = t.render(&Style {
            json: false,
            colour: true,
        });
        assert!(coloured.contains("\x1b[31mHigh\x1b[0m"), "{coloured:?}");
        assert!(coloured.contains("\x1b[1mA\x1b[0m"), "{coloured:?}");
    }
}
