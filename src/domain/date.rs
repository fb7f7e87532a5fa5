//! A civil calendar date (proleptic Gregorian), stored as days since 1970-01-01.
//!
//! Licence validity and permit issue dates are dates, not instants: a licence valid until
//! 2026-12-31 is valid for the whole of that day in Beijing. [`Date::today_in_beijing`] turns an
//! instant into the date that counts (China Standard Time, UTC+8, no daylight saving).

use std::fmt;

/// Seconds east of UTC for China Standard Time.
pub const BEIJING_UTC_OFFSET_SECONDS: i64 = 8 * 3600;

#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy))]
pub struct Date {
    days_since_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date {0:?} is not of the form YYYY-MM-DD")]
    Format(String),
    #[error("date {0:?} does not exist in the calendar")]
    OutOfRange(String),
}

impl Date {
    /// The date `year-month-day`, or `None` when that day does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(1900..=9999).contains(&year) {
            return None;
        }
        Some(Date {
            days_since_epoch: days_from_civil(year, month, day),
        })
    }

    pub const fn from_days_since_epoch(days: i32) -> Date {
        Date {
            days_since_epoch: days,
        }
    }

    pub const fn days_since_epoch(self) -> i32 {
        self.days_since_epoch
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.days_since_epoch)
    }

    pub fn add_days(self, days: i32) -> Date {
        Date {
            days_since_epoch: self.days_since_epoch + days,
        }
    }

    /// The date in Beijing at the instant `unix_seconds`.
    pub fn in_beijing(unix_seconds: i64) -> Date {
        let local = unix_seconds + BEIJING_UTC_OFFSET_SECONDS;
        Date {
            days_since_epoch: local.div_euclid(86_400) as i32,
        }
    }

    /// Today's date in Beijing, by the system clock.
    pub fn today_in_beijing() -> Date {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Date::in_beijing(now)
    }

    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`DateError::Format`] when the text is not ten characters of that shape,
    /// [`DateError::OutOfRange`] when the day does not exist (2023-02-29).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
            })
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError::Format(text.to_owned()));
        }
        let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
            return Err(DateError::Format(text.to_owned()));
        };
        Date::from_ymd(y as i32, m, d).ok_or_else(|| DateError::OutOfRange(text.to_owned()))
    }

    /// Writes `YYYY-MM-DD` into `out` without allocating.
    pub fn write_iso(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.ymd();
        let y = y.clamp(0, 9999) as u32;
        out.extend_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ]);
    }
}

impl ArchivedDate {
    pub fn to_date(&self) -> Date {
        Date {
            days_since_epoch: self.days_since_epoch.to_native(),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        Date::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days` (chrono-compatible algorithms).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        // Proves days_from_civil and civil_from_days are inverse over a full 400-year cycle.
        let start = Date::from_ymd(1900, 1, 1).unwrap().days_since_epoch();
        for days in start..start + 146_097 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn known_dates_match_the_calendar() {
        // Independent anchors: the Unix epoch, and 2000-03-01 = 11017 days (date -d).
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
        assert_eq!(
            Date::parse("2000-03-01").unwrap().days_since_epoch(),
            11_017
        );
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert!(matches!(
            Date::parse("2023-02-29"),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            Date::parse("2023-2-28"),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            Date::parse("2023-02-2x"),
            Err(DateError::Format(_))
        ));
    }

    #[test]
    fn beijing_midnight_is_sixteen_hours_utc() {
        // 2024-01-01T16:00:00Z is 2024-01-02 00:00 in Beijing; one second earlier is still the 1st.
        let t = 1_704_124_800; // 2024-01-01T16:00:00Z
        assert_eq!(Date::in_beijing(t).to_string(), "2024-01-02");
        assert_eq!(Date::in_beijing(t - 1).to_string(), "2024-01-01");
    }

    #[test]
    fn write_iso_matches_display() {
        // The allocation-free writer and Display agree.
        let d = Date::from_ymd(2031, 7, 9).unwrap();
        let mut out = Vec::new();
        d.write_iso(&mut out);
        assert_eq!(out, d.to_string().as_bytes());
    }
}
