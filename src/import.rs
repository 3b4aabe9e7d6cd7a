//! Reading JSON Lines of calls for `callem import calls`: every line is validated before
//! anything is stored, and an invalid line is reported by number with the reason.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use anyhow::bail;
use chrono::NaiveDateTime;

use crate::db::models::Call;
use crate::domain::calls::CallRecord;
use crate::domain::ids;

/// A validated call and the line it came from.
pub struct ImportedCall {
    pub line: usize,
    pub call: Call,
}

/// Parses and validates the whole input. Blank lines are skipped.
pub fn read_calls(
    reader: impl BufRead,
    project_id: &str,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<ImportedCall>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => bail!("line {n}: cannot be read ({e}); nothing was imported"),
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => bail!("line {n}: not valid JSON ({e}); nothing was imported"),
        };
        let record = match CallRecord::from_json(&value) {
            Ok(r) => r,
            Err(e) => bail!("line {n}: {e}; nothing was imported"),
        };
        let id = record.id.clone().unwrap_or_else(ids::new_id);
        if !seen.insert(id.clone()) {
            bail!("line {n}: id '{id}' appears twice in the file; nothing was imported");
        }
        let created_at = record.created_at.unwrap_or(now);
        out.push(ImportedCall {
            line: n,
            call: Call {
                id,
                project_id: project_id.to_owned(),
                status: record.status,
                duration: record.duration,
                summary: record.summary,
                evaluation: record.evaluation,
                ended_reason: record.ended_reason,
                caller_number: record.caller_number,
                called_number: record.called_number,
                is_engaged: record.is_engaged,
                call_analysis: record.call_analysis,
                transcript: record.transcript,
                created_at,
                updated_at: record.updated_at.unwrap_or(created_at),
            },
        });
    }
    Ok(out)
}

/// Progress on stderr: a live counter on a terminal, a line every 10% otherwise.
pub struct Progress {
    total: usize,
    tty: bool,
    started: Instant,
    last_tenth: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_tenth: 0,
        }
    }

    pub fn update(&mut self, done: usize) {
        let total = self.total.max(1);
        let pct = done * 100 / total;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(
                err,
                "\rimporting calls: {done}/{} ({pct}%, {rate:.0}/s)",
                self.total
            );
            if done >= self.total {
                let _ = writeln!(err);
            }
        } else if pct / 10 > self.last_tenth || done >= self.total {
            self.last_tenth = pct / 10;
            let _ = writeln!(err, "importing calls: {done}/{} ({pct}%)", self.total);
        }
    }
}
