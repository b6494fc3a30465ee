//! Reading department files as rows of (column, value), whatever their format and encoding.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use encoding_rs::{Decoder, GB18030};

use super::ImportError;

/// One data row: its number in the file (the line or spreadsheet row, header = 1) and its cells.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub number: u64,
    pub columns: Arc<Vec<String>>,
    pub values: Vec<String>,
}

impl SourceRow {
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.columns.iter().map(String::as_str).zip(self.values.iter().map(String::as_str))
    }
}

/// A row that could not even be read (broken quoting, bad JSON): rejected with its number.
#[derive(Debug, Clone)]
pub struct UnreadableRow {
    pub number: u64,
    pub reason: String,
    pub raw: String,
}

pub type RowResult = Result<SourceRow, UnreadableRow>;

/// The detected text encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

/// Opens a department file by its extension: `.csv`/`.txt` (CSV), `.jsonl`/`.ndjson`/`.json` (JSON
/// Lines), `.xlsx` (first sheet).
pub fn open(path: &Path) -> Result<(Box<dyn Iterator<Item = RowResult>>, Encoding), ImportError> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_lowercase();
    let io_error = |source| ImportError::Io { path: path.display().to_string(), source };
    match extension.as_str() {
        "xlsx" | "xlsm" | "xls" => Ok((xlsx_rows(path)?, Encoding::Utf8)),
        "jsonl" | "ndjson" | "json" => {
            let (reader, encoding) = decoded_reader(File::open(path).map_err(io_error)?).map_err(io_error)?;
            Ok((Box::new(json_lines(reader)), encoding))
        }
        _ => {
            let (reader, encoding) = decoded_reader(File::open(path).map_err(io_error)?).map_err(io_error)?;
            Ok((csv_rows(reader, path)?, encoding))
        }
    }
}

/// Sniffs the encoding from the first 64 KiB: a UTF-8 BOM or valid UTF-8 means UTF-8, anything else is
/// taken as GB18030 and decoded as it streams.
pub fn decoded_reader(file: File) -> io::Result<(Box<dyn BufRead>, Encoding)> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(head);
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the end of the buffer is fine.
        Err(e) => e.error_len().is_none(),
    };
    if utf8 {
        return Ok((Box::new(reader), Encoding::Utf8));
    }
    Ok((
        Box::new(BufReader::new(DecodingReader {
            inner: reader,
            decoder: GB18030.new_decoder_without_bom_handling(),
            out: Vec::new(),
            pos: 0,
            done: false,
        })),
        Encoding::Gb18030,
    ))
}

/// Decodes another encoding to UTF-8 on the fly, so a large file never sits in memory whole.
struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: BufRead> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() && !self.done {
            let input = self.inner.fill_buf()?;
            let last = input.is_empty();
            let mut text = String::with_capacity(input.len() * 3 / 2 + 16);
            let needed = self.decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16);
            text.reserve(needed);
            let (_, read, _) = self.decoder.decode_to_string(input, &mut text, last);
            self.inner.consume(read);
            self.out = text.into_bytes();
            self.pos = 0;
            self.done = last;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn csv_rows(reader: Box<dyn BufRead>, path: &Path) -> Result<Box<dyn Iterator<Item = RowResult>>, ImportError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv
        .byte_headers()
        .map_err(|e| ImportError::Format { path: path.display().to_string(), reason: format!("header row: {e}") })?;
    let columns: Arc<Vec<String>> = Arc::new(
        headers.iter().map(|h| String::from_utf8_lossy(h).trim_start_matches('\u{FEFF}').trim().to_string()).collect(),
    );
    let mut number = 1u64;
    let rows = csv.into_byte_records().map(move |record| {
        number += 1;
        let record = record.map_err(|e| UnreadableRow {
            number,
            reason: format!("unreadable CSV row: {e}"),
            raw: String::new(),
        })?;
        let mut values = Vec::with_capacity(record.len());
        for field in record.iter() {
            match std::str::from_utf8(field) {
                Ok(s) => values.push(s.trim().to_string()),
                Err(_) => {
                    return Err(UnreadableRow {
                        number,
                        reason: "text is neither UTF-8 nor GB18030".to_string(),
                        raw: String::from_utf8_lossy(record.as_slice()).into_owned(),
                    });
                }
            }
        }
        Ok(SourceRow { number, columns: Arc::clone(&columns), values })
    });
    Ok(Box::new(rows))
}

fn json_lines(reader: Box<dyn BufRead>) -> impl Iterator<Item = RowResult> {
    reader.lines().enumerate().filter_map(|(i, line)| {
        let number = i as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                return Some(Err(UnreadableRow {
                    number,
                    reason: format!("unreadable line: {e}"),
                    raw: String::new(),
                }));
            }
        };
        let trimmed = line.trim().trim_start_matches('\u{FEFF}');
        if trimmed.is_empty() {
            return None;
        }
        let object: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(trimmed) {
            Ok(o) => o,
            Err(e) => {
                return Some(Err(UnreadableRow {
                    number,
                    reason: format!("not a JSON object: {e}"),
                    raw: line.clone(),
                }));
            }
        };
        let mut columns = Vec::with_capacity(object.len());
        let mut values = Vec::with_capacity(object.len());
        for (key, value) in object {
            let text = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            };
            columns.push(key);
            values.push(text);
        }
        Some(Ok(SourceRow { number, columns: Arc::new(columns), values }))
    })
}

fn xlsx_rows(path: &Path) -> Result<Box<dyn Iterator<Item = RowResult>>, ImportError> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let format_error = |reason: String| ImportError::Format { path: path.display().to_string(), reason };
    let mut workbook: Xlsx<_> = open_workbook(path).map_err(|e| format_error(format!("not a readable .xlsx: {e}")))?;
    let sheet =
        workbook.sheet_names().first().cloned().ok_or_else(|| format_error("the workbook has no sheet".to_string()))?;
    let range = workbook.worksheet_range(&sheet).map_err(|e| format_error(format!("sheet {sheet}: {e}")))?;
    let cell_text = |cell: &Data| -> String {
        match cell {
            Data::Empty => String::new(),
            Data::String(s) => s.trim().to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::DateTime(d) => {
                d.as_datetime().map(|t| t.date().format("%Y-%m-%d").to_string()).unwrap_or_else(|| d.to_string())
            }
            other => other.to_string(),
        }
    };
    let mut rows = range.rows();
    let columns: Arc<Vec<String>> =
        Arc::new(rows.next().map(|r| r.iter().map(cell_text).collect()).unwrap_or_default());
    let start = range.start().map(|(r, _)| u64::from(r)).unwrap_or(0);
    let data: Vec<RowResult> = rows
        .enumerate()
        .map(|(i, r)| {
            Ok(SourceRow {
                number: start + i as u64 + 2,
                columns: Arc::clone(&columns),
                values: r.iter().map(cell_text).collect(),
            })
        })
        .collect();
    Ok(Box::new(data.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rows(path: &Path) -> (Vec<SourceRow>, Encoding) {
        let (iter, encoding) = open(path).unwrap();
        (iter.map(|r| r.unwrap()).collect(), encoding)
    }

    #[test]
    fn utf8_with_bom_and_gb18030_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text = "CF_XDR_MC,CF_WSH\n深圳市腾跃智能科技有限公司,深南市监罚〔2023〕1号\n";
        let bom = dir.path().join("bom.csv");
        let mut f = File::create(&bom).unwrap();
        f.write_all(b"\xEF\xBB\xBF").unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let gb = dir.path().join("gb.csv");
        std::fs::write(&gb, GB18030.encode(text).0).unwrap();

        let (a, ea) = rows(&bom);
        let (b, eb) = rows(&gb);
        assert_eq!((ea, eb), (Encoding::Utf8, Encoding::Gb18030));
        assert_eq!(a[0].columns[0], "CF_XDR_MC", "BOM stripped from the first header");
        assert_eq!(a[0].values, b[0].values);
        assert_eq!(b[0].values[0], "深圳市腾跃智能科技有限公司");
        assert_eq!(b[0].number, 2);
    }

    #[test]
    fn large_gb18030_files_decode_across_buffer_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("A,B\n");
        for i in 0..20_000 {
            text.push_str(&format!("名称{i},深南市监罚〔2023〕{i}号\n"));
        }
        let path = dir.path().join("big.csv");
        std::fs::write(&path, GB18030.encode(&text).0).unwrap();
        let (all, encoding) = rows(&path);
        assert_eq!(encoding, Encoding::Gb18030);
        assert_eq!(all.len(), 20_000);
        assert_eq!(all[19_999].values[1], "深南市监罚〔2023〕19999号");
    }

    #[test]
    fn json_lines_and_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "{\"XK_WSH\":\"a\",\"N\":3}\n\nnot json\n{\"XK_WSH\":null}\n").unwrap();
        let (iter, _) = open(&path).unwrap();
        let all: Vec<RowResult> = iter.collect();
        assert_eq!(all.len(), 3);
        let first = all[0].as_ref().unwrap();
        assert_eq!(first.pairs().collect::<Vec<_>>(), vec![("N", "3"), ("XK_WSH", "a")]);
        let bad = all[1].as_ref().unwrap_err();
        assert_eq!(bad.number, 3);
        assert!(bad.reason.starts_with("not a JSON object"));
    }

    #[test]
    fn xlsx_first_sheet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "XK_WSH").unwrap();
        sheet.write_string(0, 1, "XK_JDRQ").unwrap();
        sheet.write_string(1, 0, "许〔2024〕1号").unwrap();
        sheet.write_number(1, 1, 20240105.0).unwrap();
        book.save(&path).unwrap();
        let (all, _) = rows(&path);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].number, 2);
        assert_eq!(all[0].values, vec!["许〔2024〕1号", "20240105"]);
    }
}
