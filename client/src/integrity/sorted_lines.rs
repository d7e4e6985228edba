//! The lines of an export in sequence order, in bounded memory: lines are
//! gathered up to a byte budget, sorted, and spilled as a run to an
//! anonymous temporary file; the runs are then merged. A file that fits in
//! the budget never touches the disk.
//!
//! Exports come newest first by `occurred_at` (a time the caller chose), not
//! in chain order, so the verifier cannot simply stream them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

/// How many bytes of lines are held in memory at once by default.
pub const DEFAULT_RUN_BYTES: usize = 64 << 20;

/// The buffer of each run file: one per run is held while merging.
const RUN_BUFFER: usize = 256 << 10;

/// A line, its sequence, and its number in the file (for error messages,
/// and so equal sequences keep their file order).
pub(crate) type Keyed = (i64, u64, String);

/// Gathers lines and hands them back in sequence order.
pub(crate) struct Sorter {
    budget: usize,
    buffer: Vec<Keyed>,
    buffered: usize,
    runs: Vec<File>,
}

impl Sorter {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, sequence: i64, number: u64, line: String) -> io::Result<()> {
        self.buffered += line.len() + std::mem::size_of::<Keyed>();
        self.buffer.push((sequence, number, line));
        if self.buffered >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffer, sorted, as a run: `sequence number line` per line.
    fn spill(&mut self) -> io::Result<()> {
        self.buffer
            .sort_unstable_by_key(|(sequence, number, _)| (*sequence, *number));
        let mut file = BufWriter::with_capacity(RUN_BUFFER, tempfile::tempfile()?);
        for (sequence, number, line) in self.buffer.drain(..) {
            writeln!(file, "{sequence} {number} {line}")?;
        }
        let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        self.buffered = 0;
        Ok(())
    }

    /// The lines in sequence order.
    pub fn finish(mut self) -> io::Result<SortedLines> {
        if self.runs.is_empty() {
            self.buffer
                .sort_unstable_by_key(|(sequence, number, _)| (*sequence, *number));
            return Ok(SortedLines::Memory(self.buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        let mut runs: Vec<BufReader<File>> = self
            .runs
            .into_iter()
            .map(|run| BufReader::with_capacity(RUN_BUFFER, run))
            .collect();
        let mut heads = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (index, run) in runs.iter_mut().enumerate() {
            let head = read_run_line(run)?;
            if let Some((sequence, number, _)) = &head {
                heap.push(Reverse((*sequence, *number, index)));
            }
            heads.push(head);
        }
        Ok(SortedLines::Merge { runs, heads, heap })
    }
}

/// Reads the next `sequence number line` of a run.
fn read_run_line(run: &mut BufReader<File>) -> io::Result<Option<Keyed>> {
    let mut text = String::new();
    if run.read_line(&mut text)? == 0 {
        return Ok(None);
    }
    let corrupt = || io::Error::other("a sorted run in a temporary file is corrupt");
    if text.ends_with('\n') {
        text.pop();
    }
    let mut parts = text.splitn(3, ' ');
    let sequence = parts.next().and_then(|part| part.parse().ok());
    let number = parts.next().and_then(|part| part.parse().ok());
    let prefix = text.len() - parts.next().map_or(0, str::len);
    let (Some(sequence), Some(number)) = (sequence, number) else {
        return Err(corrupt());
    };
    if prefix == text.len() && !text.ends_with(' ') {
        return Err(corrupt());
    }
    // The line in place: no second copy of it.
    text.drain(..prefix);
    Ok(Some((sequence, number, text)))
}

/// Lines in sequence order: from memory, or merged from sorted runs.
pub(crate) enum SortedLines {
    Memory(std::vec::IntoIter<Keyed>),
    Merge {
        runs: Vec<BufReader<File>>,
        heads: Vec<Option<Keyed>>,
        heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    },
}

impl Iterator for SortedLines {
    type Item = io::Result<Keyed>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SortedLines::Memory(lines) => lines.next().map(Ok),
            SortedLines::Merge { runs, heads, heap } => {
                let Reverse((_, _, index)) = heap.pop()?;
                let line = heads[index].take()?;
                match read_run_line(&mut runs[index]) {
                    Ok(next) => {
                        if let Some((sequence, number, _)) = &next {
                            heap.push(Reverse((*sequence, *number, index)));
                        }
                        heads[index] = next;
                        Some(Ok(line))
                    }
                    Err(error) => Some(Err(error)),
                }
            }
        }
    }
}
