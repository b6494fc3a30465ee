//! Dates in China Standard Time, the calendar every decision date and validity rule refers to.

use chrono::{FixedOffset, NaiveDate, Utc};

/// UTC+08:00. China has no daylight saving time, so a fixed offset is exact.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("8 hours is a valid offset")
}

/// Today's date in China Standard Time.
pub fn today_cst() -> NaiveDate {
    Utc::now().with_timezone(&china_standard_time()).date_naive()
}
