//! Dates and amounts in every spelling departments use (DOMAIN.md §9).

use chrono::{NaiveDate, TimeZone};

use crate::model::AmountWan;

/// Parses `2017-01-10`, `2017/01/10`, `2017.01.10`, `20170110`, `2017年1月10日`, epoch milliseconds
/// (China Standard Time), each optionally followed by a time of day.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let text = text.trim();
    let date_part = text.split([' ', 'T']).next().unwrap_or(text);
    if !date_part.is_empty() && date_part.bytes().all(|b| b.is_ascii_digit()) {
        return match date_part.len() {
            8 => ymd(&date_part[..4], &date_part[4..6], &date_part[6..8], text),
            12 | 13 => epoch_millis(date_part, text),
            _ => Err(format!("{text:?} is not a date")),
        };
    }
    if let Some(rest) = date_part.strip_suffix('日') {
        let (y, rest) = rest.split_once('年').ok_or_else(|| format!("{text:?} is not a date"))?;
        let (m, d) = rest.split_once('月').ok_or_else(|| format!("{text:?} is not a date"))?;
        return ymd(y, m, d, text);
    }
    let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
    match parts[..] {
        [y, m, d] => ymd(y, m, d, text),
        _ => Err(format!("{text:?} is not a date")),
    }
}

fn ymd(y: &str, m: &str, d: &str, text: &str) -> Result<NaiveDate, String> {
    let number = |s: &str| -> Result<u32, String> { s.trim().parse().map_err(|_| format!("{text:?} is not a date")) };
    let (y, m, d) = (number(y)?, number(m)?, number(d)?);
    if !(1900..=2100).contains(&y) {
        return Err(format!("{text:?}: year {y} is out of range"));
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| format!("{text:?} is not a calendar date"))
}

fn epoch_millis(digits: &str, text: &str) -> Result<NaiveDate, String> {
    let ms: i64 = digits.parse().map_err(|_| format!("{text:?} is not a date"))?;
    crate::time::china_standard_time()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
        .ok_or_else(|| format!("{text:?} is not a timestamp"))
}

/// An amount in 万元: plain decimals, with thousands separators or a trailing `万元` tolerated.
pub fn parse_amount(text: &str) -> Result<AmountWan, String> {
    let cleaned: String = text
        .trim()
        .trim_end_matches("万元")
        .trim_end_matches('万')
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .collect();
    AmountWan::parse(&cleaned).ok_or_else(|| format!("{text:?} is not an amount in 万元"))
}

/// Splits a list of values delivered in one cell: `警告；罚款`, `警告,罚款`, `警告、罚款`.
pub fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '；', ',', '，', '、', '|']).map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn every_spelling() {
        for text in [
            "2017-01-10",
            "2017/01/10",
            "2017.1.10",
            "20170110",
            "2017年1月10日",
            "2017-01-10 09:30:00",
            "1483977600000",
        ] {
            assert_eq!(parse_date(text), Ok(d(2017, 1, 10)), "{text}");
        }
    }

    #[test]
    fn impossible_and_garbage_dates_are_errors() {
        for text in ["2019-02-30", "2019-13-01", "20190230", "yesterday", "2019-02", "1850-01-01", "123"] {
            assert!(parse_date(text).is_err(), "{text}");
        }
        assert!(parse_date("2019-02-30").unwrap_err().contains("not a calendar date"));
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("2.58").unwrap().to_string(), "2.58");
        assert_eq!(parse_amount("1,200.5万元").unwrap().to_string(), "1200.5");
        assert!(parse_amount("two").is_err());
    }

    #[test]
    fn lists() {
        let items: Vec<&str> = split_list("警告；罚款、没收违法所得, 其他").collect();
        assert_eq!(items, ["警告", "罚款", "没收违法所得", "其他"]);
    }
}
