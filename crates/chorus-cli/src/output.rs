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

/// True for a character that moves the cursor, changes the terminal's
/// state or hides text: every control character (Unicode Cc, ESC and the
/// C1 codes included), the bidirectional controls and the invisible
/// format characters (zero-width spaces and joiners, the BOM). Text from
/// the network is printed only with these escaped, so that nothing it
/// holds can rewrite what a person reads before they sign.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

fn escape_into(out: &mut String, c: char) {
    out.push_str(&format!("\\u{{{:x}}}", c as u32));
}

/// `s` for one line of a terminal: every hidden character (line breaks
/// included) written as `\u{..}`.
pub fn safe_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hidden(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` for a terminal, keeping its line breaks and tabs: every other
/// hidden character (CR, ESC, bidirectional controls, ...) written as
/// `\u{..}`.
pub fn safe_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != '\n' && c != '\t' && is_hidden(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints a result in the chosen form; the human form with hidden
/// characters escaped ([`safe_text`]).
pub fn emit(out: &Output, json: bool) -> std::io::Result<()> {
    if json {
        let mut s = serde_json::to_string_pretty(&out.json).unwrap_or_else(|_| "null".into());
        s.push('\n');
        print_stdout(&s)
    } else if out.human.is_empty() {
        Ok(())
    } else {
        let mut s = safe_text(&out.human);
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

/// Goes on to sign when `yes` (`--yes`) or the answer to `question` is
/// yes; otherwise the error "not signed; nothing was sent", or
/// [`confirm`]'s refusal when stdin is not a terminal.
pub fn sign_or_stop(yes: bool, question: &str) -> anyhow::Result<()> {
    if !yes && !confirm(question).map_err(anyhow::Error::msg)? {
        anyhow::bail!("not signed; nothing was sent");
    }
    Ok(())
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
    fn hidden_characters_are_escaped() {
        let evil = "Oak\u{1b}[4A\u{1b}[2K\rtitle\u{202e}fake\u{200b}\u{9b}x";
        assert_eq!(safe_line(evil), "Oak\\u{1b}[4A\\u{1b}[2K\\u{d}title\\u{202e}fake\\u{200b}\\u{9b}x");
        assert_eq!(safe_line("a\nb\tc"), "a\\u{a}b\\u{9}c");
        assert_eq!(safe_text("a\nb\tc\u{1b}"), "a\nb\tc\\u{1b}");
        assert_eq!(safe_text("Café – ünïcode ✓"), "Café – ünïcode ✓");
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(time(951_782_400_000 + 3_600_000 * 13 + 60_000 * 5), "2000-02-29 13:05 UTC");
    }
}
