//! Printing results for people or as JSON, and the small formatting helpers
//! both share.

use std::io::{IsTerminal, Write};

/// One command's result: what a person reads and what `--json` prints.
pub struct Output {
    /// Machine-readable form.
    pub json: serde_json::Value,
    /// Human-readable form (may be empty).
    pub human: String,
}

impl Output {
    /// A result from any serializable value and its human rendering.
    pub fn new<T: serde::Serialize>(value: &T, human: impl Into<String>) -> Self {
        Output { json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null), human: human.into() }
    }
}

/// Writes `text` to stdout. A closed pipe (`chorus proposals | head`) is not
/// an error: the reader has what it wanted.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let r = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints a result in the chosen form.
pub fn emit(out: &Output, json: bool) -> std::io::Result<()> {
    if json {
        let mut s = serde_json::to_string_pretty(&out.json).unwrap_or_else(|_| "null".into());
        s.push('\n');
        print_stdout(&s)
    } else if out.human.is_empty() {
        Ok(())
    } else {
        let mut s = out.human.clone();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        print_stdout(&s)
    }
}

/// Asks a yes/no question on the terminal; anything but y/yes is no. Refuses
/// (returns an error message) when stdin is not a terminal, so a script
/// never signs by accident: it must pass `--yes`.
pub fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("refusing to sign without confirmation: stdin is not a terminal; pass --yes to sign".into());
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the answer: {e}"))?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// A UTC timestamp `YYYY-MM-DD HH:MM UTC` from milliseconds since 1970,
/// written as the website writes it.
pub fn time(ms: u64) -> String {
    chorus_web::date::human(ms)
}

/// Indents every line of `text` by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(time(951_782_400_000 + 3_600_000 * 13 + 60_000 * 5), "2000-02-29 13:05 UTC");
    }
}
