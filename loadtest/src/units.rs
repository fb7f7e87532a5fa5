//! Human durations in flags (`10s`, `250ms`, `1.5s`, `2m`) and in output.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("duration {0:?} has no unit: write e.g. 10s, 250ms, 2m")]
    NoUnit(String),
    #[error("duration {0:?}: unknown unit (use us, ms, s, m or h)")]
    BadUnit(String),
    #[error("duration {0:?}: not a non-negative number")]
    BadNumber(String),
    #[error("duration {0:?} is too long")]
    TooLong(String),
}

/// Parses `<number><unit>` with unit `us`, `ms`, `s`, `m` or `h`; the number may have a fraction.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| DurationError::NoUnit(text.to_owned()))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(DurationError::BadNumber(text.to_owned()));
    }
    let nanos_per_unit: f64 = match unit {
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return Err(DurationError::BadUnit(text.to_owned())),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::BadNumber(text.to_owned()))?;
    let nanos = (value * nanos_per_unit).round();
    if !nanos.is_finite() || nanos > 1e15 {
        return Err(DurationError::TooLong(text.to_owned()));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Short text for a duration, as [`parse_duration`] reads it back (`2s`, `250ms`, `1.5s`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) && nanos < 10_000_000_000 {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) && nanos < 10_000_000 {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_fractions() {
        // Proves every documented unit and fractional values parse to the exact duration.
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_text() {
        // Proves missing units, unknown units and non-numbers are refused with their own error.
        assert!(matches!(
            parse_duration("10"),
            Err(DurationError::NoUnit(_))
        ));
        assert!(matches!(
            parse_duration("10d"),
            Err(DurationError::BadUnit(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(DurationError::BadNumber(_))
        ));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
    }

    #[test]
    fn format_reads_back() {
        // Proves format_duration's output parses back to the same duration.
        for d in [
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_millis(250),
            Duration::from_micros(750),
            Duration::from_millis(1500),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }
}
