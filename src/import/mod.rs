//! Reading JSON Lines of calls for `callem import calls`: every line is validated before
//! anything is stored, and an invalid line is reported by number with the reason.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Read};

pub mod line;

use anyhow::bail;
use chrono::NaiveDateTime;
use serde::de::IgnoredAny;

use crate::db::models::Call;
use crate::domain::ids::ProjectId;

/// A validated call and the line it came from.
#[derive(Debug)]
pub struct ImportedCall {
    pub line: usize,
    pub call: Call,
}

/// The longest line accepted: 1 MiB, a call's limit wherever it comes from (the API's request
/// bodies are held to the same, `api::MAX_BODY_BYTES` is this).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Parses and validates the whole input. Blank lines are skipped. A line is read into memory
/// only up to [`MAX_LINE_BYTES`] (and its line break): a longer one is refused, not buffered.
pub fn read_calls(
    mut reader: impl BufRead,
    project_id: &ProjectId,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<ImportedCall>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        // Room for the line and its "\r\n": one byte more is a line over the limit.
        let bound = (MAX_LINE_BYTES + 2) as u64;
        match Read::take(&mut reader, bound).read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => bail!("line {n}: cannot be read ({e}); nothing was imported"),
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if buf.len() > MAX_LINE_BYTES {
            bail!(
                "line {n}: longer than 1 MiB ({MAX_LINE_BYTES} bytes), the limit for one call; nothing was imported"
            );
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            bail!("line {n}: cannot be read (not valid UTF-8); nothing was imported");
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = serde_json::from_str::<IgnoredAny>(line) {
            bail!("line {n}: not valid JSON ({e}); nothing was imported");
        }
        let record = match line::parse(line) {
            Ok(r) => r,
            Err(e) => bail!("line {n}: {e}; nothing was imported"),
        };
        let call = Call::from_record(record, project_id, now);
        if !seen.insert(call.id.clone()) {
            let id = &call.id;
            bail!("line {n}: id '{id}' appears twice in the file; nothing was imported");
        }
        out.push(ImportedCall { line: n, call });
    }
    Ok(out)
}

/// Progress on stderr: a live bar (count, rate, time left) on a terminal; a plain line every
/// 10% otherwise, so a log or a script sees steady, parseable progress.
pub struct Progress {
    what: &'static str,
    total: usize,
    bar: Option<ProgressBar>,
    last_tenth: usize,
}

impl Progress {
    /// Progress of `what` (e.g. "importing calls") towards `total`.
    pub fn new(what: &'static str, total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let template = format!(
                "{what} {{bar:30}} {{pos}}/{{len}} ({{percent}}%, {{per_sec}}, {{eta}} left)"
            );
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            what,
            total,
            bar,
            last_tenth: 0,
        }
    }

    pub fn update(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            if done >= self.total {
                bar.finish();
            }
            return;
        }
        let pct = done * 100 / self.total.max(1);
        if pct / 10 > self.last_tenth || done >= self.total {
            self.last_tenth = pct / 10;
            eprintln!("{}: {done}/{} ({pct}%)", self.what, self.total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> NaiveDateTime {
        crate::time::now()
    }

    fn p() -> ProjectId {
        ProjectId::parse("p1").unwrap()
    }

    /// A valid call line of exactly `len` bytes (its summary pads it).
    fn call_line_of(len: usize) -> String {
        let empty = r#"{"status":"live","duration":1,"summary":""}"#;
        let pad = "s".repeat(len - empty.len());
        format!(r#"{{"status":"live","duration":1,"summary":"{pad}"}}"#)
    }

    #[test]
    fn a_line_over_one_mebibyte_is_refused_by_its_number() {
        let input = format!(
            "{}\n{}\n",
            call_line_of(60),
            call_line_of(MAX_LINE_BYTES + 1)
        );
        let e = read_calls(input.as_bytes(), &p(), now()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: longer than 1 MiB (1048576 bytes), the limit for one call; nothing was imported"
        );
        // With \r\n line breaks, and as the last line without one.
        let crlf = format!("{}\r\n", call_line_of(MAX_LINE_BYTES + 1));
        assert!(read_calls(crlf.as_bytes(), &p(), now())
            .unwrap_err()
            .to_string()
            .starts_with("line 1: longer than 1 MiB"));
        let last = format!("\n{}", call_line_of(MAX_LINE_BYTES + 1));
        assert!(read_calls(last.as_bytes(), &p(), now())
            .unwrap_err()
            .to_string()
            .starts_with("line 2: longer than 1 MiB"));
    }

    #[test]
    fn a_line_of_exactly_one_mebibyte_is_accepted() {
        for newline in ["\n", "\r\n", ""] {
            let input = format!("{}{newline}", call_line_of(MAX_LINE_BYTES));
            let calls = read_calls(input.as_bytes(), &p(), now()).unwrap();
            assert_eq!(calls.len(), 1, "{newline:?}");
            assert_eq!(calls[0].line, 1);
        }
    }

    #[test]
    fn an_endless_line_is_refused_without_being_read_whole() {
        // An unbounded reader would exhaust memory here; the bounded one stops at 1 MiB.
        let endless = std::io::BufReader::new(std::io::repeat(b'x'));
        let e = read_calls(endless, &p(), now()).unwrap_err();
        assert!(
            e.to_string().starts_with("line 1: longer than 1 MiB"),
            "{e}"
        );
    }

    #[test]
    fn lines_are_numbered_across_blank_lines_and_bad_bytes_are_named() {
        let input = format!("{}\n\n\r\n{}\n", call_line_of(60), call_line_of(70));
        let calls = read_calls(input.as_bytes(), &p(), now()).unwrap();
        assert_eq!(calls.iter().map(|c| c.line).collect::<Vec<_>>(), [1, 4]);
        let e = read_calls(&b"\n\xff\xfe\n"[..], &p(), now()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: cannot be read (not valid UTF-8); nothing was imported"
        );
        let e = read_calls(
            &br#"{"status":"live","duration":1,"summary":"a\u0000"}"#[..],
            &p(),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: summary must not contain NUL characters; nothing was imported"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_bytes_make_the_reader_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_calls(&input[..], &p(), now());
        }

        #[test]
        fn no_text_makes_the_reader_panic(input in any::<String>()) {
            let _ = read_calls(input.as_bytes(), &p(), now());
        }

        #[test]
        fn an_accepted_file_keeps_its_lines_and_ids(ids in proptest::collection::hash_set("[A-Za-z0-9_-]{1,64}", 0..8)) {
            let input: String = ids
                .iter()
                .map(|id| format!("{{\"id\":\"{id}\",\"status\":\"completed\",\"duration\":2}}\n"))
                .collect();
            let calls = read_calls(input.as_bytes(), &p(), now()).unwrap();
            prop_assert_eq!(calls.len(), ids.len());
            for (i, c) in calls.iter().enumerate() {
                prop_assert_eq!(c.line, i + 1);
                prop_assert!(ids.iter().any(|id| id == c.call.id.as_str()));
                prop_assert_eq!(c.call.project_id.as_str(), "p1");
            }
        }
    }
}
